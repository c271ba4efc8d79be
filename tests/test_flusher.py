"""When queued output leaves (net/flusher.py): replies at the end of their
read, a few at once and then a batch at a time, everything else in one
pass at the turn's end, and the calls that run before that pass."""

from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase

from menuchat.frontends.menu import texts
from menuchat.net.flusher import BATCH, FEW, OutputFlusher
from menuchat.net.output import SharedLines
from tests.support import clocked_factory, connect, login, make_factory, room
from tests.test_connection import ConnectionCase


class TurnTests(ConnectionCase):
    """Connections' output over a turn: when replies and room lines leave."""

    def test_lines_from_several_senders_in_one_turn_are_one_write_per_member(self):
        factory, clock = clocked_factory(line_rate=0)
        members = room(factory, FEW + 2)
        for protocol, _ in members[1:4]:
            protocol.dataReceived(b"hi\n")
        clock.advance(0)
        # A listener gets the turn's lines in one write; a sender gets its own
        # echo at once, as a reply, and the lines said after it at the flush.
        writes = [transport.writes for _, transport in members]
        assert writes == [1, 2, 2, 1] + [1] * (FEW - 2)
        for _, transport in members:
            assert transport.value() == b"m1> hi\r\nm2> hi\r\nm3> hi\r\n"

    def test_a_line_to_a_small_room_leaves_in_the_read_that_said_it(self):
        factory, clock = clocked_factory(line_rate=0)
        members = room(factory, FEW + 1)
        members[1][0].dataReceived(b"hi\n")
        # Before the turn ends (Wire.value would end it), and with no
        # flush left to come:
        assert [transport.writes for _, transport in members] == [1] * (FEW + 1)
        assert clock.getDelayedCalls() == []
        for _, transport in members:
            assert transport.value() == b"m1> hi\r\n"

    def test_a_line_to_a_larger_room_waits_for_the_turn_end(self):
        factory, clock = clocked_factory(line_rate=0)
        members = room(factory, FEW + 2)
        members[1][0].dataReceived(b"hi\n")
        assert [transport.writes for _, transport in members] == [0, 1] + [0] * FEW
        assert len(clock.getDelayedCalls()) == 1  # the flush
        clock.advance(0)
        assert [transport.writes for _, transport in members] == [1] * (FEW + 2)

    def test_a_reply_leaves_in_the_read_that_asked_for_it(self):
        factory, _clock = clocked_factory(line_rate=0)
        protocol, transport = login(factory, "Nina")
        protocol.dataReceived(b"1\n")
        assert transport.io.getvalue() == (
            b"Users in server: Nina:1\r\nYour option <enter a number>: "
        )

    def test_a_reply_is_sent_without_a_flush_at_the_turn_end(self):
        clock = Clock()
        factory = make_factory(clock)
        protocol, transport = connect(factory)
        # Looked at before the turn ends (Wire.value would end it):
        assert transport.writes == 1  # the greeting
        assert len(clock.getDelayedCalls()) == 1  # the login timeout; no flush
        protocol.dataReceived(b"Nina\n")
        assert transport.writes == 2
        assert clock.getDelayedCalls() == []  # no idle timeout, and no flush
        assert transport.value().endswith(b"Your option <enter a number>: ")

    def test_a_reply_waits_for_the_flush_when_the_turn_has_calls_to_come(self):
        clock = Clock()
        factory = make_factory(clock)
        protocol, transport = login(factory, "Nina")
        transport.writes = 0
        late = []
        protocol.at_turn_end(lambda: late.append(transport.writes))
        protocol.dataReceived(b"1\n")
        assert transport.writes == 0
        clock.advance(0)
        assert late == [0]
        assert transport.writes == 1
        assert transport.value().endswith(b"Your option <enter a number>: ")

    def test_a_turn_sends_its_first_few_replies_at_once_and_the_rest_at_its_end(self):
        clock = Clock()
        factory = make_factory(clock)
        # Each greeting is a reply to a connection's arrival.
        wires = [connect(factory, port=42000 + n)[1] for n in range(FEW + 2)]
        assert [w.writes for w in wires] == [1] * FEW + [0, 0]
        clock.advance(0)
        assert [w.writes for w in wires] == [1] * (FEW + 2)
        assert all(w.value().endswith(texts.NAME_PROMPT.encode()) for w in wires)

    def test_replies_past_the_first_few_leave_a_batch_at_a_time(self):
        clock = Clock()
        factory = make_factory(clock)
        wires = [connect(factory, port=42000 + n)[1] for n in range(FEW + BATCH - 1)]
        # The first few at once; the next ones wait for a whole batch.
        assert [w.writes for w in wires] == [1] * FEW + [0] * (BATCH - 1)
        wires += [connect(factory, port=43000 + n)[1] for n in range(2)]
        # The batch is whole: it leaves before the turn ends; one more waits.
        assert [w.writes for w in wires] == [1] * (FEW + BATCH) + [0]
        clock.advance(0)
        assert [w.writes for w in wires] == [1] * (FEW + BATCH + 1)
        greeting = wires[0].value()
        assert greeting.endswith(texts.NAME_PROMPT.encode())
        assert all(w.value() == greeting for w in wires)

    def test_replies_wait_for_the_turns_late_calls_however_many(self):
        clock = Clock()
        factory = make_factory(clock)
        told = []
        factory.flusher.at_turn_end(lambda: told.append(len(told)))
        wires = [connect(factory, port=42000 + n)[1] for n in range(FEW + BATCH)]
        assert [w.writes for w in wires] == [0] * (FEW + BATCH)
        clock.advance(0)
        assert told == [0]
        assert [w.writes for w in wires] == [1] * (FEW + BATCH)

    def test_replies_leave_at_once_again_after_the_turns_pass(self):
        clock = Clock()
        factory = make_factory(clock)
        wires = [connect(factory, port=42000 + n)[1] for n in range(FEW + 1)]
        assert wires[-1].writes == 0
        clock.advance(0)
        assert wires[-1].writes == 1
        again = [connect(factory, port=42100 + n)[1] for n in range(FEW)]
        assert [w.writes for w in again] == [1] * FEW

    def test_output_goes_out_once_a_turn_in_one_write(self):
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

    def test_calls_for_the_end_of_a_turn_share_one_flush(self):
        clock = Clock()
        flusher = OutputFlusher(clock)
        ran = []
        flusher.at_turn_end(lambda: ran.append("first"))
        flusher.at_turn_end(lambda: ran.append("second"))
        assert len(clock.getDelayedCalls()) == 1
        clock.advance(0)
        assert ran == ["first", "second"]
        assert clock.getDelayedCalls() == []

    def test_a_call_for_the_end_of_a_turn_made_during_the_flush_is_next_turns(self):
        clock = Clock()
        flusher = OutputFlusher(clock)
        ran = []
        scheduled = []

        def first():
            ran.append("first")
            flusher.at_turn_end(lambda: ran.append("second"))
            scheduled.append(len(clock.getDelayedCalls()))

        flusher.at_turn_end(first)
        clock.advance(0)  # runs the next turn's flush too
        assert ran == ["first", "second"]
        assert scheduled == [0]  # one flush is scheduled, once this one ends
        assert clock.getDelayedCalls() == []


