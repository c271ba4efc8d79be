"""The factory: connection caps, output batching and shutdown."""

import pytest
from twisted.internet.address import IPv4Address, UNIXAddress
from twisted.internet.error import ConnectionDone
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransportWithDisconnection
from twisted.python.failure import Failure

from menuchat.config import Limits
from menuchat.frontends.menu import texts
from tests.support import make_factory


def connect(factory, host="127.0.0.1", port=40000):
    address = IPv4Address("TCP", host, port)
    protocol = factory.buildProtocol(address)
    transport = StringTransportWithDisconnection(peerAddress=address)
    transport.protocol = protocol
    protocol.makeConnection(transport)
    factory.clock.advance(0)  # the turn ends: the greeting goes out
    return protocol, transport


def test_past_max_clients_a_newcomer_is_told_and_closed():
    factory = make_factory(Clock(), Limits(max_clients=2))
    connect(factory, port=1)
    connect(factory, host="10.0.0.2", port=2)
    _, transport = connect(factory, host="10.0.0.3", port=3)
    assert transport.value() == texts.SERVER_FULL.encode()
    assert not transport.connected
    assert len(factory.admission.connections) == 2


def test_a_freed_place_is_taken_again():
    factory = make_factory(Clock(), Limits(max_clients=1))
    _, first = connect(factory, port=1)
    first.loseConnection()
    _, second = connect(factory, port=2)
    assert second.connected
    assert second.value().endswith(b"Your id key (i.e your name): ")


def test_unix_socket_peers_have_no_per_address_cap():
    factory = make_factory(Clock(), Limits(max_per_address=1))
    transports = []
    for _ in range(3):
        protocol = factory.buildProtocol(UNIXAddress(None))
        transport = StringTransportWithDisconnection(peerAddress=UNIXAddress(None))
        transport.protocol = protocol
        protocol.makeConnection(transport)
        transports.append(transport)
    assert all(t.connected for t in transports)
    for transport in transports:
        transport.loseConnection()
    assert factory.admission.connections == set()


def test_limits_refuse_impossible_values():
    for bad in [{"line_burst": 0}, {"max_clients": -1}, {"line_rate": -1.0}]:
        with pytest.raises((ValueError, TypeError)):
            Limits(**bad)


def test_per_address_cap_counts_each_address_apart():
    factory = make_factory(Clock(), Limits(max_per_address=2))
    connect(factory, port=1)
    connect(factory, port=2)
    _, refused = connect(factory, port=3)
    _, other = connect(factory, host="127.0.0.2", port=4)
    assert refused.value() == texts.ADDRESS_FULL.encode()
    assert not refused.connected
    assert other.connected
    assert len(factory.admission.connections) == 3


def test_refused_connections_are_never_counted():
    factory = make_factory(Clock(), Limits(max_per_address=1))
    _, kept = connect(factory, port=1)
    for port in range(2, 10):
        connect(factory, port=port)
    kept.loseConnection()
    _, again = connect(factory, port=10)
    assert again.connected
    assert len(factory.admission.connections) == 1


def test_output_goes_out_once_a_turn_in_one_write():
    clock = Clock()
    factory = make_factory(clock)
    protocol, transport = connect(factory)
    transport.clear()
    writes = []
    transport.write = writes.append
    protocol.write("one\r\n")
    protocol.write("two\r\n")
    assert writes == []
    assert len(clock.getDelayedCalls()) == 2  # the login timeout and the flush
    clock.advance(0)
    assert writes == [b"one\r\ntwo\r\n"]
    assert len(clock.getDelayedCalls()) == 1


def test_shutdown_tells_everyone_and_closes_every_connection():
    clock = Clock()
    factory = make_factory(clock)
    nina, nina_wire = connect(factory, port=1)
    nina.dataReceived(b"Nina\n4\nden\n")
    jose, jose_wire = connect(factory, port=2)
    jose.dataReceived(b"Jose\n5\nden\n")
    clock.advance(0)
    nina_wire.clear()
    jose_wire.clear()
    # StringTransport only notes the close; the connection ends afterwards.
    nina_wire.loseConnection = lambda: setattr(nina_wire, "disconnecting", True)
    jose_wire.loseConnection = lambda: setattr(jose_wire, "disconnecting", True)
    done = factory.admission.shutdown()
    fired = []
    done.addCallback(fired.append)
    assert nina_wire.value() == texts.SHUTDOWN.encode()
    assert jose_wire.value() == texts.SHUTDOWN.encode()
    assert nina_wire.disconnecting and jose_wire.disconnecting
    assert fired == []
    for protocol, wire in [(nina, nina_wire), (jose, jose_wire)]:
        wire.connected = False
        protocol.connectionLost(Failure(ConnectionDone()))
    assert fired == [None]
    assert factory.hub.users() == []
    assert factory.hub.rooms() == []
    clock.advance(0)
    assert clock.getDelayedCalls() == []


def test_shutdown_aborts_connections_that_do_not_close_in_time():
    clock = Clock()
    factory = make_factory(clock, Limits(close_timeout=5))
    protocol, wire = connect(factory)
    wire.loseConnection = lambda: None  # a peer that never lets go
    aborted = []
    wire.abortConnection = lambda: (
        aborted.append(True),
        protocol.connectionLost(Failure(ConnectionDone())),
    )
    fired = []
    factory.admission.shutdown().addCallback(fired.append)
    clock.advance(4.9)
    assert (aborted, fired) == ([], [])
    clock.advance(0.1)
    assert aborted == [True]
    assert fired == [None]


def test_new_connections_are_refused_while_stopping():
    factory = make_factory(Clock())
    factory.admission.shutdown()
    _, transport = connect(factory)
    assert transport.value() == texts.SHUTDOWN.encode()
    assert not transport.connected
