"""The IRC gateway: IRC clients in the same rooms and mailboxes as menu users.

Lines come from the shared line connection (L{menuchat.net.connection}),
are parsed with C{twisted.words.protocols.irc.parsemsg} and handled by an
L{menuchat.frontends.irc.session.IRCSession}, which is a hub member like
the menu's session: room C{lobby} is channel C{#lobby}, a private message
goes through the recipient's mailbox.
"""
