"""A client protocol and a server factory's protocol joined in memory.

A thin wrapper around L{twisted.test.iosim.connectedServerAndClient}: the
returned pump moves bytes both ways when flushed, and advances its clock by
zero each round so C{callLater(0, ...)} calls run. It never calls
C{pauseProducing}: drive back-pressure by hand.
"""

from __future__ import annotations

from typing import TypeVar

from twisted.internet.address import IPv4Address
from twisted.internet.defer import Deferred, succeed
from twisted.internet.interfaces import (
    IProtocol,
    IProtocolFactory,
    IStreamClientEndpoint,
)
from twisted.internet.task import Clock
from twisted.test.iosim import IOPump, connectedServerAndClient
from zope.interface import implementer

__all__ = ["InMemoryEndpoint", "connect_in_memory"]

_P = TypeVar("_P", bound=IProtocol)

CLIENT_ADDRESS = IPv4Address("TCP", "127.0.0.1", 40000)


def connect_in_memory(
    server_factory: IProtocolFactory,
    client: _P,
    clock: Clock | None = None,
    greet: bool = True,
) -> tuple[_P, IProtocol, IOPump]:
    """Connect C{client} to a protocol of C{server_factory}.

    With C{greet} the pump is flushed once, so what the server says on
    connecting has reached the client. Returns the client, the server's
    protocol and the pump.
    """
    return connectedServerAndClient(
        lambda: server_factory.buildProtocol(CLIENT_ADDRESS),
        lambda: client,
        greet=greet,
        clock=clock,
    )


@implementer(IStreamClientEndpoint)
class InMemoryEndpoint:
    """A client endpoint whose connections reach C{server_factory} in memory.

    Each connection's pump is appended to C{pumps}; C{flush} flushes all.
    """

    def __init__(self, server_factory: IProtocolFactory, clock: Clock) -> None:
        self.server_factory = server_factory
        self.clock = clock
        self.pumps: list[IOPump] = []

    def connect(self, factory: IProtocolFactory) -> Deferred[IProtocol]:
        client = factory.buildProtocol(CLIENT_ADDRESS)
        assert client is not None
        _, _, pump = connect_in_memory(self.server_factory, client, self.clock)
        self.pumps.append(pump)
        return succeed(client)

    def flush(self) -> None:
        for pump in self.pumps:
            pump.flush()
