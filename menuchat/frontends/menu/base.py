"""What every part of the menu dialogue shares: states, prompts, the output,
text cleaning, and the session's state with its ways of answering.

L{SessionBase} holds a session's state and the small moves every part of
the dialogue makes (ask, answer, refuse, notice); the parts themselves
(accounts, commands, hub events) are its subclasses, and the
L{menuchat.frontends.menu.dialogue.Session} is all of them.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from enum import Enum
from typing import TYPE_CHECKING, Protocol, TypeVar

from twisted.internet.defer import Deferred
from twisted.logger import Logger
from twisted.python.failure import Failure

from menuchat.core import errors
from menuchat.core.accounts import Accounts
from menuchat.core.answers import settle
from menuchat.core.errors import TokenProblem
from menuchat.core.events import MessageWaiting
from menuchat.core.hub import Hub, User
from menuchat.core.names import MAX_TOKEN_LENGTH
from menuchat.frontends.failures import log_failure, log_if_fails
from menuchat.frontends.menu import texts
from menuchat.frontends.menu.replies import HeldOutput, Owed

if TYPE_CHECKING:
    from menuchat.frontends.menu.audience import MenuAudience
    from menuchat.net.output import SharedLines

__all__ = [
    "PROMPTS",
    "WIRE",
    "Output",
    "SessionBase",
    "State",
    "clean",
    "format_time",
]

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
    PASSWORD = "password"
    ACCOUNT = "account"
    NEW_PASSWORD = "new password"
    PASSWORD_AGAIN = "password again"
    CONFIRM_DELETE = "confirm delete"
    CLOSED = "closed"

    # Each line looks its state up in a dict or two: the members are
    # singletons, so identity hashes them as well as Enum's hash of the
    # name does, in C rather than in Python.
    __hash__ = object.__hash__


PROMPTS = {
    State.NAME: texts.NAME_PROMPT,
    State.MENU: texts.OPTION_PROMPT,
    State.MESSAGE_TEXT: texts.MESSAGE_PROMPT,
    State.MESSAGE_RECIPIENT: texts.RECIPIENT_PROMPT,
    State.NEW_ROOM: texts.NEW_ROOM_PROMPT,
    State.JOIN_ROOM: texts.JOIN_ROOM_PROMPT,
    State.IN_ROOM: "",
    State.PASSWORD: texts.PASSWORD_PROMPT,
    State.ACCOUNT: texts.ACCOUNT_PROMPT,
    State.NEW_PASSWORD: texts.NEW_PASSWORD_PROMPT,
    State.PASSWORD_AGAIN: texts.PASSWORD_AGAIN_PROMPT,
    State.CONFIRM_DELETE: texts.DELETE_PROMPT,
    State.CLOSED: "",
}

#: The prompts an error leaves for the option prompt: the user is never stuck.
SUB_PROMPTS = frozenset(
    {
        State.MESSAGE_TEXT,
        State.MESSAGE_RECIPIENT,
        State.NEW_ROOM,
        State.JOIN_ROOM,
        State.ACCOUNT,
        State.NEW_PASSWORD,
        State.PASSWORD_AGAIN,
        State.CONFIRM_DELETE,
    }
)

NAME_PROBLEMS = {
    TokenProblem.EMPTY: texts.NAME_EMPTY,
    TokenProblem.TOO_LONG: texts.NAME_TOO_LONG.format(limit=MAX_TOKEN_LENGTH),
    TokenProblem.CONTROL: texts.NAME_CONTROL,
    TokenProblem.SPACE: texts.NAME_SPACE,
    TokenProblem.PUNCTUATION: texts.NAME_PUNCTUATION,
    TokenProblem.INVISIBLE: texts.NAME_INVISIBLE,
}
ROOM_PROBLEMS = {
    TokenProblem.EMPTY: texts.ROOM_EMPTY,
    TokenProblem.TOO_LONG: texts.ROOM_TOO_LONG.format(limit=MAX_TOKEN_LENGTH),
    TokenProblem.CONTROL: texts.ROOM_CONTROL,
    TokenProblem.SPACE: texts.ROOM_SPACE,
    TokenProblem.PUNCTUATION: texts.ROOM_PUNCTUATION,
    TokenProblem.INVISIBLE: texts.ROOM_INVISIBLE,
}


class Output(Protocol):
    """Where a session's text goes; the connection implements it."""

    def write(self, text: str) -> None:
        """Send C{text}, which carries its own line ends."""

    def write_bytes(self, data: bytes) -> None:
        """Send text already encoded (an event's cached rendering)."""

    def write_shared(self, shared: SharedLines) -> None:
        """Send lines queued for other connections too (a room's)."""

    def close(self) -> None:
        """Close the connection once everything written has been sent."""

    def logged_in(self, name: str, user_id: int) -> None:
        """The dialogue admitted a user: the connection's timeouts change."""

    def at_turn_end(self, call: Callable[[], None]) -> None:
        """Call C{call} once the events of this reactor turn are all in."""

    def at_read_end(self, call: Callable[[], None]) -> None:
        """Call C{call} once the read being handled is over (outside a
        read: at the end of the turn)."""

    def reply_later(self) -> None:
        """What was written for the line being handled waits for what is
        written next (an answer owed: one write, not two)."""

    def hide_input(self, hidden: bool) -> None:
        """Ask the terminal not to show what is typed (a password), or to again."""

    @property
    def address(self) -> str:
        """Where the connection comes from, for throttling password guesses."""

    @property
    def secure(self) -> bool:
        """Whether a password typed here stays off the network in clear: the
        connection is TLS, or comes from this machine (loopback, UNIX socket)."""


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


