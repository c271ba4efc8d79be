"""The menu factory and protocol: refusal texts, the telnet filter's hookup."""

from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase

from menuchat.config import Limits
from menuchat.frontends.menu import texts
from menuchat.frontends.menu.dialogue import Session
from menuchat.frontends.menu.factory import (
    REFUSALS,
    MenuChatFactory,
    MenuChatProtocol,
)
from menuchat.net.admission import Refusal
from tests.support import clocked_factory, connect, login


class FactoryTests(SynchronousTestCase):
    def test_every_connection_gets_a_session_on_the_factory_hub(self):
        factory, _ = clocked_factory()
        protocol, _ = connect(factory)
        assert isinstance(protocol, MenuChatProtocol)
        assert isinstance(protocol.session, Session)
        protocol.dataReceived(b"Nina\n")
        assert [u.name for u in factory.hub.users()] == ["Nina"]

    def test_limits_default_to_the_defaults(self):
        factory, _ = clocked_factory()
        assert (
            MenuChatFactory(factory.hub, factory.accounts, Clock()).limits == Limits()
        )

    def test_a_logged_in_connection_keeps_its_own_state_in_slots(self):
        # Past 30 names, CPython gives an instance's __dict__ a table of its
        # own, about 1.5 KB for every connection, idle or not. What Twisted
        # sets (factory, transport, timeOut, ...) is all that goes there.
        factory, _ = clocked_factory()
        protocol, transport = login(factory, "Nina")
        protocol.dataReceived(b"\xff\xfb\x01")  # telnet: the filter made
        protocol.dataReceived(b"1\n")
        assert transport.take().count(b"Nina") == 1
        assert len(vars(protocol)) <= 8, sorted(vars(protocol))

    def test_the_session_is_gone_once_the_connection_is(self):
        factory, _ = clocked_factory()
        protocol, transport = connect(factory)
        transport.loseConnection()
        assert protocol.session is None


class RefusalTextTests(SynchronousTestCase):
    """Each refusal has its menu text, sent before the connection closes."""

    def test_every_refusal_has_a_text(self):
        assert set(REFUSALS) == set(Refusal)

    def test_texts(self):
        protocol = MenuChatProtocol()
        assert protocol.refusal_text(Refusal.STOPPING) == texts.SHUTDOWN
        assert protocol.refusal_text(Refusal.SERVER_FULL) == texts.SERVER_FULL
        assert protocol.refusal_text(Refusal.ADDRESS_FULL) == texts.ADDRESS_FULL
        assert protocol.not_tls_text() == texts.NOT_TLS

    def test_a_refused_connection_gets_exactly_its_text(self):
        factory, _ = clocked_factory(max_per_address=1)
        connect(factory, port=1)
        _, transport = connect(factory, port=2)
        assert transport.value() == texts.ADDRESS_FULL.encode()
        assert not transport.connected


class TelnetHookupTests(SynchronousTestCase):
    """The telnet filter sits in front of the framing; answers go out at once."""

    def setUp(self):
        self.factory, self.clock = clocked_factory()

    def test_telnet_negotiation_is_ignored(self):
        protocol, transport = connect(self.factory)
        transport.clear()
        # IAC DO ECHO, IAC WILL NAWS, a subnegotiation, IAC IP, then the name.
        protocol.dataReceived(
            b"\xff\xfd\x01\xff\xfb\x1f\xff\xfa\x1f\x00\x50\x00\x18\xff\xf0"
        )
        protocol.dataReceived(b"Ni\xff\xf4na\r\n")
        assert b"Client Name: Nina\r\n" in transport.value()
        # DO ECHO is answered WONT ECHO, WILL NAWS DONT NAWS, first.
        assert transport.value().startswith(b"\xff\xfc\x01\xff\xfe\x1f")

    def test_do_echo_is_answered_wont_echo_in_the_same_read(self):
        protocol, transport = connect(self.factory)
        transport.clear()
        protocol.dataReceived(b"\xff\xfd\x01")
        # Not left for the next turn's flush: the reply leaves in this read.
        assert transport.io.getvalue() == b"\xff\xfc\x01"

    def test_telnet_option_requests_are_refused_at_once(self):
        protocol, transport = login(self.factory, "Nina")
        # Ctrl-C in telnet: IAC IP, IAC DO TIMING-MARK, and no line end. Telnet
        # shows nothing more until it is answered.
        protocol.dataReceived(b"\xff\xf4\xff\xfd\x06")
        assert transport.value() == b"\xff\xfc\x06"  # IAC WONT TIMING-MARK
        transport.clear()
        protocol.dataReceived(b"\xff\xfb\x18")  # IAC WILL TERMINAL-TYPE
        assert transport.value() == b"\xff\xfe\x18"  # IAC DONT
        transport.clear()
        protocol.dataReceived(b"\xff\xfc\x01\xff\xfe\x01")  # WONT, DONT: no answer
        assert transport.value() == b""

    def test_telnet_commands_split_across_reads_and_holding_a_newline(self):
        protocol, transport = connect(self.factory)
        transport.clear()
        # A window-size subnegotiation for a 10-row terminal carries byte 0x0a.
        for chunk in [b"\xff", b"\xfa\x1f\x00\x50\x00", b"\x0a\xff", b"\xf0Nina\r\n"]:
            protocol.dataReceived(chunk)
        assert b"Client Name: Nina\r\n" in transport.value()
        assert b"Error" not in transport.value()

    def test_a_read_is_filtered_before_its_lines_are_handled(self):
        protocol, transport = login(self.factory, "Nina")
        transport.writes = 0
        protocol.dataReceived(b"1\n\xff\xfd\x01" + b"1\n")
        # The answer is queued first, then both lines' replies, in one write.
        assert transport.value() == (
            b"\xff\xfc\x01"
            b"Users in server: Nina:1\r\nYour option <enter a number>: "
            b"Users in server: Nina:1\r\nYour option <enter a number>: "
        )
        assert transport.writes == 1

    def test_no_filter_until_a_telnet_command_arrives(self):
        protocol, _ = login(self.factory, "Nina")
        assert protocol._telnet is None
        protocol.dataReceived(b"\xff\xf4")
        assert protocol._telnet is not None
