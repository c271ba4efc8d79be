"""Pipelined input stays in order while the store answers late, out of order.

A store whose every answer waits until the test releases it stands behind
two connections. While a line's answer is pending, that connection reads
and handles nothing more (except after a private message, whose answer
leaves the dialogue where it is whatever it says: only a read of the
mailbox, where the message may be, waits for it); released in any order
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
from twisted.logger import capturedLogs, formatEvent
from twisted.python.failure import Failure
from twisted.trial.unittest import SynchronousTestCase

from menuchat.config import Limits
from menuchat.core import errors
from menuchat.frontends.menu import texts
from menuchat.frontends.menu.factory import MenuChatProtocol
from menuchat.frontends.menu.replies import MAX_OWED
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


class CommitLateStore(LateStore):
    """A store that does nothing until the test releases a call: what it
    writes is there to read only once it has answered (as a database's
    commit)."""

    def __getattr__(self, name: str) -> Any:
        call = getattr(self.inner, name)

        def late(*args: Any) -> Deferred[Any]:
            late_answer: Deferred[Any] = Deferred()
            self.calls.append((call, args, late_answer))
            self.pending.append((Deferred(), late_answer))
            return late_answer

        return late

    @property
    def calls(self) -> list[tuple[Any, tuple[Any, ...], Deferred[Any]]]:
        return self.__dict__.setdefault("_calls", [])

    def release(self, index: int) -> None:
        self.pending.pop(index)
        call, args, late_answer = self.calls.pop(index)
        call(*args).chainDeferred(late_answer)


class WriteCounting(StringTransport):
    """A transport that keeps each write apart."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.writes: list[bytes] = []

    def write(self, data: bytes) -> None:
        self.writes.append(data)
        super().write(data)


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
        # A send's answer holds nothing but what reads the mailbox (the
        # message may be to oneself): each read waits for its session's
        # send, and the user list after it waits for the read.
        self.assertEqual(len(self.store.pending), 2)
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