class FlushedQueue:
    """A connection's queue as the flusher sees it: notes each flush."""

    def __init__(self, done: list[object], name: object = "flushed") -> None:
        self.done = done
        self.name = name

    def flush(self) -> None:
        self.done.append(self.name)


class FlusherTests(SynchronousTestCase):
    """The turn's flush on its own."""

    def test_a_read_sends_nothing_early_while_a_late_call_waits(self):
        clock = Clock()
        flusher = OutputFlusher(clock)
        done = []

        flusher.begin_read()
        flusher.flush_soon(FlushedQueue(done))
        flusher.at_turn_end(lambda: done.append("late"))
        flusher.end_read()
        assert done == []
        clock.advance(0)
        assert done == ["late", "flushed"]

    def test_what_a_late_call_writes_leaves_in_the_place_it_was_asked_for(self):
        """Output a late call queues goes out between the output queued
        before the call was asked for and the output queued after."""
        clock = Clock()
        flusher = OutputFlusher(clock)
        done = []

        def late(name):
            return lambda: flusher.flush_soon(FlushedQueue(done, name))

        flusher.begin_read()
        flusher.at_turn_end(late("notice 1"))
        flusher.flush_soon(FlushedQueue(done, "reply 1"))
        flusher.flush_soon(FlushedQueue(done, "reply 2"))
        flusher.at_turn_end(late("notice 2"))
        flusher.at_turn_end(lambda: None)
        flusher.flush_soon(FlushedQueue(done, "reply 3"))
        flusher.end_read()
        clock.advance(0)
        assert done == ["notice 1", "reply 1", "reply 2", "notice 2", "reply 3"]

    def test_what_a_read_queues_costs_no_call_until_its_end(self):
        """During a read nothing is scheduled; its end writes a few
        connections' output at once, and leaves more to one pass."""
        clock = Clock()
        flusher = OutputFlusher(clock)
        done = []

        flusher.begin_read()
        for n in range(FEW):
            flusher.flush_soon(FlushedQueue(done, n))
        assert clock.getDelayedCalls() == []
        flusher.end_read()
        assert done == list(range(FEW)) and clock.getDelayedCalls() == []
        done.clear()
        flusher.begin_read()
        for n in range(FEW + 1):
            flusher.flush_soon(FlushedQueue(done, n))
        assert clock.getDelayedCalls() == []
        flusher.end_read()
        assert done == [] and len(clock.getDelayedCalls()) == 1
        clock.advance(0)
        assert done == list(range(FEW + 1))

    def test_shared_lines_alone_are_sealed_by_the_pass_after_a_read(self):
        clock = Clock()
        flusher = OutputFlusher(clock)
        shared = SharedLines(b"a\r\n")
        flusher.begin_read()
        flusher.seal_at_turn_end(shared)
        assert clock.getDelayedCalls() == []
        flusher.end_read()
        assert shared.open
        clock.advance(0)
        assert shared.data == b"a\r\n"

    def test_a_call_for_the_read_end_runs_before_its_output_leaves(self):
        clock = Clock()
        flusher = OutputFlusher(clock)
        done: list[object] = []
        flusher.begin_read()
        flusher.begin_read()
        flusher.at_read_end(lambda: flusher.flush_soon(FlushedQueue(done, "notice")))
        flusher.end_read()
        assert done == []  # the inner read is not the end of the read
        flusher.end_read()
        assert done == ["notice"] and clock.getDelayedCalls() == []

    def test_a_call_for_the_read_end_outside_a_read_waits_for_the_turn_end(self):
        clock = Clock()
        flusher = OutputFlusher(clock)
        done: list[object] = []
        flusher.at_read_end(lambda: done.append("late"))
        assert done == [] and len(clock.getDelayedCalls()) == 1
        clock.advance(0)
        assert done == ["late"]

    def test_a_failing_read_end_call_leaves_the_flusher_usable(self):
        clock = Clock()
        flusher = OutputFlusher(clock)
        done: list[object] = []

        def fail():
            raise ZeroDivisionError()

        flusher.begin_read()
        flusher.flush_soon(FlushedQueue(done, "reply"))
        flusher.at_read_end(fail)
        self.assertRaises(ZeroDivisionError, flusher.end_read)
        assert done == ["reply"]  # the read's output went all the same
        flusher.begin_read()
        flusher.flush_soon(FlushedQueue(done, "next"))
        flusher.end_read()
        assert done == ["reply", "next"]

    def test_nested_reads_flush_at_the_outer_end(self):
        clock = Clock()
        flusher = OutputFlusher(clock)
        done = []

        flusher.begin_read()
        flusher.begin_read()
        flusher.flush_soon(FlushedQueue(done))
        flusher.end_read()
        assert done == [] and clock.getDelayedCalls() == []
        flusher.end_read()
        assert done == ["flushed"]


