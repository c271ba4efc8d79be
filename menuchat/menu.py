"""The dialogue: one L{Session} per connected user, and every text it says.

A session is a state machine fed whole, decoded lines. It asks the hub to act
and renders the outcome as text; it never touches bytes, sockets or the
reactor. The transport side is the L{Output} it is given. Lines end in CRLF;
a prompt has no line end, so a telnet cursor waits right after it.
"""

from __future__ import annotations

import re
import time
from enum import Enum
from typing import Protocol

from menuchat import hub
from menuchat.hub import CloseReason, Hub, Message, Room, User

__all__ = ["Output", "Session", "State", "clean"]

CRLF = "\r\n"

GREETING = "Welcome to menuchat.\r\n"
NAME_PROMPT = "Your id key (i.e your name): "
OPTION_PROMPT = "Your option <enter a number>: "
MESSAGE_PROMPT = "Enter your message: "
RECIPIENT_PROMPT = "Enter recipient id: "
NEW_ROOM_PROMPT = "Enter new chat room id: "
JOIN_ROOM_PROMPT = "Enter chat room id to join: "

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
MEMBER_JOINED = "{name} joined\r\n"
MEMBER_LEFT = "{name} disconnected from the chat.\r\n"
ROOM_LEFT = "You left chat room {room}.\r\n"
ROOM_CLOSED_BY_YOU = "Chat room {room} is closed.\r\n"
ROOM_CLOSED = {
    CloseReason.OWNER_CLOSED: "Chat room {room} was closed by its owner.\r\n",
    CloseReason.OWNER_LEFT: "Chat room {room} closed: its owner disconnected.\r\n",
}
GOODBYE = "Goodbye\r\n"
OWNER_USE_EXIT = "You own this room: type 'exit' to close it.\r\n"
MEMBER_USE_BYE = "Type 'bye' to leave this chat room.\r\n"

ERROR = "Error: {reason}\r\n"
BAD_OPTION = "{option!r} is not an option. Enter a number from 1 to 6."
NO_OPTION = "no option given. Enter a number from 1 to 6:"
NAME_REASONS = {
    "empty": "a name cannot be empty.",
    "too long": f"a name has at most {hub.MAX_TOKEN_LENGTH} characters.",
    "control character": "a name cannot contain control or format characters.",
    "space": "a name cannot contain spaces.",
    "punctuation": "a name cannot contain ',' or ':'.",
}
ROOM_REASONS = {
    "empty": "a room id cannot be empty.",
    "too long": f"a room id has at most {hub.MAX_TOKEN_LENGTH} characters.",
    "control character": "a room id cannot contain control or format characters.",
    "space": "a room id cannot contain spaces.",
    "punctuation": "a room id cannot contain ',' or ':'.",
}
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


class State(Enum):
    """Where a session is in the dialogue: what its next line means."""

    NAME = "name"
    MENU = "menu"
    MESSAGE_TEXT = "message text"
    MESSAGE_RECIPIENT = "message recipient"
    NEW_ROOM = "new room"
    JOIN_ROOM = "join room"
    IN_ROOM = "in room"
    CLOSED = "closed"


PROMPTS = {
    State.NAME: NAME_PROMPT,
    State.MENU: OPTION_PROMPT,
    State.MESSAGE_TEXT: MESSAGE_PROMPT,
    State.MESSAGE_RECIPIENT: RECIPIENT_PROMPT,
    State.NEW_ROOM: NEW_ROOM_PROMPT,
    State.JOIN_ROOM: JOIN_ROOM_PROMPT,
    State.IN_ROOM: "",
    State.CLOSED: "",
}


class Output(Protocol):
    """Where a session's text goes; the connection implements it."""

    def write(self, text: str) -> None:
        """Send C{text}, which carries its own line ends."""

    def close(self) -> None:
        """Close the connection once everything written has been sent."""

    def logged_in(self, name: str, user_id: int) -> None:
        """The dialogue admitted a user: the connection's timeouts change."""


# Terminal escape sequences: CSI (ESC [ or the C1 byte, parameters, a final
# byte), OSC and other strings (ended by BEL or ESC \\), and two-byte escapes.
_ESCAPE = re.compile(
    r"(?:\x1b\[|\x9b)[0-?]*[ -/]*[@-~]"
    r"|(?:\x1b[\]PX^_]|[\x90\x98\x9d\x9e\x9f])[^\x07\x1b\x9c]*(?:\x07|\x1b\\\\|\x9c)?"
    r"|\x1b[ -~]"
)


def clean(text: str) -> str:
    """C{text} with control and format characters removed, tabs as spaces.

    Nothing a user types may reach another terminal as an escape sequence,
    a bell, a backspace or a bidi override; a whole escape sequence goes,
    not just its ESC, so no "[31m" debris is left behind.
    """
    if text.isprintable():
        return text
    if "\x1b" in text or not text.isascii():
        text = _ESCAPE.sub("", text)
    return "".join(c if c.isprintable() else " " if c == "\t" else "" for c in text)


def format_time(timestamp: float) -> str:
    """C{timestamp} as the server's local C{YYYY-MM-DD HH:MM}."""
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(timestamp))


