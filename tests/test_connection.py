"""The line connection (net/connection.py) through the menu protocol, with
in-memory transports and a Clock: admission, timeouts, logging and the
connection's end. Its input side is tested in test_input.py, its output
side in test_output.py and test_flusher.py."""

from twisted.internet.address import IPv4Address, UNIXAddress
from twisted.internet.error import ConnectionLost
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport
from twisted.logger import capturedLogs, formatEvent
from twisted.python.failure import Failure
from twisted.trial.unittest import SynchronousTestCase

from menuchat.config import Limits
from menuchat.frontends.menu import texts
from menuchat.net.connection import LineConnection, address_text
from menuchat.net.frontend import LineFactory
from tests.support import (
    Wire,
    clocked_factory,
    connect,
    login,
)


class Handler:
    """A front-end that notes its lines, replies C{reply} to each (if any)
    and answers it with the next of C{answers} (None: at once)."""

    def __init__(self, connection):
        self.connection = connection
        self.lines = []
        self.answers = []
        self.reply = ""
        self.told_stopping = 0

    def start(self):
        pass

    def line_received(self, line):
        self.lines.append(line)
        if self.reply:
            self.connection.write(self.reply)
        return self.answers.pop(0) if self.answers else None

    def server_stopping(self):
        self.told_stopping += 1

    def connection_lost(self):
        pass


class BareConnection(LineConnection):
    """A line connection with no dialogue: what net/ does on its own."""

    def make_handler(self):
        return Handler(self)


def bare_factory(**limits):
    """A factory of L{BareConnection}s with these limits, and its Clock."""
    clock = Clock()
    factory = LineFactory(clock, Limits(**limits))
    factory.protocol = BareConnection
    return factory, clock


def bare_connection(wire=Wire, factory=None, port=1, **limits):
    """A L{BareConnection} on a C{wire}, its handler and the transport; to
    C{factory}, or to one of its own with these limits."""
    if factory is None:
        factory, _ = bare_factory(**limits)
    address = IPv4Address("TCP", "127.0.0.1", port)
    protocol = factory.buildProtocol(address)
    transport = wire(peerAddress=address)
    transport.protocol = protocol
    transport.clock = factory.clock
    protocol.makeConnection(transport)
    return protocol, protocol.handler, transport


#: The first bytes of a TLS ClientHello.
CLIENT_HELLO = b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + b"\x00" * 40


class ConnectionCase(SynchronousTestCase):
    """A menu factory with the default limits on a Clock."""

    def setUp(self):
        self.factory, self.clock = clocked_factory()


