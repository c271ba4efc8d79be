"""The IRC session: one per connection, from the first line to the last.

Each whole, decoded line is parsed and handed to the C{irc_<COMMAND>}
method of the parts the session is made of: L{Registration}, and
L{EventView} (with L{Messages} and L{Channels} below it). A command
whose answer needs the store returns a Deferred, and the connection
reads no further line until it fires, so pipelined commands (NICK, USER,
JOIN in one packet) are handled in order. Before registration only the
commands of registration are allowed (ERR_NOTREGISTERED, 451).
"""

from __future__ import annotations

from collections.abc import Callable

from twisted.internet.defer import Deferred

from menuchat.frontends.irc import numerics as n
from menuchat.frontends.irc.base import Gateway, Output, State
from menuchat.frontends.irc.registration import Registration
from menuchat.frontends.irc.view import EventView
from menuchat.frontends.irc.wire import parse

__all__ = ["Gateway", "IRCSession", "Output"]

_Command = Callable[["IRCSession", list[str]], "Deferred[None] | None"]

#: What a client may send before it is registered.
BEFORE_REGISTRATION = frozenset(
    {"CAP", "AUTHENTICATE", "PASS", "NICK", "USER", "PING", "PONG", "QUIT"}
)


class IRCSession(Registration, EventView):
    """One IRC client; a L{menuchat.core.events.Member} once registered."""

    # Driven by the connection

    def start(self) -> None:
        """An IRC server waits for the client to speak first."""

    def line_received(self, text: str) -> Deferred[None] | None:
        self.heard()
        if self.state is State.CLOSED:
            return None
        parsed = parse(text)
        if parsed is None:
            return None  # empty lines are ignored
        command, params = parsed
        handler = COMMANDS.get(command)
        if self.state is State.REGISTERING and command not in BEFORE_REGISTRATION:
            self.numeric(n.ERR_NOTREGISTERED, n.NOT_REGISTERED)
            return None
        if handler is None:
            self.numeric(n.ERR_UNKNOWNCOMMAND, command[:32], n.UNKNOWN_COMMAND)
            return None
        return handler(self, params)

    def invalid_utf8(self, line: bytes) -> None:
        """A line that is not UTF-8 was dropped: say so, and go on."""
        self.heard()
        parsed = parse(line.decode("latin-1"))
        command = parsed[0] if parsed is not None else "*"
        if not command.isascii() or not command.isalnum():
            command = "*"
        self.fail(command, "INVALID_UTF8", n.INVALID_UTF8)

    def line_too_long(self, limit: int) -> None:
        self.numeric(n.ERR_INPUTTOOLONG, n.INPUT_TOO_LONG)

    def timed_out(self) -> None:
        closed = n.CLOSED_TIMEOUT if self.user is None else n.CLOSED_IDLE
        self.close_with(closed.format(nick=self.me))

    def server_stopping(self) -> None:
        """Say goodbye; the user stays in the hub until the connection is
        gone, so no one hears of rooms closing while all are told goodbye."""
        if self.state is not State.CLOSED:
            self.send(None, "ERROR", n.CLOSED_SHUTDOWN.format(nick=self.me))
            self.state = State.CLOSED
            self._stop_pinging()
            self._output.close()

    def connection_lost(self) -> None:
        self._leave_hub(n.CONNECTION_CLOSED)


COMMANDS: dict[str, _Command] = {
    name[4:]: getattr(IRCSession, name)
    for name in dir(IRCSession)
    if name.startswith("irc_")
}
