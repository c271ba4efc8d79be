"""PRIVMSG and NOTICE, mail, and the small look-ups (USERHOST, ISON).

To a channel, a message is a line said in the room. To a nick, it is
mail: it goes to the recipient through the hub, whoever and wherever the
recipient is (a menu user reads it with option 3 from its mailbox, a
registered user offline finds it at the next login). An IRC recipient
reads its mail as it comes: the hub hands a message to it at once (a
L{menuchat.core.events.MailReader}), shown as a PRIVMSG (or a NOTICE, if
sent as one) and never kept; what waited in its mailbox (at login) is taken
from there, so that it counts as read. NOTICE is answered with no error, as IRC has it.
"""

from __future__ import annotations

from twisted.internet.defer import Deferred
from twisted.python.failure import Failure

from menuchat.core import errors
from menuchat.core.answers import settle
from menuchat.core.events import Message
from menuchat.frontends.failures import log_failure
from menuchat.frontends.irc import numerics as n
from menuchat.frontends.irc.base import State
from menuchat.frontends.irc.channels import Channels
from menuchat.frontends.irc.wire import (
    from_irc,
    irc_nick,
    is_channel,
    line,
    mask,
    to_irc,
)
from menuchat.frontends.menu.base import format_time

__all__ = ["Messages"]

#: Mail older than this many seconds when delivered shows when it was sent.
STALE = 60.0


class Messages(Channels):
    """Messages to channels and nicks, and the delivery of mail."""

    def irc_PRIVMSG(self, params: list[str]) -> Deferred[None] | None:
        return self._message("PRIVMSG", params)

    def irc_NOTICE(self, params: list[str]) -> Deferred[None] | None:
        return self._message("NOTICE", params)

    def _message(self, command: str, params: list[str]) -> Deferred[None] | None:
        loud = command == "PRIVMSG"
        if not params or not params[0]:
            if loud:
                self.numeric(n.ERR_NORECIPIENT, n.NO_RECIPIENT.format(command=command))
            return None
        if len(params) < 2 or not params[1]:
            if loud:
                self.numeric(n.ERR_NOTEXTTOSEND, n.NO_TEXT)
            return None
        target = params[0].split(",")[0]
        text = from_irc(params[1])
        if text is None:  # a CTCP request: menuchat has none to answer
            return None
        if not text:
            if loud:
                self.numeric(n.ERR_NOTEXTTOSEND, n.NO_TEXT)
            return None
        if is_channel(target):
            self._say(target, text, loud)
            return None
        return self._mail(command, target, text, loud)

    def _say(self, channel: str, text: str, loud: bool) -> None:
        room = self._room_named(channel)
        if room is None:
            if loud:
                self.numeric(n.ERR_NOSUCHCHANNEL, channel, n.NO_SUCH_CHANNEL)
            return
        if self._user.room is not room:
            if loud:
                self.numeric(n.ERR_CANNOTSENDTOCHAN, channel, n.CANNOT_SEND)
            return
        try:
            self._hub.say(self._user, text)
        except errors.Muted:
            if loud:
                self.numeric(n.ERR_CANNOTSENDTOCHAN, channel, n.CANNOT_SEND_MUTED)

    def _mail(
        self, command: str, target: str, text: str, loud: bool
    ) -> Deferred[None] | None:
        # A nick as IRC shows it may stand for a menu name IRC cannot hold;
        # anyone else, online or not, the hub finds by id or name.
        online = self.find_online(target)
        notice = not loud
        if online is not None:
            sending = self._hub.send_message(self._user, online.id, text, notice)
        else:
            sending = self._hub.send_to(self._user, target, text, notice)

        def sent(message: Message) -> None:
            if "echo-message" in self.caps:
                nick = irc_nick(message.recipient_name)
                self.send(self.source(self._user), command, nick, to_irc(text))
            if loud and self._hub.user(message.recipient_id) is None:
                nick = irc_nick(message.recipient_name)
                self.numeric(n.RPL_AWAY, nick, n.OFFLINE)

        def refused(error: errors.ChatError) -> None:
            if not loud:
                return
            if isinstance(error, errors.UnknownUser):
                self.numeric(n.ERR_NOSUCHNICK, target, n.NO_SUCH_NICK)
            elif isinstance(error, errors.MailboxFull):
                self.fail(command, "MAILBOX_FULL", n.MAILBOX_FULL.format(nick=target))
            elif isinstance(error, errors.EmptyMessage):
                self.numeric(n.ERR_NOTEXTTOSEND, n.NO_TEXT)
            else:
                raise error

        return self._answer(sending, sent, refused, command)

    # Mail in

    @property
    def reads_mail_at_once(self) -> bool:
        """Whether mail handed over now is shown now and in order: the
        session is registered, and no take of its mailbox is under way (the
        mail taken comes first; meanwhile new mail goes to the mailbox)."""
        return self.state is State.REGISTERED and not self._draining

    def message_received(self, message: Message) -> None:
        """Mail handed over by the hub, never kept: shown at once."""
        if self.state is not State.CLOSED:
            # Someone waits for this: it leaves now (L{_show_mail}).
            self._output.write_now(self._render_mail(message, self.me))

    def _drain(self) -> Deferred[None] | None:
        """Take what is in the mailbox and show it as PRIVMSGs, oldest first.

        One take at a time: mail that comes while one is under way is
        taken by another right after it. A store that has answered already
        (the memory store) costs no callbacks.
        """
        if self._draining:
            self._drain_again = True
            return None
        self._draining = True
        taking = self._hub.read_messages(self._user)
        pending = settle(taking, self._show_mail, self._take_failed)
        if pending is None:
            self._drained()
            return None
        pending.addCallback(lambda _: self._drained())
        return pending

    def _take_failed(self, reason: Failure) -> None:
        log_failure(self.log, "Taking mail failed", reason)

    def _drained(self) -> None:
        self._draining = False
        if self._drain_again and self.state is State.REGISTERED:
            self._drain_again = False
            self._drain()

    def _show_mail(self, messages: list[Message]) -> None:
        if not messages or self.state is State.CLOSED:
            return
        me = self.me
        shown = [self._render_mail(message, me) for message in messages]
        # Someone waits for this: it leaves now, not with the turn's output,
        # which waits for every other read of the turn.
        self._output.write_now(b"".join(shown))

    def _render_mail(self, message: Message, me: str) -> bytes:
        """A message as the PRIVMSG (a NOTICE, if sent as one) that shows it
        to C{me}; mail older than L{STALE} says when it was sent."""
        text = to_irc(message.text)
        if self._clock.seconds() - message.sent_at > STALE:
            when = format_time(message.sent_at)
            text = n.MAIL_FROM_BEFORE.format(time=when, text=message.text)
        source = mask(message.sender_name, message.sender_id, self.gateway.server)
        return line(source, "NOTICE" if message.notice else "PRIVMSG", me, text)

    # Look-ups

    def irc_USERHOST(self, params: list[str]) -> None:
        replies = []
        for nick in params[:5]:
            user = self.find_online(nick)
            if user is not None:
                replies.append(
                    f"{irc_nick(user.name)}=+{user.id}@{self.gateway.server}"
                )
        self.numeric(n.RPL_USERHOST, " ".join(replies))

    def irc_ISON(self, params: list[str]) -> None:
        nicks = " ".join(params).split()
        online = [
            irc_nick(user.name)
            for user in map(self.find_online, nicks)
            if user is not None
        ]
        self.numeric(n.RPL_ISON, " ".join(online))
