"""The factory: the one object every connection of a server shares.

It owns the hub, the limits, the clock, the set of live connections and the
once-a-turn output flush, and it is how the server stops: every user is
told, every connection closed.
"""

from __future__ import annotations

from collections import Counter

import attrs
from twisted.internet.defer import Deferred, succeed
from twisted.internet.interfaces import IAddress, IDelayedCall, IReactorTime
from twisted.internet.protocol import ServerFactory
from twisted.logger import Logger

from menuchat import menu
from menuchat.hub import Hub
from menuchat.protocol import MenuChatProtocol

__all__ = ["Limits", "MenuChatFactory"]


_COUNT = [attrs.validators.instance_of(int), attrs.validators.ge(1)]
_AMOUNT = [attrs.validators.instance_of((int, float)), attrs.validators.ge(0)]


@attrs.frozen
class Limits:
    """Every limit of a server; 0 disables the rate and the timeouts."""

    max_line_length: int = attrs.field(default=2048, validator=_COUNT)
    line_rate: float = attrs.field(default=10.0, validator=_AMOUNT)
    line_burst: int = attrs.field(default=40, validator=_COUNT)
    max_output: int = attrs.field(default=1024 * 1024, validator=_COUNT)
    login_timeout: float = attrs.field(default=60.0, validator=_AMOUNT)
    idle_timeout: float = attrs.field(default=0.0, validator=_AMOUNT)
    close_timeout: float = attrs.field(default=10.0, validator=_AMOUNT)
    max_clients: int = attrs.field(default=10000, validator=_COUNT)
    max_per_address: int = attrs.field(default=100, validator=_COUNT)
    max_rooms: int = attrs.field(default=1000, validator=_COUNT)
    max_room_members: int = attrs.field(default=1000, validator=_COUNT)
    mailbox_size: int = attrs.field(default=100, validator=_COUNT)


class MenuChatFactory(ServerFactory):
    """Builds a L{MenuChatProtocol} per connection around one shared L{Hub}.

    @param clock: the reactor, or a L{task.Clock} in tests; times timeouts
        and the line rate, and stamps messages.
    """

    protocol = MenuChatProtocol
    log = Logger()

    def __init__(self, clock: IReactorTime, limits: Limits | None = None) -> None:
        self.clock = clock
        self.limits = limits = limits or Limits()
        self.hub = Hub(
            now=clock.seconds,
            mailbox_size=limits.mailbox_size,
            max_rooms=limits.max_rooms,
            max_room_members=limits.max_room_members,
        )
        self.connections: set[MenuChatProtocol] = set()
        self._per_address: Counter[str] = Counter()
        self._dirty: list[MenuChatProtocol] = []
        # The text written last and its UTF-8: a room line is one text object
        # written to every member in turn, encoded once for all of them.
        self.last_text = ""
        self.last_data = b""
        self._flush_call: IDelayedCall | None = None
        self._stopping = False
        self._drained: Deferred[None] | None = None

    # Admission

    def admit(self, protocol: MenuChatProtocol) -> str | None:
        """Count in a new connection, or say why it is refused."""
        host = _host(protocol.transport.getPeer())
        limits = self.limits
        if self._stopping:
            refusal = menu.SHUTDOWN
        elif len(self.connections) >= limits.max_clients:
            refusal = menu.SERVER_FULL
        elif host is not None and self._per_address[host] >= limits.max_per_address:
            refusal = menu.ADDRESS_FULL
        else:
            self.connections.add(protocol)
            if host is not None:
                self._per_address[host] += 1
            return None
        self.log.warn(
            "{peer} refused: {why}", peer=protocol.peer(), why=refusal.strip()
        )
        return refusal

    def forget(self, protocol: MenuChatProtocol) -> None:
        """Count out a closed connection (refused ones were never counted)."""
        if protocol not in self.connections:
            return
        self.connections.discard(protocol)
        host = _host(protocol.transport.getPeer())
        if host is not None:
            self._per_address[host] -= 1
            if not self._per_address[host]:
                del self._per_address[host]
        if not self.connections and self._drained is not None:
            drained, self._drained = self._drained, None
            drained.callback(None)

    # Output

    def flush_soon(self, protocol: MenuChatProtocol) -> None:
        """Have C{protocol}'s queued output written at the next reactor turn.

        Everything said to a connection during one turn (a read's worth of
        lines, from any number of senders) then leaves in one write: in a
        room of R members, K lines cost R writes instead of K times R.
        """
        self._dirty.append(protocol)
        if self._flush_call is None:
            self._flush_call = self.clock.callLater(0, self._flush)

    def _flush(self) -> None:
        self._flush_call = None
        dirty, self._dirty = self._dirty, []
        for protocol in dirty:
            protocol.flush()

    # Stopping

    def shutdown(self) -> Deferred[None]:
        """Tell every user the server is going down and close every connection.

        The Deferred fires once every connection is closed; a connection
        still open after the close timeout is aborted. The hub forgets each
        user as its connection ends, as for any drop, so no one is told of
        rooms closing while everyone is being told goodbye.
        """
        self._stopping = True
        if not self.connections:
            return succeed(None)
        self.log.info(
            "Stopping: closing {count} connections", count=len(self.connections)
        )
        self._drained = drained = Deferred()
        for protocol in list(self.connections):
            session = protocol.session
            farewell = session.farewell(menu.SHUTDOWN) if session else menu.SHUTDOWN
            protocol.write(farewell)
            protocol.close()
        return drained


def _host(address: IAddress) -> str | None:
    """The peer's IP address; None for peers without one (UNIX sockets)."""
    return getattr(address, "host", None)
