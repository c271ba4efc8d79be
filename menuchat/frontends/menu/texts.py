"""Every phrase of the menu dialogue, and nothing else.

Plain strings with C{str.format} fields; lines end in CRLF and a prompt has
no line end, so a telnet cursor waits right after it. The terminal client
imports this module (and only this one) to recognise prompts and the
goodbye, so it holds no logic and imports nothing.
"""

from __future__ import annotations

CRLF = "\r\n"

GREETING = "Welcome to menuchat.\r\n"
NAME_PROMPT = "Your id key (i.e your name): "
OPTION_PROMPT = "Your option <enter a number>: "
MESSAGE_PROMPT = "Enter your message: "
RECIPIENT_PROMPT = "Enter recipient id: "
NEW_ROOM_PROMPT = "Enter new chat room id: "
JOIN_ROOM_PROMPT = "Enter chat room id to join: "
PASSWORD_PROMPT = "Password: "
NEW_PASSWORD_PROMPT = "New password: "
PASSWORD_AGAIN_PROMPT = "Password again: "
ACCOUNT_PROMPT = "Your choice <enter a number>: "
DELETE_PROMPT = "Type DELETE to delete the account and its mail: "

#: Every prompt the server sends, for clients that must tell one apart from
#: the start of a line.
PROMPTS = (
    NAME_PROMPT,
    OPTION_PROMPT,
    MESSAGE_PROMPT,
    RECIPIENT_PROMPT,
    NEW_ROOM_PROMPT,
    JOIN_ROOM_PROMPT,
    PASSWORD_PROMPT,
    NEW_PASSWORD_PROMPT,
    PASSWORD_AGAIN_PROMPT,
    ACCOUNT_PROMPT,
    DELETE_PROMPT,
)

MENU = (
    "****** TCP Message App ******\r\n"
    "Options Available:\r\n"
    "1. Get user list\r\n"
    "2. Send a message\r\n"
    "3. Get my messages\r\n"
    "4. Create a new chat room\r\n"
    "5. Join an existing chat room\r\n"
    "6. Disconnect from server\r\n"
    "7. List chat rooms\r\n"
    "8. My account\r\n"
)

WELCOME = (
    "Successfully connected to server\r\nClient Name: {name}\r\nClient ID: {id}\r\n"
)
UNREAD = "You have {count} unread messages.\r\n"
USER_LIST = "Users in server: {users}\r\n"
ROOM_LIST = "Chat rooms: {rooms}\r\n"
NO_ROOMS = "There are no chat rooms. Choose option 4 to create one.\r\n"
ACCOUNT_GUEST = (
    "You are a guest. To register the name {name}, choose a password of at "
    "least {length} characters; an empty line goes back to the menu.\r\n"
)
ACCOUNT_MENU = (
    "Account {name} (id {id}):\r\n"
    "1. Change password\r\n"
    "2. Delete account\r\n"
    "3. Back to the menu\r\n"
)
REGISTERED = (
    "The name {name} is registered to you: next time, log in with it and "
    "your password. Mail to you now waits while you are away.\r\n"
)
PASSWORD_CHANGED = "Your password is changed.\r\n"
ACCOUNT_DELETED = (
    "The account {name} and its mail are deleted; you are a guest until you leave.\r\n"
)
BACK_TO_MENU = "Back to the menu.\r\n"
MESSAGE_SENT = "Message sent!\r\n"
MY_MESSAGES = "My messages:\r\n"
MESSAGE_LINE = "{time}: {text} (from: {sender})\r\n"
NO_MESSAGES = "You have no messages.\r\n"
NEW_MESSAGE = (
    "New message from {sender}:{sender_id} ({unread} unread). "
    "Choose option 3 to read it.\r\n"
)
NEW_MESSAGE_IN_ROOM = (
    "New message from {sender}:{sender_id} ({unread} unread). "
    "Leave the room, then choose option 3 to read it.\r\n"
)
MESSAGE_UNREAD = (
    "Your message to {recipient} was not read: they disconnected. It said: {text}\r\n"
)
ROOM_CREATED = "Chat Room {room}\r\nType 'exit' to close the chat room.\r\n"
ROOM_JOINED = "Joined to chat room {room}\r\nType 'bye' to exit this chat room.\r\n"
ROOM_MEMBERS = "In this room: {names}\r\n"
ROOM_LINE = "{name}> {text}\r\n"
MEMBER_JOINED = "{name} joined\r\n"
MEMBER_LEFT = "{name} left the chat room.\r\n"
MEMBER_DROPPED = "{name} disconnected from the chat.\r\n"
MEMBER_KICKED = "{name} was put out of the room by {by}.\r\n"
YOU_WERE_KICKED = "You were put out of chat room {room} by {by}.\r\n"
ROOM_TOPIC = "Topic: {topic}\r\n"
HISTORY_LINE = "[{time}] {name}> {text}\r\n"
TOPIC_SET = "{by} set the topic: {topic}\r\n"
OWNER_CHANGED = "{name} owns chat room {room} now, given by {by}.\r\n"
MEMBER_MUTED = "{name} was muted by {by}.\r\n"
MEMBER_UNMUTED = "{name} may speak again, says {by}.\r\n"
BROADCAST = "*** {by} to everyone: {text}\r\n"
DISCONNECTED_BY = "You were disconnected by the operator {by}. Goodbye\r\n"
ROOM_LEFT_KEPT = "You left chat room {room}; it stays open until you close it.\r\n"
ROOM_CLOSED_DONE = "Chat room {room} is closed.\r\n"
DONE = "Done.\r\n"
HELP = (
    "Commands, at the menu and in rooms:\r\n"
    "/who                  who is online\r\n"
    "/msg <id|name> <text> send a private message\r\n"
    "/read                 read your messages\r\n"
    "/rooms                list the chat rooms\r\n"
    "/create <room>        open a chat room and enter it\r\n"
    "/join <room>          enter a chat room\r\n"
    "/leave                leave the chat room\r\n"
    "/quit                 disconnect\r\n"
    "Owners and operators: /kick <name>, /mute <name>, /unmute <name>, "
    "/owner <name>, /topic <text>\r\n"
    "Operators: /close <room>, /broadcast <text>, /disconnect <name>\r\n"
    "In a room, //text says /text.\r\n"
)
ROOM_LEFT = "You left chat room {room}.\r\n"
ROOM_CLOSED_BY_YOU = "Chat room {room} is closed.\r\n"
ROOM_CLOSED_BY_OWNER = "Chat room {room} was closed by its owner.\r\n"
ROOM_CLOSED_OWNER_LEFT = "Chat room {room} closed: its owner disconnected.\r\n"
GOODBYE = "Goodbye\r\n"
OWNER_USE_EXIT = "You own this room: type 'exit' to close it.\r\n"
MEMBER_USE_BYE = "Type 'bye' to leave this chat room.\r\n"