class TimeoutTests(ConnectionCase):
    """Login, idle and close timeouts on the clock."""

    def test_login_timeout_closes_a_silent_connection(self):
        factory, clock = clocked_factory(login_timeout=60)
        _, transport = connect(factory)
        transport.clear()
        clock.advance(59)
        assert transport.connected
        clock.advance(1)
        assert transport.value() == b"\r\n" + texts.LOGIN_TIMEOUT.encode()
        assert not transport.connected
        assert clock.getDelayedCalls() == []
        assert factory.admission.connections == set()

    def test_login_timeout_is_not_reset_by_bad_names(self):
        factory, clock = clocked_factory(login_timeout=10)
        protocol, transport = connect(factory)
        for _ in range(9):
            clock.advance(1)
            protocol.dataReceived(b"bad name\n")
        clock.advance(1)
        assert not transport.connected

    def test_login_cancels_the_login_timeout(self):
        factory, clock = clocked_factory(login_timeout=10, idle_timeout=0)
        _, transport = login(factory, "Nina")
        assert clock.getDelayedCalls() == []
        clock.advance(3600)
        assert transport.connected

    def test_idle_timeout_after_login(self):
        factory, clock = clocked_factory(idle_timeout=30)
        protocol, transport = login(factory, "Nina")
        clock.advance(20)
        protocol.dataReceived(b"1\n")
        clock.advance(20)
        assert transport.connected
        transport.clear()
        clock.advance(10)
        assert transport.value() == b"\r\n" + texts.IDLE_TIMEOUT.encode()
        assert not transport.connected
        assert factory.hub.users() == []
        assert clock.getDelayedCalls() == []

    def test_disconnect_leaves_no_timers(self):
        factory, clock = clocked_factory(line_rate=1, line_burst=1, idle_timeout=30)
        protocol, transport = login(factory, "Nina")
        protocol.dataReceived(b"1\n1\n1\n")
        assert clock.getDelayedCalls() != []
        transport.loseConnection()
        assert clock.getDelayedCalls() == []
        assert factory.hub.users() == []

    def test_a_closing_peer_that_never_reads_is_cut_off(self):
        factory, clock = clocked_factory(close_timeout=10)
        protocol = factory.buildProtocol(IPv4Address("TCP", "127.0.0.1", 1))
        transport = StringTransport()  # notes the close; the peer never lets go
        protocol.makeConnection(transport)
        protocol.dataReceived(b"Nina\n6\n")
        clock.advance(0)
        assert transport.disconnecting
        assert not getattr(transport, "disconnected", False)
        clock.advance(10)
        assert transport.disconnected  # aborted
        protocol.connectionLost(Failure(ConnectionLost()))
        assert clock.getDelayedCalls() == []
        assert factory.admission.connections == set()

    def test_login_timeout_zero_sets_no_timer(self):
        factory, clock = clocked_factory(login_timeout=0)
        _, transport = connect(factory)
        transport.clear()  # the turn ends
        assert clock.getDelayedCalls() == []
        clock.advance(10**6)
        assert transport.connected

    def test_close_timeout_zero_sets_no_timer(self):
        factory, clock = clocked_factory(close_timeout=0)
        protocol = factory.buildProtocol(IPv4Address("TCP", "127.0.0.1", 1))
        transport = StringTransport()  # notes the close; the peer never lets go
        protocol.makeConnection(transport)
        protocol.dataReceived(b"Nina\n6\n")
        clock.advance(0)
        assert transport.disconnecting
        assert clock.getDelayedCalls() == []
        clock.advance(10**6)
        assert not getattr(transport, "disconnected", False)

    def test_timeouts_are_logged_saying_which(self):
        factory, clock = clocked_factory(login_timeout=5, idle_timeout=7)
        with capturedLogs() as events:
            connect(factory, port=1)
            login(factory, "Nina", port=2)
            clock.advance(5)
            clock.advance(2)
        timed_out = [e for e in events if "timed out" in e["log_format"]]
        assert [(e["peer"], e["when"]) for e in timed_out] == [
            ("127.0.0.1:1", "before logging in"),
            ("127.0.0.1:2", "idle"),
        ]
        assert [formatEvent(e) for e in timed_out] == [
            "127.0.0.1:1 timed out before logging in",
            "127.0.0.1:2 timed out idle",
        ]
        assert factory.stats.drops == {"login_timeout": 1, "idle_timeout": 1}

    def test_every_timed_out_connection_is_counted(self):
        factory, clock = clocked_factory(login_timeout=5)
        for port in (1, 2, 3):
            connect(factory, port=port)
        clock.advance(5)
        assert factory.stats.drops == {"login_timeout": 3}


