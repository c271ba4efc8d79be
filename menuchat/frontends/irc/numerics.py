"""The numerics the gateway sends, and every phrase it says.

Names follow the Modern IRC documentation; those Twisted knows are taken
from C{twisted.words.protocols.irc}, the rest (IRCv3, SASL, later
additions) are defined here.
"""

from __future__ import annotations

from twisted.words.protocols.irc import (
    ERR_CANNOTSENDTOCHAN,
    ERR_CHANOPRIVSNEEDED,
    ERR_ERRONEUSNICKNAME,
    ERR_NEEDMOREPARAMS,
    ERR_NICKNAMEINUSE,
    ERR_NONICKNAMEGIVEN,
    ERR_NOORIGIN,
    ERR_NORECIPIENT,
    ERR_NOSUCHCHANNEL,
    ERR_NOSUCHNICK,
    ERR_NOTEXTTOSEND,
    ERR_NOTONCHANNEL,
    ERR_NOTREGISTERED,
    ERR_PASSWDMISMATCH,
    ERR_TOOMANYCHANNELS,
    ERR_UNKNOWNCOMMAND,
    ERR_UNKNOWNMODE,
    ERR_USERNOTINCHANNEL,
    ERR_USERSDONTMATCH,
    RPL_CHANNELMODEIS,
    RPL_CREATED,
    RPL_ENDOFBANLIST,
    RPL_ENDOFMOTD,
    RPL_ENDOFNAMES,
    RPL_ENDOFWHO,
    RPL_ENDOFWHOIS,
    RPL_ISON,
    RPL_ISUPPORT,
    RPL_LIST,
    RPL_LISTEND,
    RPL_LISTSTART,
    RPL_LUSERCHANNELS,
    RPL_LUSERCLIENT,
    RPL_LUSERME,
    RPL_LUSEROP,
    RPL_LUSERUNKNOWN,
    RPL_MOTD,
    RPL_MOTDSTART,
    RPL_MYINFO,
    RPL_NAMREPLY,
    RPL_NOTOPIC,
    RPL_TOPIC,
    RPL_UMODEIS,
    RPL_USERHOST,
    RPL_WELCOME,
    RPL_WHOISCHANNELS,
    RPL_WHOISSERVER,
    RPL_WHOISUSER,
    RPL_WHOREPLY,
    RPL_YOURHOST,
)

__all__ = [
    "ERR_ALREADYREGISTERED",
    "ERR_BADCHANNAME",
    "ERR_CANNOTSENDTOCHAN",
    "ERR_CHANNELISFULL",
    "ERR_CHANOPRIVSNEEDED",
    "ERR_ERRONEUSNICKNAME",
    "ERR_INPUTTOOLONG",
    "ERR_NEEDMOREPARAMS",
    "ERR_NICKNAMEINUSE",
    "ERR_NONICKCHANGE",
    "ERR_NONICKNAMEGIVEN",
    "ERR_NOORIGIN",
    "ERR_NORECIPIENT",
    "ERR_NOSUCHCHANNEL",
    "ERR_NOSUCHNICK",
    "ERR_NOTEXTTOSEND",
    "ERR_NOTONCHANNEL",
    "ERR_NOTREGISTERED",
    "ERR_PASSWDMISMATCH",
    "ERR_SASLABORTED",
    "ERR_SASLALREADY",
    "ERR_SASLFAIL",
    "ERR_SASLTOOLONG",
    "ERR_TOOMANYCHANNELS",
    "ERR_UNKNOWNCOMMAND",
    "ERR_UNKNOWNMODE",
    "ERR_USERNOTINCHANNEL",
    "ERR_USERSDONTMATCH",
    "RPL_AWAY",
    "RPL_CHANNELMODEIS",
    "RPL_CREATED",
    "RPL_CREATIONTIME",
    "RPL_ENDOFBANLIST",
    "RPL_ENDOFMOTD",
    "RPL_ENDOFNAMES",
    "RPL_ENDOFQUIETLIST",
    "RPL_ENDOFWHO",
    "RPL_ENDOFWHOIS",
    "RPL_GLOBALUSERS",
    "RPL_ISON",
    "RPL_ISUPPORT",
    "RPL_LIST",
    "RPL_LISTEND",
    "RPL_LISTSTART",
    "RPL_LOCALUSERS",
    "RPL_LOGGEDIN",
    "RPL_LUSERCHANNELS",
    "RPL_LUSERCLIENT",
    "RPL_LUSERME",
    "RPL_LUSEROP",
    "RPL_LUSERUNKNOWN",
    "RPL_MOTD",
    "RPL_MOTDSTART",
    "RPL_MYINFO",
    "RPL_NAMREPLY",
    "RPL_NOTOPIC",
    "RPL_QUIETLIST",
    "RPL_SASLMECHS",
    "RPL_SASLSUCCESS",
    "RPL_TOPIC",
    "RPL_TOPICWHOTIME",
    "RPL_UMODEIS",
    "RPL_USERHOST",
    "RPL_WELCOME",
    "RPL_WHOISCHANNELS",
    "RPL_WHOISSERVER",
    "RPL_WHOISUSER",
    "RPL_WHOREPLY",
    "RPL_YOURHOST",
]

