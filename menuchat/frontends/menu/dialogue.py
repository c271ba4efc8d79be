"""The dialogue: one L{Session} per connected person, from name to goodbye.

A session is a state machine fed whole, decoded lines. It asks the hub to
act and renders the outcome with the phrases of L{texts}; it never touches
bytes, sockets or the reactor. The transport side is the L{Output} it is
given. A line whose answer needs the store returns the Deferred of that
answer: the connection reads no further line until it fires, so pipelined
input is handled in order, in the state the lines before it left.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from enum import Enum
from typing import Any, Protocol, TypeVar

from twisted.internet.defer import Deferred
from twisted.logger import Logger
from twisted.python.failure import Failure

from menuchat.core import errors
from menuchat.core.errors import TokenProblem
from menuchat.core.events import (
    CloseReason,
    MemberJoined,
    MemberLeft,
    Message,
    MessageUnread,
    MessageWaiting,
    RoomClosed,
    RoomLine,
)
from menuchat.core.hub import Hub, User
from menuchat.core.names import MAX_TOKEN_LENGTH
from menuchat.frontends.menu import texts

__all__ = ["WIRE", "Output", "Session", "State", "clean", "format_time"]

_T = TypeVar("_T")

#: The name under which this front-end caches its rendering of an event.
WIRE = "menu"


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
    State.NAME: texts.NAME_PROMPT,
    State.MENU: texts.OPTION_PROMPT,
    State.MESSAGE_TEXT: texts.MESSAGE_PROMPT,
    State.MESSAGE_RECIPIENT: texts.RECIPIENT_PROMPT,
    State.NEW_ROOM: texts.NEW_ROOM_PROMPT,
    State.JOIN_ROOM: texts.JOIN_ROOM_PROMPT,
    State.IN_ROOM: "",
    State.CLOSED: "",
}

_SUB_PROMPTS = frozenset(
    {State.MESSAGE_TEXT, State.MESSAGE_RECIPIENT, State.NEW_ROOM, State.JOIN_ROOM}
)

NAME_PROBLEMS = {
    TokenProblem.EMPTY: texts.NAME_EMPTY,
    TokenProblem.TOO_LONG: texts.NAME_TOO_LONG.format(limit=MAX_TOKEN_LENGTH),
    TokenProblem.CONTROL: texts.NAME_CONTROL,
    TokenProblem.SPACE: texts.NAME_SPACE,
    TokenProblem.PUNCTUATION: texts.NAME_PUNCTUATION,
}
ROOM_PROBLEMS = {
    TokenProblem.EMPTY: texts.ROOM_EMPTY,
    TokenProblem.TOO_LONG: texts.ROOM_TOO_LONG.format(limit=MAX_TOKEN_LENGTH),
    TokenProblem.CONTROL: texts.ROOM_CONTROL,
    TokenProblem.SPACE: texts.ROOM_SPACE,
    TokenProblem.PUNCTUATION: texts.ROOM_PUNCTUATION,
}
ROOM_CLOSED = {
    CloseReason.OWNER_CLOSED: texts.ROOM_CLOSED_BY_OWNER,
    CloseReason.OWNER_LEFT: texts.ROOM_CLOSED_OWNER_LEFT,
}


class Output(Protocol):
    """Where a session's text goes; the connection implements it."""

    def write(self, text: str) -> None:
        """Send C{text}, which carries its own line ends."""

    def write_bytes(self, data: bytes) -> None:
        """Send text already encoded (an event's cached rendering)."""

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


#: Format characters that languages need and that move nothing on a
#: terminal: the zero-width joiner (emoji families) and non-joiner (Persian).
JOINERS = frozenset("\u200c\u200d")


def clean(text: str) -> str:
    """C{text} with control and format characters removed, tabs as spaces.

    Nothing a user types may reach another terminal as an escape sequence,
    a bell, a backspace or a bidi override; a whole escape sequence goes,
    not just its ESC, so no "[31m" debris is left behind. The joiners
    (L{JOINERS}) stay.
    """
    if text.isprintable():
        return text
    if "\x1b" in text or not text.isascii():
        text = _ESCAPE.sub("", text)
    return "".join(
        c if c.isprintable() or c in JOINERS else " " if c == "\t" else "" for c in text
    )