class SessionBase:
    """A session's state and the moves every part of the dialogue makes."""

    __slots__ = (
        "_accounts",
        "_held",
        "_hub",
        "_mail_notice",
        "_output",
        "_paid_waiters",
        "_passwords_need_tls",
        "_pending_name",
        "_pending_text",
        "audience",
        "state",
        "user",
    )

    log = Logger()

    def __init__(
        self,
        hub: Hub,
        output: Output,
        accounts: Accounts,
        *,
        passwords_need_tls: bool = False,
        audience: MenuAudience | None = None,
    ) -> None:
        #: Shared with the server's other menu sessions: room lines reach
        #: them all at once (L{menuchat.core.events.Audience}); None: this
        #: session is told each line by itself.
        self.audience = audience
        self._hub = hub
        self._output = output
        self._accounts = accounts
        self._passwords_need_tls = passwords_need_tls
        # Made when a line first waits for an owed answer: most never do.
        self._paid_waiters: list[Deferred[None]] | None = None
        self._held: HeldOutput | None = None
        self._pending_text = ""
        self._pending_name = ""
        self._mail_notice: MessageWaiting | None = None
        self.state = State.NAME
        self.user: User | None = None

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

    def _refuse(self, reason: str) -> None:
        """An error for a request: in a room, the line alone; elsewhere the
        line and the option prompt."""
        if self.state is State.IN_ROOM:
            self._output.write(texts.ERROR.format(reason=reason))
        elif self.state is not State.CLOSED:
            self._fail(reason)

    def _reply(self, text: str) -> None:
        """The answer to a request: in a room, the text alone; elsewhere the
        text and the option prompt."""
        if self.state is State.IN_ROOM:
            self._output.write(text)
        elif self.state is not State.CLOSED:
            self.state = State.MENU
            self._output.write(text + texts.OPTION_PROMPT)

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

    def _answer(
        self,
        pending: Deferred[_T],
        done: Callable[[_T], Deferred[None] | None],
        refused: Callable[[errors.ChatError], None],
    ) -> Deferred[None] | None:
        """Render C{pending}'s outcome when it comes; None if it came already.

        A refusal is rendered by C{refused} (which re-raises what it does not
        know); anything else is a fault of the server or its store: logged,
        and the user told that nothing changed.
        """
        return settle(pending, done, self._failed, refused)

    def _failed(
        self, reason: Failure, refused: Callable[[errors.ChatError], None]
    ) -> None:
        """A request failed: a refusal C{refused} renders, or a fault."""
        if reason.check(errors.ChatError) and self.state is not State.CLOSED:
            try:
                refused(reason.value)  # type: ignore[arg-type]
            except errors.ChatError:
                pass
            else:
                return
        log_failure(self.log, "Request failed", reason)
        if self.state is State.NAME:
            self._error(texts.STORE_FAILED)
        else:
            self._refuse(texts.STORE_FAILED)

    def _owe(self, owed: Owed) -> HeldOutput:
        """Keep a place for C{owed}, an answer still to come; what is
        written from now on waits behind it (see
        L{menuchat.frontends.menu.replies}). The output that holds it is
        made once, and used again each time the session owes again."""
        current = self._output
        if isinstance(current, HeldOutput):
            held = current
        else:
            current.reply_later()
            kept = self._held
            if kept is None or kept.output is not current:
                kept = self._held = HeldOutput(current, self._paid)
            held = self._output = kept
        held.owe(owed)
        return held

    def _paid(self) -> None:
        held = self._output
        if held is self._held and isinstance(held, HeldOutput):
            self._output = held.output
        waiters, self._paid_waiters = self._paid_waiters, None
        if waiters is not None:
            for waiting in waiters:
                waiting.callback(None)

    def _after_owed(self) -> Deferred[None] | None:
        """None if no answer is owed; else a Deferred firing once every
        answer owed is in. A line that reads what an owed answer stands for
        (the mailbox, after a message to oneself) waits for it, so that it
        finds the state the lines before it left."""
        held = self._output
        if not isinstance(held, HeldOutput) or not len(held):
            return None
        waiting: Deferred[None] = Deferred()
        if self._paid_waiters is None:
            self._paid_waiters = []
        self._paid_waiters.append(waiting)
        return waiting

    def _unhold(self) -> None:
        """The session ends: what it still owes is never written."""
        held = self._output
        if isinstance(held, HeldOutput):
            held.abandon()
            self._output = held.output

    def _leave_hub(self) -> None:
        self.state = State.CLOSED
        if self.user is not None:
            log_if_fails(self.log, "Logout failed", self._hub.logout(self.user))

    def _admitted(self, user: User) -> Deferred[None] | None:
        """C{user} is in: welcome them, with the count of mail waiting."""
        if self.state is State.CLOSED:  # the connection went meanwhile
            log_if_fails(self.log, "Logout failed", self._hub.logout(user))
            return None
        self.user = user
        self.state = State.MENU
        self._output.logged_in(user.name, user.id)
        welcome = texts.WELCOME.format(name=user.name, id=user.id)
        if not user.registered:  # a guest's mailbox is new and empty
            self._output.write(welcome + texts.MENU + texts.OPTION_PROMPT)
            return None

        def counted(unread: int) -> None:
            waiting = texts.UNREAD.format(count=unread) if unread else ""
            self._output.write(welcome + waiting + texts.MENU + texts.OPTION_PROMPT)

        return self._hub.unread(user).addCallback(counted)


def reraise(error: errors.ChatError) -> None:
    """A refusal handler for requests that know no refusal of their own."""
    raise error