class PendingSendTests(SynchronousTestCase):
    """A send waiting for the store holds nothing back but its own answer."""

    def setUp(self) -> None:
        self.clock = Clock()
        self.store = LateStore()
        self.factory = make_factory(self.clock, Limits(line_rate=0), self.store)
        self.ann, self.ann_wire = self.login(1, b"Ann")
        self.bob, self.bob_wire = self.login(2, b"Bob")

    def login(self, port: int, name: bytes) -> tuple[MenuChatProtocol, WriteCounting]:
        address = IPv4Address("TCP", "127.0.0.1", port)
        protocol = self.factory.buildProtocol(address)
        assert isinstance(protocol, MenuChatProtocol)
        wire = WriteCounting(peerAddress=address)
        protocol.makeConnection(wire)
        protocol.dataReceived(name + b"\n")
        self.release_all()
        wire.clear()
        wire.writes.clear()
        return protocol, wire

    def release_all(self) -> None:
        while self.store.pending:
            self.store.release(0)
            self.clock.advance(0)

    def text(self, wire: StringTransport) -> str:
        self.clock.advance(0)
        return wire.value().decode()

    def test_the_lines_after_a_send_are_read_and_answered_after_it(self) -> None:
        self.ann.dataReceived(b"2\nhello\nBob\n1\n")
        self.assertEqual(len(self.store.pending), 1)  # the delivery
        self.assertEqual(self.ann_wire.producerState, "producing")
        asked = "Enter your message: Enter recipient id: "
        # The prompts the read answered wait for the rest of its reply.
        self.assertEqual(self.text(self.ann_wire), "")
        self.release_all()
        text = self.text(self.ann_wire)
        self.assertTrue(text.startswith(asked + "Message sent!"), text)
        sent = text.index("Message sent!")
        self.assertLess(sent, text.index("Users in server"))
        self.assertEqual(resolved(self.store.inner.unread(2)), 1)

    def test_a_read_that_owes_an_answer_is_answered_in_one_write(self) -> None:
        wire = self.ann_wire
        self.ann.dataReceived(b"2\nhello\nBob\n")
        self.ann.dataReceived(b"1\n")  # read while the answer is owed
        self.clock.advance(0)
        self.assertEqual(wire.writes, [])
        self.release_all()
        self.assertEqual(len(wire.writes), 1, wire.writes)
        text = wire.writes[0].decode()
        self.assertTrue(
            text.startswith(
                "Enter your message: Enter recipient id: Message sent!\r\n"
                "Your option <enter a number>: Users in server"
            ),
            text,
        )

    def test_a_prompt_typed_for_goes_at_once(self) -> None:
        # Typed a line at a time, each prompt comes before the next line.
        self.ann.dataReceived(b"2\n")
        self.assertEqual(self.text(self.ann_wire), "Enter your message: ")
        self.ann.dataReceived(b"hello\n")
        self.assertEqual(
            self.text(self.ann_wire), "Enter your message: Enter recipient id: "
        )
        self.ann.dataReceived(b"Bob\n")
        self.release_all()
        self.assertIn("Message sent!", self.text(self.ann_wire))

    def test_a_refused_send_answers_in_its_place(self) -> None:
        self.factory.hub.mailbox_size = 1
        self.ann.dataReceived(b"2\none\nBob\n2\ntwo\nBob\n1\n")
        self.release_all()
        text = self.text(self.ann_wire)
        sent = text.index("Message sent!")
        full = text.index("mailbox of Bob is full")
        self.assertLess(sent, full)
        self.assertLess(full, text.index("Users in server"))

    def test_a_store_failure_answers_in_its_place(self) -> None:
        self.ann.dataReceived(b"2\nlost\nBob\n1\n")
        _, late = self.store.pending.pop(0)
        late.errback(RuntimeError("disk on fire"))
        text = self.text(self.ann_wire)
        refused = text.index(f"Error: {texts.STORE_FAILED}")
        self.assertLess(refused, text.index("Users in server"))
        self.assertNotIn("Message sent!", text)
        self.assertEqual(len(self.flushLoggedErrors(RuntimeError)), 1)

    def test_a_store_failure_is_logged_as_a_failed_request(self) -> None:
        self.ann.dataReceived(b"2\nlost\nBob\n")
        _, late = self.store.pending.pop(0)
        with capturedLogs() as events:
            late.errback(RuntimeError("disk on fire"))
        self.flushLoggedErrors(RuntimeError)
        self.assertIn("Request failed", [formatEvent(e) for e in events])

    def test_a_refusal_the_send_does_not_know_is_a_store_failure(self) -> None:
        self.ann.dataReceived(b"2\nodd\nBob\n1\n")
        _, late = self.store.pending.pop(0)
        late.errback(errors.NotAllowed())
        text = self.text(self.ann_wire)
        refused = text.index(f"Error: {texts.STORE_FAILED}")
        self.assertLess(refused, text.index("Users in server"))
        self.assertEqual(len(self.flushLoggedErrors(errors.NotAllowed)), 1)

    def test_a_late_refusal_names_who_it_was_for(self) -> None:
        self.ann.dataReceived(b"2\nhi\nNobody\n")
        self.release_all()
        unknown = texts.UNKNOWN_USER.format(who="Nobody")
        self.assertIn(f"Error: {unknown}", self.text(self.ann_wire))

    def test_a_read_that_owes_again_is_answered_in_one_write_again(self) -> None:
        wire = self.ann_wire
        for _ in range(2):  # the second owes after the first was paid
            wire.writes.clear()
            self.ann.dataReceived(b"2\nhello\nBob\n1\n")
            self.clock.advance(0)
            self.assertEqual(wire.writes, [])
            self.release_all()
            self.assertEqual(len(wire.writes), 1, wire.writes)
            self.assertIn(b"Message sent!", wire.writes[0])

    def test_sends_in_flight_are_capped(self) -> None:
        self.ann.dataReceived(b"2\nm\nBob\n" * (MAX_OWED + 1))
        self.assertEqual(len(self.store.pending), MAX_OWED)
        self.assertEqual(self.ann_wire.producerState, "paused")
        self.release_all()
        self.assertEqual(self.text(self.ann_wire).count("Message sent!"), MAX_OWED + 1)
        self.assertEqual(self.ann_wire.producerState, "producing")

    def test_a_send_in_a_room_answers_without_the_prompt(self) -> None:
        self.ann.dataReceived(b"4\nlobby\n/msg Bob hi\nsaid after\n")
        self.release_all()
        text = self.text(self.ann_wire)
        self.assertIn("Message sent!\r\nAnn> said after", text)

    def test_the_server_stopping_does_not_wait_for_answers(self) -> None:
        self.ann.dataReceived(b"2\nhello\nBob\n")
        self.ann.server_stopping()
        self.assertIn("The server is going down.", self.text(self.ann_wire))
        self.release_all()
        self.assertNotIn("Message sent!", self.text(self.ann_wire))

    def test_a_connection_lost_with_answers_owed_writes_nothing_more(self) -> None:
        self.ann.dataReceived(b"2\nhello\nBob\n1\n")
        before = self.text(self.ann_wire)
        self.ann.connectionLost(Failure(ConnectionDone()))
        self.release_all()
        self.assertEqual(self.text(self.ann_wire), before)
        self.assertEqual(resolved(self.store.inner.unread(2)), 1)

    def test_a_read_after_a_message_to_oneself_finds_it(self) -> None:
        store = CommitLateStore()
        factory = make_factory(self.clock, Limits(line_rate=0), store)
        address = IPv4Address("TCP", "127.0.0.1", 3)
        ann = factory.buildProtocol(address)
        wire = StringTransport(peerAddress=address)
        ann.makeConnection(wire)
        ann.dataReceived(b"Ann\n")
        while store.pending:
            store.release(0)
        ann.dataReceived(b"2\nnote to self\nAnn\n3\n1\n")
        # The read waits for the message's answer: the store is asked one
        # thing, and nothing after the read is handled meanwhile.
        self.assertEqual(len(store.pending), 1)
        self.assertNotIn("Users in server", self.text(wire))
        while store.pending:
            store.release(-1)  # newest first: only one is ever pending
            self.clock.advance(0)
        text = self.text(wire)
        sent = text.index("Message sent!")
        listed = text.index("note to self (from: Ann)")
        self.assertLess(sent, listed)
        self.assertLess(listed, text.index("Users in server"))
