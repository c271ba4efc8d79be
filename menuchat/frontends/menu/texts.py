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

#: Every prompt the server sends, for clients that must tell one apart from
#: the start of a line.
PROMPTS = (
    NAME_PROMPT,
    OPTION_PROMPT,
    MESSAGE_PROMPT,
    RECIPIENT_PROMPT,
    NEW_ROOM_PROMPT,
    JOIN_ROOM_PROMPT,
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
)

WELCOME = (
    "Successfully connected to server\r\nClient Name: {name}\r\nClient ID: {id}\r\n"
)
USER_LIST = "Users in server: {users}\r\n"
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
MEMBER_LEFT = "{name} disconnected from the chat.\r\n"
ROOM_LEFT = "You left chat room {room}.\r\n"
ROOM_CLOSED_BY_YOU = "Chat room {room} is closed.\r\n"
ROOM_CLOSED_BY_OWNER = "Chat room {room} was closed by its owner.\r\n"
ROOM_CLOSED_OWNER_LEFT = "Chat room {room} closed: its owner disconnected.\r\n"
GOODBYE = "Goodbye\r\n"
OWNER_USE_EXIT = "You own this room: type 'exit' to close it.\r\n"
MEMBER_USE_BYE = "Type 'bye' to leave this chat room.\r\n"

ERROR = "Error: {reason}\r\n"
BAD_OPTION = "{option!r} is not an option. Enter a number from 1 to 6."
NO_OPTION = "no option given. Enter a number from 1 to 6:"
NAME_EMPTY = "a name cannot be empty."
NAME_TOO_LONG = "a name has at most {limit} characters."
NAME_CONTROL = "a name cannot contain control or format characters."
NAME_SPACE = "a name cannot contain spaces."
NAME_PUNCTUATION = "a name cannot contain ',' or ':'."
ROOM_EMPTY = "a room id cannot be empty."
ROOM_TOO_LONG = "a room id has at most {limit} characters."
ROOM_CONTROL = "a room id cannot contain control or format characters."
ROOM_SPACE = "a room id cannot contain spaces."
ROOM_PUNCTUATION = "a room id cannot contain ',' or ':'."
NAME_TAKEN = "the name {name!r} is taken. Choose another."
EMPTY_MESSAGE = "the message is empty; nothing was sent."
BAD_RECIPIENT = "{text!r} is not a user id (ids are numbers; see option 1)."
NO_RECIPIENT = "no recipient id given; nothing was sent."
UNKNOWN_USER = "no user has id {id}; nothing was sent."
MAILBOX_FULL = "the mailbox of user {id} is full; nothing was sent."
ROOM_TAKEN = "chat room {room!r} exists already."
TOO_MANY_ROOMS = "the server has as many chat rooms as it allows; try later."
UNKNOWN_ROOM = "there is no chat room {room!r}."
ROOM_FULL = "chat room {room!r} is full."
LINE_TOO_LONG = "that line was longer than {limit} bytes and was discarded."
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
