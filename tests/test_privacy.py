"""Which connections keep a typed password off the network, and which ports
would carry it in clear."""

from __future__ import annotations

from twisted.internet.address import IPv4Address, IPv6Address, UNIXAddress
from twisted.internet.interfaces import ISSLTransport
from twisted.internet.testing import StringTransport
from twisted.trial.unittest import SynchronousTestCase
from zope.interface import directlyProvides

from menuchat.net.privacy import is_loopback, is_private, plain_ports


def transport(peer: object, tls: bool = False) -> StringTransport:
    wire = StringTransport(peerAddress=peer)  # type: ignore[arg-type]
    if tls:
        directlyProvides(wire, ISSLTransport)
    return wire


class LoopbackTests(SynchronousTestCase):
    def test_loopback_addresses(self) -> None:
        for host in ("127.0.0.1", "127.1.2.3", "::1", "::ffff:127.0.0.1", "::1%lo"):
            self.assertTrue(is_loopback(host), host)

    def test_other_addresses(self) -> None:
        for host in ("10.0.0.1", "203.0.113.9", "::", "", "0.0.0.0", "localhost"):
            self.assertFalse(is_loopback(host), host)
        self.assertFalse(is_loopback("::ffff:10.0.0.1"))


class PrivateTests(SynchronousTestCase):
    def test_tls_from_anywhere(self) -> None:
        peer = IPv4Address("TCP", "203.0.113.9", 5000)
        self.assertTrue(is_private(transport(peer, tls=True)))

    def test_plain_from_loopback(self) -> None:
        self.assertTrue(is_private(transport(IPv4Address("TCP", "127.0.0.1", 1))))
        self.assertTrue(is_private(transport(IPv6Address("TCP", "::1", 1))))

    def test_unix_socket(self) -> None:
        self.assertTrue(is_private(transport(UNIXAddress(None))))

    def test_plain_from_elsewhere(self) -> None:
        self.assertFalse(is_private(transport(IPv4Address("TCP", "203.0.113.9", 1))))
        self.assertFalse(is_private(transport(IPv6Address("TCP", "2001:db8::1", 1))))
        self.assertFalse(is_private(object()))


class PlainPortsTests(SynchronousTestCase):
    def test_which_ports_carry_passwords_in_clear(self) -> None:
        ports = [
            "tcp:12000",
            "tcp:12001:interface=127.0.0.1",
            "tcp6:port=12002:interface=\\:\\:1",
            "tcp:12003:interface=192.0.2.1",
            "ssl:6697:privateKey=key.pem:certKey=cert.pem",
            "unix:/run/menuchat.sock",
            "systemd:domain=INET:index=0",
        ]
        self.assertEqual(
            plain_ports(ports),
            [
                "tcp:12000",
                "tcp:12003:interface=192.0.2.1",
                "systemd:domain=INET:index=0",
            ],
        )

    def test_the_interface_is_found_wherever_it_is_given(self) -> None:
        ports = [
            "tcp:interface=127.0.0.1:port=12000",
            "tcp:12001:interface=127.0.0.1:backlog=4096",
            "tcp:port=12002:backlog=4096",
        ]
        self.assertEqual(plain_ports(ports), ["tcp:port=12002:backlog=4096"])

    def test_an_escape_at_the_start_is_undone_as_anywhere_else(self) -> None:
        # Twisted reads "\ssl:..." as an ssl endpoint: so must the warning.
        ports = ["\\ssl:6697:privateKey=key.pem", "\\tcp:12000"]
        self.assertEqual(plain_ports(ports), ["\\tcp:12000"])