RPL_LOCALUSERS = "265"
RPL_GLOBALUSERS = "266"
RPL_AWAY = "301"
RPL_CREATIONTIME = "329"
RPL_TOPICWHOTIME = "333"
ERR_INPUTTOOLONG = "417"
ERR_NONICKCHANGE = "447"
ERR_ALREADYREGISTERED = "462"
ERR_CHANNELISFULL = "471"
ERR_BADCHANNAME = "479"
RPL_QUIETLIST = "728"
RPL_ENDOFQUIETLIST = "729"
RPL_LOGGEDIN = "900"
RPL_SASLSUCCESS = "903"
ERR_SASLFAIL = "904"
ERR_SASLTOOLONG = "905"
ERR_SASLABORTED = "906"
ERR_SASLALREADY = "907"
RPL_SASLMECHS = "908"

# The phrases, one place for all of them.

WELCOME = "Welcome to the menuchat IRC gateway, {mask}"
YOUR_HOST = "Your host is {server}, running version {version}"
CREATED = "This server was created {date}"
ISUPPORT_TAIL = "are supported by this server"
LUSER_CLIENT = "There are {users} users and 0 invisible on 1 servers"
LUSER_OP = "operator(s) online"
LUSER_UNKNOWN = "unknown connection(s)"
LUSER_CHANNELS = "channels formed"
LUSER_ME = "I have {users} clients and 0 servers"
LOCAL_USERS = "Current local users: {users}"
GLOBAL_USERS = "Current global users: {users}"
MOTD_START = "- {server} Message of the day -"
MOTD = (
    "- Welcome to menuchat. Its rooms are channels here: #lobby is room lobby.",
    "- Menu users (telnet) are here too; a private message waits in the",
    "- recipient's mailbox until read. One channel at a time.",
    "- Registered names log in with SASL PLAIN or PASS.",
)
MOTD_END = "End of /MOTD command"