class _RoomLine:
    """The room line rendered last, as "Alice> Hello", and what it renders.

    The hub hands every member of a room the same speaker and text objects,
    one member after the other: remembering the last rendering renders a
    line once per room instead of once per member. Only strings are held
    (holding them keeps their identities from being reused meanwhile), so
    no user or connection is kept alive by it.
    """

    __slots__ = ("line", "name", "text")

    def __init__(self) -> None:
        self.name: str | None = None
        self.text: str | None = None
        self.line = ""


_last_room_line = _RoomLine()


class Session:
    """The dialogue with one connected person, from name prompt to goodbye.

    Implements L{hub.Member}: the hub calls it with room lines and notices.
    """

    __slots__ = ("_hub", "_output", "_pending_text", "state", "user")

    def __init__(self, hub: Hub, output: Output) -> None:
        self._hub = hub
        self._output = output
        self._pending_text = ""
        self.state = State.NAME
        self.user: User | None = None

    # Driven by the connection

    def start(self) -> None:
        """Greet the newcomer and ask for a name."""
        self._output.write(GREETING + NAME_PROMPT)

    def line_received(self, line: str) -> None:
        """Act on one line typed in the current state."""
        _HANDLERS[self.state](self, line)

    def line_too_long(self, limit: int) -> None:
        """A line over C{limit} bytes was discarded; say so, ask again."""
        reason = LINE_TOO_LONG.format(limit=limit)
        if self.state in _SUB_PROMPTS:
            self._fail(reason)
        elif self.state is not State.CLOSED:
            self._error(reason)

    def end(self, farewell: str) -> None:
        """Forget the user, say C{farewell} and close, as for a timeout."""
        if self.state is not State.CLOSED:
            text = self.farewell(farewell)
            self._leave_hub()
            self._output.write(text)
            self._output.close()

    def timed_out(self) -> None:
        """No name came in time, or no line while idle: say so and close."""
        self.end(LOGIN_TIMEOUT if self.state is State.NAME else IDLE_TIMEOUT)

    def farewell(self, text: str) -> str:
        """C{text} as a last line: on a line of its own after a prompt."""
        return CRLF + text if PROMPTS[self.state] else text

    def connection_lost(self) -> None:
        """The connection is gone, however it ended: forget the user."""
        self._leave_hub()

    # Hub events (hub.Member)

    def room_line(self, room: Room, speaker: User, text: str) -> None:
        last = _last_room_line
        name = speaker.name
        if last.text is not text or last.name is not name:
            last.name, last.text = name, text
            last.line = f"{name}> {text}\r\n"
        self._output.write(last.line)

    def member_joined(self, room: Room, user: User) -> None:
        if user is not self.user:
            self._output.write(MEMBER_JOINED.format(name=user.name))
            return
        self.state = State.IN_ROOM
        names = ", ".join(m.name for m in room.members)
        self._output.write(
            ROOM_JOINED.format(room=room.id) + ROOM_MEMBERS.format(names=names)
        )

    def member_left(self, room: Room, user: User) -> None:
        self._output.write(MEMBER_LEFT.format(name=user.name))

    def room_closed(self, room: Room, reason: CloseReason) -> None:
        self._go_to_menu(ROOM_CLOSED[reason].format(room=room.id))

    def message_waiting(self, message: Message, unread: int) -> None:
        text = NEW_MESSAGE_IN_ROOM if self.state is State.IN_ROOM else NEW_MESSAGE
        notice = text.format(
            sender=message.sender_name, sender_id=message.sender_id, unread=unread
        )
        if self.user is not None and message.sender_id == self.user.id:
            # A note to self: part of the reply to option 2, not an interruption.
            self._output.write(notice)
        else:
            self._notice(notice)

    def message_unread(self, message: Message) -> None:
        self._notice(
            MESSAGE_UNREAD.format(recipient=message.recipient_name, text=message.text)
        )

    # States

    def _on_name(self, line: str) -> None:
        name = line.strip()
        try:
            self.user = self._hub.login(name, self)
        except hub.InvalidName as e:
            self._error(NAME_REASONS[e.args[0]])
        except hub.NameTaken:
            self._error(NAME_TAKEN.format(name=name))
        else:
            self.state = State.MENU
            self._output.logged_in(self.user.name, self.user.id)
            welcome = WELCOME.format(name=self.user.name, id=self.user.id)
            self._output.write(welcome + MENU + OPTION_PROMPT)

    def _on_option(self, line: str) -> None:
        option = line.strip()
        if not option:
            self._output.write(ERROR.format(reason=NO_OPTION) + MENU + OPTION_PROMPT)
        elif option == "1":
            users = ", ".join(f"{u.name}:{u.id}" for u in self._hub.users())
            self._output.write(USER_LIST.format(users=users) + OPTION_PROMPT)
        elif option == "2":
            self._ask(State.MESSAGE_TEXT)
        elif option == "3":
            self._output.write(self._render_mailbox() + OPTION_PROMPT)
        elif option == "4":
            self._ask(State.NEW_ROOM)
        elif option == "5":
            self._ask(State.JOIN_ROOM)
        elif option == "6":
            self._leave_hub()
            self._output.write(GOODBYE)
            self._output.close()
        else:
            self._error(BAD_OPTION.format(option=clean(option)[:40]))

    def _on_message_text(self, line: str) -> None:
        text = clean(line).strip()
        if not text:
            self._fail(EMPTY_MESSAGE)
        else:
            self._pending_text = text
            self._ask(State.MESSAGE_RECIPIENT)

    def _on_message_recipient(self, line: str) -> None:
        text, self._pending_text = self._pending_text, ""
        answer = clean(line).strip()
        if not answer:
            self._fail(NO_RECIPIENT)
            return
        if not (answer.isascii() and answer.isdigit()) or len(answer) > 18:
            self._fail(BAD_RECIPIENT.format(text=answer[:40]))
            return
        recipient_id = int(answer)
        try:
            self._hub.send_message(self._user, recipient_id, text)
        except hub.UnknownUser:
            self._fail(UNKNOWN_USER.format(id=recipient_id))
        except hub.MailboxFull:
            self._fail(MAILBOX_FULL.format(id=recipient_id))
        except hub.EmptyMessage:
            self._fail(EMPTY_MESSAGE)
        else:
            self.state = State.MENU
            self._output.write(MESSAGE_SENT + OPTION_PROMPT)

    def _on_new_room(self, line: str) -> None:
        room_id = line.strip()
        try:
            room = self._hub.create_room(self._user, room_id)
        except hub.InvalidRoomId as e:
            self._fail(ROOM_REASONS[e.args[0]])
        except hub.RoomTaken:
            self._fail(ROOM_TAKEN.format(room=clean(room_id)))
        except hub.TooManyRooms:
            self._fail(TOO_MANY_ROOMS)
        else:
            self.state = State.IN_ROOM
            self._output.write(ROOM_CREATED.format(room=room.id))

    def _on_join_room(self, line: str) -> None:
        room_id = line.strip()
        try:
            self._hub.join_room(self._user, room_id)
        except hub.InvalidRoomId as e:
            self._fail(ROOM_REASONS[e.args[0]])
        except hub.UnknownRoom:
            self._fail(UNKNOWN_ROOM.format(room=clean(room_id)))
        except hub.RoomFull:
            self._fail(ROOM_FULL.format(room=clean(room_id)))

    def _on_room_line(self, line: str) -> None:
        text = clean(line).strip()
        if not text:
            return
        user = self._user
        room = user.room
        assert room is not None
        command = text.casefold()
        is_owner = room.owner is user
        if command == "exit":
            if is_owner:
                self._hub.close_room(user)
                self._go_to_menu(ROOM_CLOSED_BY_YOU.format(room=room.id))
            else:
                self._output.write(MEMBER_USE_BYE)
        elif command == "bye":
            if is_owner:
                self._output.write(OWNER_USE_EXIT)
            else:
                self._hub.leave_room(user)
                self._go_to_menu(ROOM_LEFT.format(room=room.id))
        else:
            self._hub.say(user, text)

    def _on_closed(self, line: str) -> None:
        """Lines that were already on their way when the session ended."""

    # Rendering

    @property
    def _user(self) -> User:
        assert self.user is not None
        return self.user

    def _render_mailbox(self) -> str:
        messages = self._hub.read_messages(self._user)
        if not messages:
            return NO_MESSAGES
        return MY_MESSAGES + "".join(
            MESSAGE_LINE.format(
                time=format_time(m.sent_at), text=m.text, sender=m.sender_name
            )
            for m in messages
        )

    def _ask(self, state: State) -> None:
        self.state = state
        self._output.write(PROMPTS[state])

    def _error(self, reason: str) -> None:
        """An error line, then the prompt of the current state again."""
        self._output.write(ERROR.format(reason=reason) + PROMPTS[self.state])

    def _fail(self, reason: str) -> None:
        """A sub-prompt's error: the line, then back to the option prompt."""
        self.state = State.MENU
        self._error(reason)

    def _notice(self, text: str) -> None:
        """An unprompted line; a prompt the user sits at is asked again."""
        prompt = PROMPTS[self.state]
        if prompt:
            self._output.write(CRLF + text + prompt)
        else:
            self._output.write(text)

    def _go_to_menu(self, text: str) -> None:
        self.state = State.MENU
        self._output.write(text + MENU + OPTION_PROMPT)

    def _leave_hub(self) -> None:
        self.state = State.CLOSED
        if self.user is not None:
            self._hub.logout(self.user)


_SUB_PROMPTS = frozenset(
    {State.MESSAGE_TEXT, State.MESSAGE_RECIPIENT, State.NEW_ROOM, State.JOIN_ROOM}
)

_HANDLERS = {
    State.NAME: Session._on_name,
    State.MENU: Session._on_option,
    State.MESSAGE_TEXT: Session._on_message_text,
    State.MESSAGE_RECIPIENT: Session._on_message_recipient,
    State.NEW_ROOM: Session._on_new_room,
    State.JOIN_ROOM: Session._on_join_room,
    State.IN_ROOM: Session._on_room_line,
    State.CLOSED: Session._on_closed,
}
