"""The cluster's bus: its messages, its stand-in for users of other
nodes, and its connection's parsing."""

from __future__ import annotations

from types import SimpleNamespace

from twisted.internet.testing import StringTransport
from twisted.trial.unittest import SynchronousTestCase

from menuchat.core.events import Message, MessageUnread, MessageWaiting
from menuchat.store.redis_bus import (
    Event,
    RemoteMember,
    decode,
    encode,
    subscriber_protocol,
    told,
)
from tests.support import FakeMember


class MessageTests(SynchronousTestCase):
    def test_a_turn_of_events_in_one_message_in_order(self) -> None:
        text = encode("a", [["say", 7, ["hi"]], ["tell", 9, ["waiting", [1], 2]]])
        self.assertEqual(
            decode(text),
            [Event("a", "say", 7, ["hi"]), Event("a", "tell", 9, ["waiting", [1], 2])],
        )

    def test_what_is_not_a_message(self) -> None:
        for text in ("", "[]", '{"node": "a"}', '{"node": "a", "events": [[1]]}',
                     '{"node": "a", "events": [["say", "x", []]]}'):  # fmt: skip
            with self.assertRaises(ValueError, msg=text):
                decode(text)


class RemoteMemberTests(SynchronousTestCase):
    """What only a user of another node is told goes to its node, and is
    told there as it would be here."""

    def test_mail_and_disconnection_cross_and_arrive_intact(self) -> None:
        said: list[tuple[object, ...]] = []
        member = RemoteMember(lambda *args: said.append(args), 9)
        message = Message(1, "Nina", 9, "Jose", "hello", 1700000000.25)
        member.message_waiting(MessageWaiting(message, 3))
        member.message_unread(MessageUnread(message))
        member.disconnected("Olga")
        there = FakeMember()
        for user_id, *args in said:
            self.assertEqual(user_id, 9)
            told(there, decode(encode("a", [["tell", 9, args]]))[0].args)
        self.assertEqual(
            there.events,
            [
                ("waiting", "hello", 3),
                ("unread", "Jose", "hello"),
                ("disconnected", "Olga"),
            ],
        )


def published(channel: str, text: str) -> bytes:
    """A pub/sub message as Redis sends it to a subscriber."""
    parts = [b"message", channel.encode(), text.encode()]
    return b"*3\r\n" + b"".join(b"$%d\r\n%s\r\n" % (len(p), p) for p in parts)


class SubscriberTests(SynchronousTestCase):
    """The bus connection takes in every message of a read at once."""

    def setUp(self) -> None:
        self.heard: list[str] = []
        self.protocol = subscriber_protocol()()
        self.protocol.factory = SimpleNamespace(
            cluster=SimpleNamespace(_received=self.heard.append)
        )
        self.protocol.transport = StringTransport()

    def test_every_message_of_a_read_in_the_same_turn(self) -> None:
        texts = [f"line {i} " + "x" * i for i in range(2000)]
        self.protocol.dataReceived(b"".join(published("bus", t) for t in texts))
        self.assertEqual(self.heard, texts)

    def test_a_message_cut_anywhere(self) -> None:
        data = published("bus", "first") + published("bus", "second \u00e9")
        for i in range(len(data)):
            self.protocol.dataReceived(data[i : i + 1])
        self.assertEqual(self.heard, ["first", "second \u00e9"])
