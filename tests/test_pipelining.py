"""Pipelined input stays in order while the store answers late, out of order.

A store whose every answer waits until the test releases it stands behind
two connections. While a line's answer is pending, that connection reads
and handles nothing more (except after a private message, whose answer
leaves the dialogue where it is whatever it says); released in any order
across connections, each connection's replies come in the order of its
lines.
"""

from __future__ import annotations

from typing import Any

from twisted.internet.address import IPv4Address
from twisted.internet.defer import Deferred
from twisted.internet.error import ConnectionDone
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport
from twisted.python.failure import Failure
from twisted.trial.unittest import SynchronousTestCase

from menuchat.config import Limits
from menuchat.frontends.menu.factory import MenuChatProtocol
from menuchat.store.memory import MemoryStore
from tests.support import make_factory, resolved


class LateStore:
    """A memory store whose answers wait in C{pending} until released."""

    def __init__(self) -> None:
        self.inner = MemoryStore()
        self.pending: list[tuple[Deferred[Any], Deferred[Any]]] = []

    def __getattr__(self, name: str) -> Any:
        call = getattr(self.inner, name)

        def late(*args: Any) -> Deferred[Any]:
            answer = call(*args)
            late_answer: Deferred[Any] = Deferred()
            self.pending.append((answer, late_answer))
            return late_answer

        return late

    def release(self, index: int) -> None:
        """Let pending answer C{index} through, as it came from the store."""
        answer, late_answer = self.pending.pop(index)
        answer.chainDeferred(late_answer)


class PipeliningTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.clock = Clock()
        self.store = LateStore()
        self.factory = make_factory(self.clock, Limits(line_rate=0), self.store)

    def connect(self, port: int) -> tuple[MenuChatProtocol, StringTransport]:
        address = IPv4Address("TCP", "127.0.0.1", port)
        protocol = self.factory.buildProtocol(address)
        assert isinstance(protocol, MenuChatProtocol)
        transport = StringTransport(peerAddress=address)
        protocol.makeConnection(transport)
        return protocol, transport

    def text(self, transport: StringTransport) -> str:
        self.clock.advance(0)
        return transport.value().decode()

    def drain(self, order: str) -> None:
        """Release every pending answer, newest first or oldest first."""
        while self.store.pending:
            self.store.release(-1 if order == "newest" else 0)
            self.clock.advance(0)

    def test_a_pending_answer_holds_the_lines_after_it(self) -> None:
        ann, ann_wire = self.connect(1)
        ann.dataReceived(b"Ann\n1\n3\n")
        # The login waits for the store: the user list and mailbox wait too.
        self.assertEqual(len(self.store.pending), 1)
        self.assertNotIn("Users in server", self.text(ann_wire))
        self.assertEqual(ann_wire.producerState, "paused")
        self.drain("oldest")
        text = self.text(ann_wire)
        self.assertLess(text.index("Client Name: Ann"), text.index("Users in server"))
        self.assertLess(text.index("Users in server"), text.index("no messages"))
        self.assertEqual(ann_wire.producerState, "producing")

    def check_orders(self, order: str) -> None:
        ann, ann_wire = self.connect(1)
        bob, bob_wire = self.connect(2)
        ann.dataReceived(b"Ann\n")
        bob.dataReceived(b"Bob\n")
        self.drain(order)
        ann.dataReceived(b"2\nfrom Ann\nBob\n3\n1\n")
        bob.dataReceived(b"2\nfrom Bob\nann\n3\n1\n")
        # A send's answer holds nothing: each read after it is asked too,
        # and holds the user list after it.
        self.assertEqual(len(self.store.pending), 4)
        self.assertNotIn("Users in server", self.text(ann_wire).split("Bob:")[-1])
        self.drain(order)
        for wire, sent in ((ann_wire, "from Bob"), (bob_wire, "from Ann")):
            text = self.text(wire)
            user_id = int(text.split("Client ID: ")[1].split()[0])
            replies = [
                text.index("Enter your message: "),
                text.index("Enter recipient id: "),
                text.index("Message sent!"),
                text.index(
                    "Your option <enter a number>: ", text.index("Message sent!")
                ),
                text.rindex("Users in server: "),
            ]
            self.assertEqual(replies, sorted(replies), text)
            # The message sent to this user was acknowledged: it was either
            # listed by option 3 or waits in the store, never lost.
            listed = f": {sent} (from: " in text
            waiting = resolved(self.store.inner.unread(user_id))
            self.assertEqual(int(listed) + waiting, 1, text)

    def test_answers_released_newest_first(self) -> None:
        self.check_orders("newest")

    def test_answers_released_oldest_first(self) -> None:
        self.check_orders("oldest")

    def test_a_connection_lost_while_logging_in_leaves_no_one_behind(self) -> None:
        ann, _ = self.connect(1)
        ann.dataReceived(b"Ann\n")
        ann.connectionLost(Failure(ConnectionDone()))
        self.drain("oldest")
        self.assertEqual(self.factory.hub.users(), [])
        again, wire = self.connect(2)
        again.dataReceived(b"Ann\n")
        self.drain("oldest")
        self.assertIn("Client Name: Ann", self.text(wire))