NOT_REGISTERED = "You have not registered"
UNKNOWN_COMMAND = "Unknown command"
NEED_MORE_PARAMS = "Not enough parameters"
ALREADY_REGISTERED = "You may not reregister"
NO_NICK_GIVEN = "No nickname given"
ERRONEOUS_NICK = "Erroneous nickname"
NICK_IN_USE = "Nickname is already in use"
NICK_REGISTERED = (
    "Nickname is registered: log in with SASL PLAIN or PASS, or choose another"
)
ACCOUNT_CONNECTED = "Your account is connected already"
NO_NICK_CHANGE = "Nick changes are not supported: reconnect with the new nick"
PASSWORD_MISMATCH = "Password incorrect"
NO_ORIGIN = "No origin specified"
NO_RECIPIENT = "No recipient given ({command})"
NO_TEXT = "No text to send"
NO_SUCH_NICK = "No such nick/channel"
NO_SUCH_CHANNEL = "No such channel"
BAD_CHANNEL = "Illegal channel name"
NOT_ON_CHANNEL = "You're not on that channel"
USER_NOT_IN_CHANNEL = "They aren't on that channel"
CANNOT_SEND = "Cannot send to channel"
CANNOT_SEND_MUTED = "Cannot send to channel (you are muted)"
CHANOP_NEEDED = "You're not channel operator"
CANNOT_MODERATE_OWNER = "The room's owner cannot be moderated"
TOO_MANY_CHANNELS = "You may be in one channel at a time: PART {room} first"
TOO_MANY_ROOMS = "The server holds as many rooms as it may"
CHANNEL_FULL = "Cannot join channel (room is full)"
UNKNOWN_MODE = "is not a mode of this server"
USERS_DONT_MATCH = "Can't change mode for other users"
INPUT_TOO_LONG = "Input line was too long"
INVALID_UTF8 = "Message rejected, your IRC software MUST use UTF-8 encoding"
END_OF_NAMES = "End of /NAMES list"
END_OF_WHO = "End of WHO list"
END_OF_WHOIS = "End of /WHOIS list"
END_OF_BANS = "End of channel ban list"
END_OF_QUIETS = "End of channel quiet list"
NO_TOPIC = "No topic is set"
LIST_START = "Users  Name"
LIST_END = "End of /LIST"
SERVER_INFO = "menuchat, rooms and mailboxes for menu and IRC users"
IRC_REALNAME = "{realname}"
MENU_REALNAME = "menu user"
OFFLINE = "is offline: your message waits in their mailbox"
MAILBOX_FULL = "{nick}'s mailbox is full"
MESSAGE_UNREAD = "Your message to {nick} was not read, they left: {text}"
BROADCAST = "Broadcast from {by}: {text}"
MAIL_FROM_BEFORE = "[{time}] {text}"

LOGGED_IN = "You are now logged in as {account}"
SASL_SUCCESS = "SASL authentication successful"
SASL_FAIL = "SASL authentication failed"
PASSWORDS_NEED_TLS = (
    "This server takes passwords only over TLS or from its own machine;"
    " connect to its TLS port to log in to your account."
)
SASL_TOO_LONG = "SASL message too long"
SASL_ABORTED = "SASL authentication aborted"
SASL_ALREADY = "You have already authenticated using SASL"
SASL_MECHS = "are available SASL mechanisms"

CLOSED_QUIT = "Closing Link: {nick} (Quit: {message})"
CLOSED_PASSWORD = "Closing Link: {nick} (Bad password)"
CLOSED_ACCOUNT = "Closing Link: {nick} (Account already connected)"
CLOSED_TIMEOUT = "Closing Link: {nick} (Registration timed out)"
CLOSED_IDLE = "Closing Link: {nick} (Idle timeout)"
CLOSED_PING = "Closing Link: {nick} (Ping timeout: {seconds} seconds)"
CLOSED_BY = "Closing Link: {nick} (Disconnected by {by})"
CLOSED_SHUTDOWN = "Closing Link: {nick} (Server shutting down)"
CLOSED_STORE = "Closing Link: {nick} (The server could not log you in)"
REFUSED = "Closing Link: ({reason})"
NOT_TLS = "Closing Link: this port speaks plain IRC, not TLS"
STORE_FAILED = "The server could not do that; nothing changed"

QUIT_DEFAULT = "Client quit"
PING_TIMEOUT = "Ping timeout"
CONNECTION_CLOSED = "Connection closed"
ROOM_CLOSED = {
    "owner closed": "Room closed by its owner",
    "owner left": "Room closed: its owner left",
}