def format_time(timestamp: float) -> str:
    """C{timestamp} as the server's local C{YYYY-MM-DD HH:MM}."""
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(timestamp))


class Session:
    """The dialogue with one connected person; a L{menuchat.core.events.Member}."""

    __slots__ = ("_hub", "_output", "_pending_text", "state", "user")

    log = Logger()

    def __init__(self, hub: Hub, output: Output) -> None:
        self._hub = hub
        self._output = output
        self._pending_text = ""
        self.state = State.NAME
        self.user: User | None = None

    # Driven by the connection

    def start(self) -> None:
        """Greet the newcomer and ask for a name."""
        self._output.write(texts.GREETING + texts.NAME_PROMPT)

    def line_received(self, line: str) -> Deferred[None] | None:
        """Act on one line typed in the current state.

        Returns a Deferred when the answer waits for the store; no other
        line may be handled until it fires. It never fails.
        """
        pending: Deferred[None] | None = _HANDLERS[self.state](self, line)
        return pending

    def line_too_long(self, limit: int) -> None:
        """A line over C{limit} bytes was discarded; say so, ask again."""
        reason = texts.LINE_TOO_LONG.format(limit=limit)
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
        self.end(
            texts.LOGIN_TIMEOUT if self.state is State.NAME else texts.IDLE_TIMEOUT
        )

    def server_stopping(self) -> None:
        """The server is going down: say so and close.

        The user stays in the hub until the connection is gone, as for any
        drop, so no one is told of rooms closing while everyone is being
        told goodbye.
        """
        if self.state is not State.CLOSED:
            text = self.farewell(texts.SHUTDOWN)
            self.state = State.CLOSED
            self._output.write(text)
            self._output.close()

    def farewell(self, text: str) -> str:
        """C{text} as a last line: on a line of its own after a prompt."""
        return texts.CRLF + text if PROMPTS[self.state] else text

    def connection_lost(self) -> None:
        """The connection is gone, however it ended: forget the user."""
        self._leave_hub()

    # Hub events (menuchat.core.events.Member)

    def room_line(self, event: RoomLine) -> None:
        data = event.wire.get(WIRE)
        if data is None:
            text = texts.ROOM_LINE.format(name=event.speaker, text=event.text)
            data = event.wire[WIRE] = text.encode()
        self._output.write_bytes(data)

    def member_joined(self, event: MemberJoined) -> None:
        if self.user is None or event.user_id != self.user.id:
            data = event.wire.get(WIRE)
            if data is None:
                text = texts.MEMBER_JOINED.format(name=event.name)
                data = event.wire[WIRE] = text.encode()
            self._output.write_bytes(data)
            return
        self.state = State.IN_ROOM
        self._output.write(
            texts.ROOM_JOINED.format(room=event.room)
            + texts.ROOM_MEMBERS.format(names=", ".join(event.members))
        )

    def member_left(self, event: MemberLeft) -> None:
        data = event.wire.get(WIRE)
        if data is None:
            data = event.wire[WIRE] = texts.MEMBER_LEFT.format(name=event.name).encode()
        self._output.write_bytes(data)

    def room_closed(self, event: RoomClosed) -> None:
        self._go_to_menu(ROOM_CLOSED[event.reason].format(room=event.room))

    def message_waiting(self, event: MessageWaiting) -> None:
        message = event.message
        text = (
            texts.NEW_MESSAGE_IN_ROOM
            if self.state is State.IN_ROOM
            else texts.NEW_MESSAGE
        )
        notice = text.format(
            sender=message.sender_name, sender_id=message.sender_id, unread=event.unread
        )
        if self.user is not None and message.sender_id == self.user.id:
            # A note to self: part of the reply to option 2, not an interruption.
            self._output.write(notice)
        else:
            self._notice(notice)

    def message_unread(self, event: MessageUnread) -> None:
        message = event.message
        self._notice(
            texts.MESSAGE_UNREAD.format(
                recipient=message.recipient_name, text=message.text
            )
        )

    # States

    def _on_name(self, line: str) -> Deferred[None] | None:
        name = line.strip()

        def admitted(user: User) -> None:
            if self.state is State.CLOSED:  # the connection went meanwhile
                self._forget(self._hub.logout(user))
                return
            self.user = user
            self.state = State.MENU
            self._output.logged_in(user.name, user.id)
            welcome = texts.WELCOME.format(name=user.name, id=user.id)
            self._output.write(welcome + texts.MENU + texts.OPTION_PROMPT)

        def refused(error: errors.ChatError) -> None:
            if isinstance(error, errors.InvalidName):
                self._error(NAME_PROBLEMS[error.problem])
            elif isinstance(error, errors.NameTaken):
                self._error(texts.NAME_TAKEN.format(name=name))
            else:
                raise error

        return self._answer(self._hub.login(name, self), admitted, refused)

    def _on_option(self, line: str) -> Deferred[None] | None:
        option = line.strip()
        output = self._output
        if not option:
            output.write(
                texts.ERROR.format(reason=texts.NO_OPTION)
                + texts.MENU
                + texts.OPTION_PROMPT
            )
        elif option == "1":
            users = ", ".join(f"{u.name}:{u.id}" for u in self._hub.users())
            output.write(texts.USER_LIST.format(users=users) + texts.OPTION_PROMPT)
        elif option == "2":
            self._ask(State.MESSAGE_TEXT)
        elif option == "3":
            return self._answer(
                self._hub.read_messages(self._user), self._show_mailbox, _no_refusal
            )
        elif option == "4":
            self._ask(State.NEW_ROOM)
        elif option == "5":
            self._ask(State.JOIN_ROOM)
        elif option == "6":
            self._leave_hub()
            output.write(texts.GOODBYE)
            output.close()
        else:
            self._error(texts.BAD_OPTION.format(option=clean(option)[:40]))
        return None

    def _on_message_text(self, line: str) -> None:
        text = clean(line).strip()
        if not text:
            self._fail(texts.EMPTY_MESSAGE)
        else:
            self._pending_text = text
            self._ask(State.MESSAGE_RECIPIENT)

    def _on_message_recipient(self, line: str) -> Deferred[None] | None:
        text, self._pending_text = self._pending_text, ""
        answer = clean(line).strip()
        if not answer:
            self._fail(texts.NO_RECIPIENT)
            return None
        if not (answer.isascii() and answer.isdigit()) or len(answer) > 18:
            self._fail(texts.BAD_RECIPIENT.format(text=answer[:40]))
            return None
        recipient_id = int(answer)

        def sent(message: Message) -> None:
            self.state = State.MENU
            self._output.write(texts.MESSAGE_SENT + texts.OPTION_PROMPT)

        def refused(error: errors.ChatError) -> None:
            if isinstance(error, errors.UnknownUser):
                self._fail(texts.UNKNOWN_USER.format(id=recipient_id))
            elif isinstance(error, errors.MailboxFull):
                self._fail(texts.MAILBOX_FULL.format(id=recipient_id))
            elif isinstance(error, errors.EmptyMessage):
                self._fail(texts.EMPTY_MESSAGE)
            else:
                raise error

        return self._answer(
            self._hub.send_message(self._user, recipient_id, text), sent, refused
        )

    def _on_new_room(self, line: str) -> None:
        room_id = line.strip()
        try:
            room = self._hub.create_room(self._user, room_id)
        except errors.InvalidRoomId as e:
            self._fail(ROOM_PROBLEMS[e.problem])
        except errors.RoomTaken:
            self._fail(texts.ROOM_TAKEN.format(room=clean(room_id)))
        except errors.TooManyRooms:
            self._fail(texts.TOO_MANY_ROOMS)
        else:
            self.state = State.IN_ROOM
            self._output.write(texts.ROOM_CREATED.format(room=room.id))

    def _on_join_room(self, line: str) -> None:
        room_id = line.strip()
        try:
            self._hub.join_room(self._user, room_id)
        except errors.InvalidRoomId as e:
            self._fail(ROOM_PROBLEMS[e.problem])
        except errors.UnknownRoom:
            self._fail(texts.UNKNOWN_ROOM.format(room=clean(room_id)))
        except errors.RoomFull:
            self._fail(texts.ROOM_FULL.format(room=clean(room_id)))

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
                self._go_to_menu(texts.ROOM_CLOSED_BY_YOU.format(room=room.id))
            else:
                self._output.write(texts.MEMBER_USE_BYE)
        elif command == "bye":
            if is_owner:
                self._output.write(texts.OWNER_USE_EXIT)
            else:
                self._hub.leave_room(user)
                self._go_to_menu(texts.ROOM_LEFT.format(room=room.id))
        else:
            self._hub.say(user, text)

    def _on_closed(self, line: str) -> None:
        """Lines that were already on their way when the session ended."""

    # Answers from the store

    def _answer(
        self,
        pending: Deferred[_T],
        done: Callable[[_T], None],
        refused: Callable[[errors.ChatError], None],
    ) -> Deferred[None] | None:
        """Render C{pending}'s outcome when it comes; None if it came already.

        A refusal is rendered by C{refused}; anything else is a fault of the
        server or its store: logged, and the user told that nothing changed.
        """

        def failed(reason: Failure) -> None:
            if reason.check(errors.ChatError) and self.state is not State.CLOSED:
                try:
                    refused(reason.value)  # type: ignore[arg-type]
                except errors.ChatError:
                    pass
                else:
                    return
            self.log.failure("Request failed", reason)
            if self.state is State.NAME:
                self._error(texts.STORE_FAILED)
            elif self.state is not State.CLOSED:
                self._fail(texts.STORE_FAILED)

        answered: Deferred[None] = pending.addCallbacks(done, failed)
        if answered.called:
            return None
        return answered

    def _show_mailbox(self, messages: list[Message]) -> None:
        if not messages:
            self._output.write(texts.NO_MESSAGES + texts.OPTION_PROMPT)
            return
        self._output.write(
            texts.MY_MESSAGES
            + "".join(
                texts.MESSAGE_LINE.format(
                    time=format_time(m.sent_at), text=m.text, sender=m.sender_name
                )
                for m in messages
            )
            + texts.OPTION_PROMPT
        )

    # Rendering

    @property
    def _user(self) -> User:
        assert self.user is not None
        return self.user

    def _ask(self, state: State) -> None:
        self.state = state
        self._output.write(PROMPTS[state])

    def _error(self, reason: str) -> None:
        """An error line, then the prompt of the current state again."""
        self._output.write(texts.ERROR.format(reason=reason) + PROMPTS[self.state])

    def _fail(self, reason: str) -> None:
        """A sub-prompt's error: the line, then back to the option prompt."""
        self.state = State.MENU
        self._error(reason)

    def _notice(self, text: str) -> None:
        """An unprompted line; a prompt the user sits at is asked again."""
        prompt = PROMPTS[self.state]
        if prompt:
            self._output.write(texts.CRLF + text + prompt)
        else:
            self._output.write(text)

    def _go_to_menu(self, text: str) -> None:
        self.state = State.MENU
        self._output.write(text + texts.MENU + texts.OPTION_PROMPT)

    def _leave_hub(self) -> None:
        self.state = State.CLOSED
        if self.user is not None:
            self._forget(self._hub.logout(self.user))

    def _forget(self, leaving: Deferred[None]) -> None:
        leaving.addErrback(lambda f: self.log.failure("Logout failed", f))


def _no_refusal(error: errors.ChatError) -> None:
    raise error


_HANDLERS: dict[State, Callable[[Session, str], Any]] = {
    State.NAME: Session._on_name,
    State.MENU: Session._on_option,
    State.MESSAGE_TEXT: Session._on_message_text,
    State.MESSAGE_RECIPIENT: Session._on_message_recipient,
    State.NEW_ROOM: Session._on_new_room,
    State.JOIN_ROOM: Session._on_join_room,
    State.IN_ROOM: Session._on_room_line,
    State.CLOSED: Session._on_closed,
}