class ReplyQueue:
    """A connection's queue as the flusher sees it: items, one write a flush."""

    def __init__(self, flusher, on_flush=None):
        self.flusher = flusher
        self.items = []
        self.writes = []
        self.on_flush = on_flush

    def write(self, item):
        if not self.items:
            self.flusher.flush_soon(self)
        self.items.append(item)

    def flush(self):
        if self.items:
            self.writes.append(self.items)
            self.items = []
        if self.on_flush is not None:
            on_flush, self.on_flush = self.on_flush, None
            on_flush()  # its input read again as its output drained


def reply(flusher, queue, text="reply"):
    """A read of C{queue}'s connection that queues its reply."""
    flusher.begin_read()
    queue.items.append(text)
    flusher.end_reply(queue, True)


class BatchTests(SynchronousTestCase):
    """The read that completes a batch of replies, and its read-end calls."""

    def turn(self, on_first_flush=None):
        """FEW replies sent at once, then a batch short of one; the batch's
        first member."""
        flusher = OutputFlusher(self.clock)
        for _ in range(FEW):
            reply(flusher, ReplyQueue(flusher))
        first = ReplyQueue(flusher, on_flush=on_first_flush)
        reply(flusher, first)
        for _ in range(BATCH - 2):
            reply(flusher, ReplyQueue(flusher))
        return flusher, first

    def last_read(self, flusher, read_end_call):
        """The read that completes the batch: it asks for a read-end call."""
        flusher.begin_read()
        flusher.at_read_end(read_end_call)
        last = ReplyQueue(flusher)
        last.items.append("reply")
        flusher.end_reply(last, True)
        return last

    def setUp(self):
        self.clock = Clock()

    def test_the_batch_leaves_once_its_last_read_is_over(self):
        flusher, first = self.turn()
        assert first.writes == []
        last = self.last_read(flusher, lambda: None)
        assert first.writes == [["reply"]] and last.writes == [["reply"]]
        self.clock.advance(0)
        assert first.writes == [["reply"]]  # the pass finds it sent

    def test_a_notice_the_last_read_asks_for_leaves_with_the_reply_it_follows(self):
        flusher, first = self.turn()
        self.last_read(flusher, lambda: first.write("mail notice"))
        self.clock.advance(0)
        assert first.writes == [["reply", "mail notice"]]

    def test_input_read_again_as_the_batch_leaves_comes_after_that_notice(self):
        flusher, _ = self.turn(lambda: told.write("line said after"))
        told = ReplyQueue(flusher)
        self.last_read(flusher, lambda: told.write("mail notice"))
        self.clock.advance(0)
        sent = [item for write in told.writes for item in write]
        assert sent == ["mail notice", "line said after"]