ERROR = "Error: {reason}\r\n"
BAD_OPTION = "{option!r} is not an option. Enter a number from 1 to 8."
NO_OPTION = "no option given. Enter a number from 1 to 8:"
BAD_ACCOUNT_CHOICE = "{choice!r} is not a choice; back to the menu."
WRONG_PASSWORD = "wrong password for {name}. Enter your name again."
PASSWORD_TOO_SHORT = "a password has at least {length} characters; nothing was changed."
PASSWORDS_DIFFER = "the two passwords differ; nothing was changed."
NOT_DELETED = "the account was not deleted."
PASSWORD_NEEDS_TLS = (
    "{name} is a registered name, and passwords are accepted only over TLS"
    " here: connect with TLS to log in as {name}, or choose another name."
)
ACCOUNT_NEEDS_TLS = (
    "passwords are accepted only over TLS here: connect with TLS to register"
    " or change a password."
)
NAME_REGISTERED = "the name {name!r} was registered meanwhile; nothing was changed."
NAME_EMPTY = "a name cannot be empty."
NAME_TOO_LONG = "a name has at most {limit} characters."
NAME_CONTROL = "a name cannot contain control or format characters."
NAME_SPACE = "a name cannot contain spaces."
NAME_PUNCTUATION = "a name cannot contain ',' or ':'."
NAME_INVISIBLE = "a name needs at least one visible character."
ROOM_EMPTY = "a room id cannot be empty."
ROOM_TOO_LONG = "a room id has at most {limit} characters."
ROOM_CONTROL = "a room id cannot contain control or format characters."
ROOM_SPACE = "a room id cannot contain spaces."
ROOM_PUNCTUATION = "a room id cannot contain ',' or ':'."
ROOM_INVISIBLE = "a room id needs at least one visible character."
NAME_TAKEN = "the name {name!r} is taken. Choose another."
EMPTY_MESSAGE = "the message is empty; nothing was sent."
NO_RECIPIENT = "no recipient id given; nothing was sent."
UNKNOWN_USER = "no user has the id or name {who!r}; nothing was sent."
MAILBOX_FULL = "the mailbox of {name} is full; nothing was sent."
ROOM_TAKEN = "chat room {room!r} exists already."
TOO_MANY_ROOMS = "the server has as many chat rooms as it allows; try later."
UNKNOWN_ROOM = "there is no chat room {room!r}."
ROOM_FULL = "chat room {room!r} is full."
LINE_TOO_LONG = "that line was longer than {limit} bytes and was discarded."
UNKNOWN_COMMAND = "{command!r} is not a command; /help lists them."
USAGE = "usage: {usage}"
NOT_ALLOWED = "only the room's owner or an operator may do that."
NOT_HERE = "{name!r} is not in the chat room."
NOT_IN_ROOM = "you are in no chat room."
ALREADY_IN_ROOM = "you are in chat room {room} already; leave it first."
YOU_ARE_MUTED = "you are muted in this room; your line was not sent."
OWNER_LEAVES = "you own this room: type 'exit' to close it."
STORE_FAILED = "the server could not do that just now; nothing was changed."

# Said by the connection itself, before or outside any dialogue.
SERVER_FULL = ERROR.format(reason="the server is full; try again later.")
ADDRESS_FULL = ERROR.format(
    reason="too many connections from your address; try again later."
)
NOT_TLS = ERROR.format(
    reason="this port speaks plain text, not TLS; the connection is closed."
)
LOGIN_TIMEOUT = "Timed out waiting for a name. Goodbye\r\n"
IDLE_TIMEOUT = "Idle for too long. Goodbye\r\n"
SHUTDOWN = "The server is going down. Goodbye\r\n"
