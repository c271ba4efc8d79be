"""Private mail over the menu protocol: names as recipients, one notice a turn."""

from __future__ import annotations

from typing import Any

from twisted.internet.address import IPv4Address
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport
from twisted.trial.unittest import SynchronousTestCase

from menuchat.config import Limits
from menuchat.frontends.menu.factory import MenuChatProtocol
from tests.support import make_factory


class MailTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.clock = Clock()
        self.factory = make_factory(self.clock, Limits(line_rate=0, mailbox_size=100))
        self.port = 1000

    def person(
        self, name: str, log: list[str] | None = None
    ) -> tuple[MenuChatProtocol, StringTransport]:
        """A logged-in C{name}; with a C{log}, its writes are noted there."""
        self.port += 1
        address = IPv4Address("TCP", "127.0.0.1", self.port)
        protocol = self.factory.buildProtocol(address)
        assert isinstance(protocol, MenuChatProtocol)
        transport = (
            StringTransport(peerAddress=address)
            if log is None
            else _LoggedWire(name, log, peerAddress=address)
        )
        protocol.makeConnection(transport)
        protocol.dataReceived(name.encode() + b"\n")
        self.clock.advance(0)
        transport.clear()
        return protocol, transport

    def test_a_flood_of_messages_is_one_notice_per_turn(self) -> None:
        _, nina_wire = self.person("Nina")
        jose, _ = self.person("Jose")
        jose.dataReceived(b"2\nspam\nNina\n" * 100)
        self.clock.advance(0)
        text = nina_wire.value().decode()
        self.assertEqual(text.count("New message from Jose"), 1, text)
        self.assertIn("(100 unread)", text)

    def test_messages_in_later_turns_get_notices_of_their_own(self) -> None:
        _, nina_wire = self.person("Nina")
        jose, _ = self.person("Jose")
        for _ in range(3):
            jose.dataReceived(b"2\nhello\nnina\n")
            self.clock.advance(0)
        text = nina_wire.value().decode()
        self.assertEqual(text.count("New message from Jose"), 3, text)
        self.assertIn("(3 unread)", text)

    def test_the_reads_of_a_turn_are_answered_in_turn(self) -> None:
        """Each message's notice leaves with its sender's answer, at the
        end of the sender's read, not behind every answer of the turn."""
        sent: list[str] = []
        pairs = [
            (self.person(f"a{n}", sent), self.person(f"b{n}", sent)) for n in range(3)
        ]
        sent.clear()  # the log-ins
        for n, ((sender, _), _) in enumerate(pairs):
            sender.dataReceived(b"2\nhello\nb%d\n" % n)
        self.clock.advance(0)
        self.assertEqual(sent, ["a0", "b0", "a1", "b1", "a2", "b2"])
        for (_, sender_wire), (_, reader_wire) in pairs:
            self.assertIn(b"Message sent!", sender_wire.value())
            self.assertIn(b"New message from a", reader_wire.value())

    def test_a_full_mailbox_answers_the_sender_by_name(self) -> None:
        self.factory.hub.mailbox_size = 1
        self.person("Nina")
        jose, jose_wire = self.person("Jose")
        jose.dataReceived(b"2\none\nNina\n2\ntwo\nNina\n")
        self.clock.advance(0)
        self.assertIn(b"Error: the mailbox of Nina is full", jose_wire.value())

    def test_an_unknown_recipient_is_named_in_the_error(self) -> None:
        jose, jose_wire = self.person("Jose")
        jose.dataReceived(b"2\nhello\nNobody\n2\nhello\n99\n")
        self.clock.advance(0)
        text = jose_wire.value()
        self.assertIn(b"Error: no user has the id or name 'Nobody'", text)
        self.assertIn(b"Error: no user has the id or name '99'", text)


class _LoggedWire(StringTransport):
    """A transport that notes its C{name} in C{log} (a list shared by
    several) at each write, in the order of the writes."""

    def __init__(self, name: str, log: list[str], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.name = name
        self.log = log

    def write(self, data: bytes) -> None:
        self.log.append(self.name)
        super().write(data)