class LogTests(ConnectionCase):
    """What a connection logs."""

    def test_login_and_drop_are_logged_as_structured_events(self):
        with capturedLogs() as events:
            _, transport = login(self.factory, "Nina")
            transport.loseConnection()
        logged_in = [e for e in events if "logged in" in e["log_format"]]
        assert [(e["name"], e["id"], e["peer"]) for e in logged_in] == [
            ("Nina", 1, "127.0.0.1:40000")
        ]
        assert [formatEvent(e) for e in logged_in] == [
            "127.0.0.1:40000 logged in as Nina:1"
        ]
        (dropped,) = [e for e in events if "disconnected" in e["log_format"]]
        assert dropped["who"] == "Nina"
        assert dropped["reason"] == "Connection was closed cleanly: Bye.."
        assert (dropped["event"], dropped["name"], dropped["id"]) == (
            "logout",
            "Nina",
            1,
        )
        assert formatEvent(dropped) == (
            "127.0.0.1:40000 disconnected (Nina): Connection was closed cleanly: Bye.."
        )

    def test_a_connection_that_never_logs_in_is_logged_when_it_closes(self):
        with capturedLogs() as events:
            _, transport = connect(self.factory)
            transport.loseConnection()
        (dropped,) = [e for e in events if "disconnected" in e["log_format"]]
        assert dropped["who"] == "never logged in"
        assert (dropped["event"], dropped["name"], dropped["id"]) == (
            "disconnect",
            None,
            None,
        )
        assert formatEvent(dropped) == (
            "127.0.0.1:40000 disconnected (never logged in): Connection was closed"
            " cleanly: Bye.."
        )

    def test_a_tls_probe_is_logged(self):
        protocol, _ = connect(self.factory, port=4433)
        with capturedLogs() as events:
            protocol.dataReceived(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03")
        (probe,) = [e for e in events if "spoke TLS" in e["log_format"]]
        assert probe["peer"] == "127.0.0.1:4433"
        assert formatEvent(probe) == "127.0.0.1:4433 spoke TLS to the plain port"

    def test_each_tls_probe_is_counted(self):
        for port in (4433, 4434):
            protocol, _ = connect(self.factory, port=port)
            protocol.dataReceived(CLIENT_HELLO)
        assert self.factory.stats.drops == {"tls_on_plain_port": 2}

    def test_an_address_without_a_host_is_shown_as_it_is(self):
        address = UNIXAddress(b"/run/menuchat.sock")
        assert address_text(address) == str(address)
        assert address_text(IPv4Address("TCP", "10.0.0.1", 5)) == "10.0.0.1:5"

    def test_a_peer_on_a_unix_socket_is_logged_by_its_address(self):
        factory, _ = bare_factory()
        address = UNIXAddress(b"/run/menuchat.sock")
        protocol = factory.buildProtocol(address)
        with capturedLogs() as events:
            protocol.makeConnection(Wire(peerAddress=address))
            protocol.logged_in("nina", 7)
        [login] = [e for e in events if e.get("event") == "login"]
        assert login["peer"] == str(address)
        assert protocol.address == str(address)  # throttled as one peer


class ConnectionLifeTests(SynchronousTestCase):
    """Refusals and the server's stop, seen from one connection."""

    def test_each_refused_connection_is_counted_by_its_reason(self):
        factory, _ = clocked_factory(max_per_address=1)
        login(factory, "Nina")
        for port in (2, 3):
            _, transport = connect(factory, port=port)
            assert not transport.connected
        assert factory.stats.refusals == {"address_full": 2}

    def test_a_refused_connection_reads_nothing_before_it_closes(self):
        factory, _ = clocked_factory(max_clients=1)
        login(factory, "Nina")
        protocol = factory.buildProtocol(IPv4Address("TCP", "127.0.0.1", 2))
        transport = StringTransport()  # notes the close; the peer still sends
        protocol.makeConnection(transport)
        refusal = transport.value()
        assert refusal
        protocol.dataReceived(b"Jose\n1\n")
        factory.clock.advance(0)
        assert transport.value() == refusal
        assert transport.disconnecting
        assert factory.stats.lines_in == 1  # Nina's name, not Jose's lines

    def test_the_server_stopping_is_told_to_an_open_connection(self):
        protocol, handler, transport = bare_connection(StringTransport)
        protocol.server_stopping()
        assert handler.told_stopping == 1
        assert transport.disconnecting

    def test_the_server_stopping_is_not_told_to_a_closing_connection(self):
        protocol, handler, transport = bare_connection(StringTransport)
        protocol.close()
        protocol.server_stopping()
        assert handler.told_stopping == 0
        assert transport.disconnecting


class DefaultsTests(SynchronousTestCase):
    """What a front-end may override, as it is when it does not."""

    def test_the_default_decode_replaces_what_is_not_utf8(self):
        protocol, _, _ = bare_connection()
        assert protocol.decode("café ".encode() + b"\xff") == "café \ufffd"

    def test_the_default_input_filter_passes_everything(self):
        protocol, _, _ = bare_connection()
        assert protocol.filter_input(b"\xff\xfb\x01 a\r\n") == b"\xff\xfb\x01 a\r\n"
