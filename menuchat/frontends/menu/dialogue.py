"""The dialogue: one L{Session} per connected person, from name to goodbye.

A session is a state machine fed whole, decoded lines. It asks the hub to
act and renders the outcome with the phrases of L{texts}; it never touches
bytes, sockets or the reactor. The transport side is the L{Output} it is
given. A line whose answer needs the store returns the Deferred of that
answer: the connection reads no further line until it fires, so pipelined
input is handled in order, in the state the lines before it left. A private
message is the exception: whatever the store answers, it leaves the
dialogue at the option prompt (or in its room), so the session reads on and
its answer, once in, is written before the answers of the lines after it
(L{menuchat.frontends.menu.replies}).

The session is made of parts: L{SessionBase} (state and the ways of
answering), L{Commands} (what the options and slash commands do, and life
in a room), L{EventView} (hub events as text) and L{AccountDialogue}
(passwords and option 8). This module holds the log-in, the menu and its
sub-prompts, and the connection's side of the session's life.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from twisted.internet.defer import Deferred

from menuchat.core import errors
from menuchat.frontends.menu import texts
from menuchat.frontends.menu.account import AccountDialogue
from menuchat.frontends.menu.base import (
    NAME_PROBLEMS,
    PROMPTS,
    SUB_PROMPTS,
    WIRE,
    Output,
    State,
    clean,
    format_time,
)
from menuchat.frontends.menu.commands import Commands
from menuchat.frontends.menu.view import EventView

__all__ = ["WIRE", "Output", "Session", "State", "clean", "format_time"]


class Session(AccountDialogue, Commands, EventView):
    """The dialogue with one connected person; a L{menuchat.core.events.Member}."""

    __slots__ = ()

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
        if self.state in SUB_PROMPTS:
            if self.state in (State.NEW_PASSWORD, State.PASSWORD_AGAIN):
                self._output.hide_input(False)
            self._fail(reason)
        elif self.state is State.PASSWORD:
            self._output.hide_input(False)
            self.state = State.NAME
            self._error(reason)
        elif self.state is State.IN_ROOM:
            self._refuse(reason)
        elif self.state is not State.CLOSED:
            self._error(reason)

    def end(self, farewell: str) -> None:
        """Forget the user, say C{farewell} and close, as for a timeout."""
        if self.state is not State.CLOSED:
            self._unhold()
            text = self.farewell(farewell)
            self._leave_hub()
            self._output.write(text)
            self._output.close()

    def timed_out(self) -> None:
        """No name came in time, or no line while idle: say so and close."""
        self.end(texts.LOGIN_TIMEOUT if self.user is None else texts.IDLE_TIMEOUT)

    def server_stopping(self) -> None:
        """The server is going down: say so and close.

        The user stays in the hub until the connection is gone, as for any
        drop, so no one is told of rooms closing while everyone is being
        told goodbye.
        """
        if self.state is not State.CLOSED:
            self._unhold()
            text = self.farewell(texts.SHUTDOWN)
            self.state = State.CLOSED
            self._output.write(text)
            self._output.close()

    def farewell(self, text: str) -> str:
        """C{text} as a last line: on a line of its own after a prompt."""
        return texts.CRLF + text if PROMPTS[self.state] else text

    def connection_lost(self) -> None:
        """The connection is gone, however it ended: forget the user."""
        self._unhold()
        self._leave_hub()

    # Log-in

    def _on_name(self, line: str) -> Deferred[None] | None:
        name = line.strip()

        def refused(error: errors.ChatError) -> None:
            if isinstance(error, errors.InvalidName):
                self._error(NAME_PROBLEMS[error.problem])
            elif isinstance(error, errors.NameTaken):
                self._error(texts.NAME_TAKEN.format(name=name))
            elif isinstance(error, errors.PasswordRequired):
                self._ask_login_password(error.name)
            else:
                raise error

        return self._answer(self._hub.login(name, self), self._admitted, refused)

    # The menu

    def _on_option(self, line: str) -> Deferred[None] | None:
        option = line.strip()
        if option.startswith("/"):
            return self._command(clean(option))
        if not option:
            self._output.write(
                texts.ERROR.format(reason=texts.NO_OPTION)
                + texts.MENU
                + texts.OPTION_PROMPT
            )
        elif option == "1":
            self._list_users()
        elif option == "2":
            self._ask(State.MESSAGE_TEXT)
        elif option == "3":
            return self._read_mail()
        elif option == "4":
            self._ask(State.NEW_ROOM)
        elif option == "5":
            self._ask(State.JOIN_ROOM)
        elif option == "6":
            self._quit()
        elif option == "7":
            self._list_rooms()
        elif option == "8":
            self._open_account()
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
        return self._send(answer, text)

    def _on_new_room(self, line: str) -> Deferred[None] | None:
        return self._create(line.strip())

    def _on_join_room(self, line: str) -> None:
        self._join(line.strip())

    def _on_closed(self, line: str) -> None:
        """Lines that were already on their way when the session ended."""


_HANDLERS: dict[State, Callable[[Session, str], Any]] = {
    State.NAME: Session._on_name,
    State.MENU: Session._on_option,
    State.MESSAGE_TEXT: Session._on_message_text,
    State.MESSAGE_RECIPIENT: Session._on_message_recipient,
    State.NEW_ROOM: Session._on_new_room,
    State.JOIN_ROOM: Session._on_join_room,
    State.IN_ROOM: Session._on_room_line,
    State.PASSWORD: Session._on_password,
    State.ACCOUNT: Session._on_account_choice,
    State.NEW_PASSWORD: Session._on_new_password,
    State.PASSWORD_AGAIN: Session._on_password_again,
    State.CONFIRM_DELETE: Session._on_confirm_delete,
    State.CLOSED: Session._on_closed,
}
