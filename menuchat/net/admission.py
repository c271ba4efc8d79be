"""Who may connect: caps on connections, overall and per address.

One L{Admission} is shared by every front-end of a server, so the caps
count menu and IRC connections together, and it is how the server stops:
it refuses newcomers and asks every live connection to close.
"""

from __future__ import annotations

from collections import Counter
from enum import Enum
from typing import Protocol

from twisted.internet.defer import Deferred, succeed
from twisted.internet.interfaces import IAddress

__all__ = ["Admission", "Refusal", "host_of"]


class Refusal(Enum):
    """Why a connection was refused."""

    STOPPING = "the server is stopping"
    SERVER_FULL = "the server is full"
    ADDRESS_FULL = "too many connections from the address"


class Admitted(Protocol):
    """A connection that was let in."""

    def server_stopping(self) -> None:
        """Tell the user the server is going down, and close."""


def host_of(address: IAddress) -> str | None:
    """The peer's IP address; None for peers without one (UNIX sockets)."""
    host = getattr(address, "host", None)
    return host if isinstance(host, str) else None


class Admission:
    """The live connections of a server, and the caps on them."""

    def __init__(self, max_clients: int, max_per_address: int) -> None:
        self.max_clients = max_clients
        self.max_per_address = max_per_address
        self.connections: set[Admitted] = set()
        self._per_address: Counter[str] = Counter()
        self._stopping = False
        self._drained: Deferred[None] | None = None

    def admit(self, connection: Admitted, host: str | None) -> Refusal | None:
        """Count in a new connection from C{host}, or say why it is refused."""
        if self._stopping:
            return Refusal.STOPPING
        if len(self.connections) >= self.max_clients:
            return Refusal.SERVER_FULL
        if host is not None and self._per_address[host] >= self.max_per_address:
            return Refusal.ADDRESS_FULL
        self.connections.add(connection)
        if host is not None:
            self._per_address[host] += 1
        return None

    def forget(self, connection: Admitted, host: str | None) -> None:
        """Count out a closed connection (refused ones were never counted)."""
        if connection not in self.connections:
            return
        self.connections.discard(connection)
        if host is not None:
            self._per_address[host] -= 1
            if not self._per_address[host]:
                del self._per_address[host]
        if not self.connections and self._drained is not None:
            drained, self._drained = self._drained, None
            drained.callback(None)

    def shutdown(self) -> Deferred[None]:
        """Refuse newcomers and close every connection, telling its user.

        Fires once every connection is closed.
        """
        self._stopping = True
        if not self.connections:
            return succeed(None)
        self._drained = drained = Deferred[None]()
        for connection in list(self.connections):
            connection.server_stopping()
        return drained
