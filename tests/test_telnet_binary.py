"""Telnet negotiation at the byte level: BINARY agreed, ECHO for passwords."""

from __future__ import annotations

from twisted.internet.address import IPv4Address
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport
from twisted.trial.unittest import SynchronousTestCase

from menuchat.config import Limits
from menuchat.frontends.menu import texts
from menuchat.frontends.menu.factory import MenuChatProtocol
from tests.support import make_factory

IAC, WILL, WONT, DO, DONT = b"\xff", b"\xfb", b"\xfc", b"\xfd", b"\xfe"
BINARY, ECHO, SGA, TIMING_MARK = b"\x00", b"\x01", b"\x03", b"\x06"


class TelnetTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.clock = Clock()
        factory = make_factory(self.clock, Limits(login_timeout=0, close_timeout=0))
        protocol = factory.buildProtocol(IPv4Address("TCP", "127.0.0.1", 1))
        assert isinstance(protocol, MenuChatProtocol)
        self.protocol = protocol
        self.transport = StringTransport()
        protocol.makeConnection(self.transport)
        self.assertEqual(self.take(), (texts.GREETING + texts.NAME_PROMPT).encode())

    def take(self) -> bytes:
        self.clock.advance(0)
        data: bytes = self.transport.value()
        self.transport.clear()
        return data

    def send(self, data: bytes) -> bytes:
        self.protocol.dataReceived(data)
        return self.take()

    def test_binary_is_agreed_both_ways(self) -> None:
        self.assertEqual(self.send(IAC + DO + BINARY), IAC + WILL + BINARY)
        self.assertEqual(self.send(IAC + WILL + BINARY), IAC + DO + BINARY)

    def test_agreement_is_not_repeated(self) -> None:
        self.send(IAC + DO + BINARY + IAC + WILL + BINARY)
        self.assertEqual(self.send(IAC + DO + BINARY + IAC + WILL + BINARY), b"")

    def test_binary_is_off_at_first_so_turning_it_off_is_not_answered(self) -> None:
        self.assertEqual(self.send(IAC + DONT + BINARY), b"")
        self.assertEqual(self.send(IAC + WONT + BINARY), b"")

    def test_binary_can_be_turned_off(self) -> None:
        self.send(IAC + DO + BINARY + IAC + WILL + BINARY)
        self.assertEqual(self.send(IAC + DONT + BINARY), IAC + WONT + BINARY)
        self.assertEqual(self.send(IAC + WONT + BINARY), IAC + DONT + BINARY)

    def test_eight_bit_utf8_name_passes(self) -> None:
        self.send(IAC + DO + BINARY + IAC + WILL + BINARY)
        said = self.send("李João\r\n".encode())
        self.assertIn("Client Name: 李João".encode(), said)

    def test_other_options_are_still_refused(self) -> None:
        self.assertEqual(self.send(IAC + DO + SGA), IAC + WONT + SGA)
        self.assertEqual(self.send(IAC + WILL + SGA), IAC + DONT + SGA)
        self.assertEqual(self.send(IAC + DO + TIMING_MARK), IAC + WONT + TIMING_MARK)
        self.assertEqual(self.send(IAC + DO + ECHO), IAC + WONT + ECHO)

    def test_hide_input_offers_and_withdraws_echo(self) -> None:
        self.send(IAC + DO + BINARY)
        self.protocol.hide_input(True)
        self.assertEqual(self.take(), IAC + WILL + ECHO)
        # The client's agreement is not answered, nor is a second offer made.
        self.assertEqual(self.send(IAC + DO + ECHO), b"")
        self.protocol.hide_input(True)
        self.assertEqual(self.take(), b"")
        self.protocol.hide_input(False)
        self.assertEqual(self.take(), IAC + WONT + ECHO)
        self.assertEqual(self.send(IAC + DONT + ECHO), b"")

    def test_client_refusing_echo_is_acknowledged(self) -> None:
        self.send(IAC + DO + BINARY)
        self.protocol.hide_input(True)
        self.take()
        self.assertEqual(self.send(IAC + DONT + ECHO), IAC + WONT + ECHO)
        # Echo is off now: withdrawing it again says nothing.
        self.protocol.hide_input(False)
        self.assertEqual(self.take(), b"")

    def test_other_options_are_refused_while_input_is_hidden(self) -> None:
        self.protocol.hide_input(True)
        self.take()
        self.assertEqual(self.send(IAC + DO + TIMING_MARK), IAC + WONT + TIMING_MARK)
        self.assertEqual(self.send(IAC + DONT + SGA), b"")
        # The refusals left the offered echo as it was.
        self.protocol.hide_input(False)
        self.assertEqual(self.take(), IAC + WONT + ECHO)

    def test_hide_input_offers_echo_before_the_peer_spoke_telnet(self) -> None:
        # telnet on a port other than 23 negotiates nothing by itself: the
        # offer must come from the server for a password to be hidden.
        self.protocol.hide_input(True)
        self.assertEqual(self.take(), IAC + WILL + ECHO)

    def test_a_first_ctrl_v_is_typed_text_not_tls(self) -> None:
        said = self.send(b"\x16\r\n")
        self.assertNotIn(texts.NOT_TLS.encode(), said)
        self.assertTrue(said.endswith(texts.NAME_PROMPT.encode()))
        self.assertFalse(self.transport.disconnecting)
