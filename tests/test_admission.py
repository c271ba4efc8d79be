"""Admission: the caps on connections and the shutdown that closes them all.

Admission itself with fake connections, and through the menu factory with
in-memory transports.
"""

from twisted.internet.address import IPv4Address, UNIXAddress
from twisted.internet.error import ConnectionDone
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport, StringTransportWithDisconnection
from twisted.logger import capturedLogs, formatEvent
from twisted.python.failure import Failure
from twisted.trial.unittest import SynchronousTestCase

from menuchat.config import Limits
from menuchat.frontends.menu import texts
from menuchat.net.admission import Admission, Refusal, host_of
from tests.support import connect, make_factory


class Connection:
    """An admitted connection that notes being asked to close."""

    def __init__(self):
        self.stopping = 0

    def server_stopping(self):
        self.stopping += 1


class AdmissionTests(SynchronousTestCase):
    """Admission on its own: counting in and out, refusals, shutdown."""

    def test_admits_up_to_max_clients(self):
        admission = Admission(max_clients=2, max_per_address=10)
        a, b, c = Connection(), Connection(), Connection()
        assert admission.admit(a, "10.0.0.1") is None
        assert admission.admit(b, "10.0.0.2") is None
        assert admission.admit(c, "10.0.0.3") is Refusal.SERVER_FULL
        assert admission.connections == {a, b}

    def test_per_address(self):
        admission = Admission(max_clients=10, max_per_address=1)
        assert admission.admit(Connection(), "10.0.0.1") is None
        assert admission.admit(Connection(), "10.0.0.1") is Refusal.ADDRESS_FULL
        assert admission.admit(Connection(), "10.0.0.2") is None
        assert admission.admit(Connection(), None) is None
        assert admission.admit(Connection(), None) is None

    def test_forget_frees_the_place_and_the_address(self):
        admission = Admission(max_clients=1, max_per_address=1)
        first = Connection()
        admission.admit(first, "10.0.0.1")
        admission.forget(first, "10.0.0.1")
        assert admission.connections == set()
        assert admission._per_address == {}
        assert admission.admit(Connection(), "10.0.0.1") is None

    def test_forgetting_a_refused_connection_changes_nothing(self):
        admission = Admission(max_clients=5, max_per_address=1)
        kept, refused = Connection(), Connection()
        admission.admit(kept, "10.0.0.1")
        assert admission.admit(refused, "10.0.0.1") is Refusal.ADDRESS_FULL
        admission.forget(refused, "10.0.0.1")
        admission.forget(refused, "10.0.0.1")
        assert admission.connections == {kept}
        assert admission.admit(Connection(), "10.0.0.1") is Refusal.ADDRESS_FULL

    def test_shutdown_with_no_one_fires_at_once(self):
        admission = Admission(max_clients=5, max_per_address=5)
        fired = []
        admission.shutdown().addCallback(fired.append)
        assert fired == [None]
        assert admission.admit(Connection(), "10.0.0.1") is Refusal.STOPPING

    def test_shutdown_asks_each_once_and_fires_when_the_last_is_gone(self):
        admission = Admission(max_clients=5, max_per_address=5)
        a, b = Connection(), Connection()
        admission.admit(a, "10.0.0.1")
        admission.admit(b, None)
        fired = []
        admission.shutdown().addCallback(fired.append)
        assert (a.stopping, b.stopping) == (1, 1)
        admission.forget(a, "10.0.0.1")
        assert fired == []
        admission.forget(b, None)
        assert fired == [None]

    def test_host_of(self):
        assert host_of(IPv4Address("TCP", "10.0.0.1", 5)) == "10.0.0.1"
        assert host_of(UNIXAddress(None)) is None
        assert host_of(UNIXAddress(b"/tmp/x.sock")) is None


class CapTests(SynchronousTestCase):
    """max_clients and max_per_address, through the menu factory."""

    def test_past_max_clients_a_newcomer_is_told_and_closed(self):
        factory = make_factory(Clock(), Limits(max_clients=2))
        connect(factory, port=1)
        connect(factory, host="10.0.0.2", port=2)
        _, transport = connect(factory, host="10.0.0.3", port=3)
        assert transport.value() == texts.SERVER_FULL.encode()
        assert not transport.connected
        assert len(factory.admission.connections) == 2

    def test_a_freed_place_is_taken_again(self):
        factory = make_factory(Clock(), Limits(max_clients=1))
        _, first = connect(factory, port=1)
        first.loseConnection()
        _, second = connect(factory, port=2)
        assert second.connected
        assert second.value().endswith(b"Your id key (i.e your name): ")

    def test_unix_socket_peers_have_no_per_address_cap(self):
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

    def test_per_address_cap_counts_each_address_apart(self):
        factory = make_factory(Clock(), Limits(max_per_address=2))
        connect(factory, port=1)
        connect(factory, port=2)
        _, refused = connect(factory, port=3)
        _, other = connect(factory, host="127.0.0.2", port=4)
        assert refused.value() == texts.ADDRESS_FULL.encode()
        assert not refused.connected
        assert other.connected
        assert len(factory.admission.connections) == 3

    def test_refused_connections_are_never_counted(self):
        factory = make_factory(Clock(), Limits(max_per_address=1))
        _, kept = connect(factory, port=1)
        for port in range(2, 10):
            connect(factory, port=port)
        kept.loseConnection()
        _, again = connect(factory, port=10)
        assert again.connected
        assert len(factory.admission.connections) == 1

    def test_refusals_are_logged_as_one_summary_a_second(self):
        clock = Clock()
        factory = make_factory(clock, Limits(max_clients=1))
        connect(factory, port=1)
        with capturedLogs() as events:
            for port in range(7, 12):
                connect(factory, host="10.0.0.7", port=port)
            clock.advance(1)
        (refused,) = [e for e in events if e.get("event") == "refusal"]
        assert refused["count"] == 5
        assert refused["why"] == "the server is full"

    def test_a_refusal_summary_reads_as_one_sentence(self):
        clock = Clock()
        factory = make_factory(clock, Limits(max_clients=1))
        connect(factory, port=1)
        with capturedLogs() as events:
            for port in range(7, 10):
                connect(factory, port=port)
            clock.advance(1)
        assert [formatEvent(e) for e in events if e.get("event") == "refusal"] == [
            "Refused 3 connection(s) in 1.0s: the server is full"
        ]


class ShutdownTests(SynchronousTestCase):
    """Admission.shutdown: refuse newcomers, close everyone, fire when done."""

    def test_shutdown_tells_everyone_and_closes_every_connection(self):
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

    def test_shutdown_aborts_connections_that_do_not_close_in_time(self):
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

    def test_new_connections_are_refused_while_stopping(self):
        factory = make_factory(Clock())
        factory.admission.shutdown()
        _, transport = connect(factory)
        assert transport.value() == texts.SHUTDOWN.encode()
        assert not transport.connected

    def test_a_timeout_after_the_shutdown_notice_says_nothing_more(self):
        clock = Clock()
        factory = make_factory(clock, Limits(login_timeout=30, close_timeout=0))
        protocol = factory.buildProtocol(IPv4Address("TCP", "127.0.0.1", 1))
        transport = StringTransport()  # notes the close; the peer never reads
        protocol.makeConnection(transport)
        factory.admission.shutdown()
        clock.advance(0)
        said = transport.value()
        assert said.endswith(texts.SHUTDOWN.encode())
        clock.advance(30)  # the login timeout, while the close waits
        assert transport.value() == said
