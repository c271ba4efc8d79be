"""The SQLite store's writer: batches down a pipe, answers in order, late
deletes. Its stand-in reactor and process (L{WriterCase}) serve the store
process's tests too (L{tests.test_sqlite_process})."""

from __future__ import annotations

from typing import Any

from twisted.internet.defer import Deferred
from twisted.internet.error import ProcessDone, ProcessTerminated
from twisted.internet.task import Clock
from twisted.logger import capturedLogs
from twisted.python.failure import Failure
from twisted.trial.unittest import SynchronousTestCase

from menuchat.store import sqlite_sql as sql
from menuchat.store.sqlite import StoreError
from menuchat.store.sqlite_child import Frames, frame, reopened
from menuchat.store.sqlite_writer import LATER_WAIT, Write, Writer


class FakeProcess:
    """The store's process as the writer sees it: its pid, what was written
    down its input, and whether that input was closed."""

    pid = 4242

    def __init__(self) -> None:
        self.pipes: dict[int, Any] = {}
        self.frames = Frames()
        self.received: list[Any] = []
        self.input_closed = False
        self.signals: list[str] = []

    def write(self, data: bytes) -> None:
        self.received += self.frames.feed(data)

    def closeStdin(self) -> None:
        self.input_closed = True

    def signalProcess(self, name: str) -> None:
        self.signals.append(name)


class FakeReactor:
    """Timed calls on a Clock; processes that are only L{FakeProcess}es."""

    def __init__(self) -> None:
        self.clock = Clock()
        self.spawned: list[tuple[Any, list[str], dict[int, Any]]] = []
        self.env: dict[str, str] = {}

    def callLater(self, delay: float, f: Any, *args: Any) -> Any:
        return self.clock.callLater(delay, f, *args)

    def seconds(self) -> float:
        return self.clock.seconds()

    def spawnProcess(
        self,
        protocol: Any,
        executable: str,
        args: list[str],
        env: dict[str, str],
        childFDs: dict[int, Any],
    ) -> FakeProcess:
        self.spawned.append((protocol, args, childFDs))
        self.env = env
        process = FakeProcess()
        protocol.makeConnection(process)
        return process


class WriterCase(SynchronousTestCase):
    """A Writer on a stand-in reactor and process."""

    def setUp(self) -> None:
        self.reactor = FakeReactor()
        self.writer = Writer("/srv/chat.sqlite3", self.reactor)

    def started(self) -> tuple[Any, FakeProcess]:
        """The writer started and told its file is open: its process's
        protocol and transport."""
        opening = self.writer.start(sql.load)
        protocol, _, _ = self.reactor.spawned[-1]
        process = protocol.transport
        assert process.received == [sql.load]
        self.reply(("opened", "the file's contents"))
        assert self.successResultOf(opening) == "the file's contents"
        return protocol, process

    def reply(self, value: Any) -> None:
        protocol, _, _ = self.reactor.spawned[-1]
        data = frame(value)
        # Cut in two, as a pipe may deliver it.
        protocol.childDataReceived(1, data[:3])
        protocol.childDataReceived(1, data[3:])

    def write(self, *args: Any) -> Deferred[Any]:
        answer: Deferred[Any] = Deferred()
        self.writer.write(Write(sql.reserve, args, answer))
        return answer


class WriterTests(WriterCase):
    def test_each_turn_is_one_batch_and_a_transaction_answers_them_in_order(
        self,
    ) -> None:
        _, process = self.started()
        order: list[str] = []
        first = self.write(2).addCallback(lambda r: order.append("first") or r)
        second = self.write(1).addCallback(lambda r: order.append("second") or r)
        self.reactor.clock.advance(0)
        third = self.write(4).addCallback(lambda r: order.append("third") or r)
        self.reactor.clock.advance(0)
        assert process.received[1:] == [
            ([(sql.reserve, (2,)), (sql.reserve, (1,))], {}),
            ([(sql.reserve, (4,))], {}),
        ]
        # The process ran both batches in one transaction.
        self.reply((2, [range(1, 3), range(3, 4), range(4, 8)]))
        assert order == ["first", "second", "third"]
        assert self.successResultOf(first) == range(1, 3)
        assert self.successResultOf(second) == range(3, 4)
        assert self.successResultOf(third) == range(4, 8)
        assert self.writer.transactions == 1

    def test_a_failed_transaction_fails_its_writes_and_keeps_its_deletes(
        self,
    ) -> None:
        _, process = self.started()
        lost = self.write(2)
        self.writer.later(sql.delete_mail_ids, [5, 6])
        self.reactor.clock.advance(0)
        self.reply((1, "/srv/chat.sqlite3: disk I/O error"))
        failure = self.failureResultOf(lost, StoreError)
        assert str(failure.value) == "/srv/chat.sqlite3: disk I/O error"
        # The deletes go again with the next batch.
        kept = self.write(1)
        self.reactor.clock.advance(0)
        assert process.received[-1] == (
            [(sql.reserve, (1,))],
            {sql.delete_mail_ids: [5, 6]},
        )
        self.reply((1, [range(1, 2)]))
        assert self.successResultOf(kept) == range(1, 2)

    def test_late_deletes_go_with_the_next_writes_or_alone_after_a_wait(
        self,
    ) -> None:
        _, process = self.started()
        self.writer.later(sql.delete_mail_ids, [1])
        self.reactor.clock.advance(0)
        assert len(process.received) == 1  # the turn ended: they wait
        self.writer.later(sql.delete_mail_ids, [2])
        riding = self.write(1)
        self.reactor.clock.advance(0)
        assert process.received[1:] == [
            ([(sql.reserve, (1,))], {sql.delete_mail_ids: [1, 2]}),
        ]
        self.reply((1, [range(1, 2)]))
        self.successResultOf(riding)
        self.reactor.clock.advance(LATER_WAIT)
        assert len(process.received) == 2  # nothing left to hand over
        self.writer.later(sql.delete_mail_ids, [3])
        self.reactor.clock.advance(LATER_WAIT - 0.001)
        assert len(process.received) == 2
        self.reactor.clock.advance(0.001)
        assert process.received[2:] == [([], {sql.delete_mail_ids: [3]})]

    def test_late_deletes_are_dropped_once_the_process_is_gone(self) -> None:
        protocol, process = self.started()
        self.writer.later(sql.delete_mail_ids, [1, 2])
        lost = self.write(1)
        self.reactor.clock.advance(0)
        self.writer.later(sql.delete_mail_ids, [3])
        with capturedLogs() as events:
            protocol.processEnded(Failure(ProcessTerminated(signal=9)))
            self.failureResultOf(lost, StoreError)
            # Mail read from now on is read again after a restart: no
            # timer retries its delete for ever, nor logs it each time.
            self.writer.later(sql.delete_mail_ids, [4])
            # Only the next process's start is due (in a second).
            assert len(self.reactor.clock.getDelayedCalls()) == 1
            self.reactor.clock.advance(5 * LATER_WAIT)
        assert len(events) == 2  # the end, and the transaction it lost
        assert len(process.received) == 2
        self.reactor.clock.advance(1)
        protocol, _, _ = self.reactor.spawned[-1]
        self.reply(("opened", None))
        self.reactor.clock.advance(10 * LATER_WAIT)
        assert protocol.transport.received == [reopened]  # no deletes

    def test_late_deletes_of_a_last_transaction_that_fails_are_dropped(
        self,
    ) -> None:
        protocol, _ = self.started()
        self.writer.later(sql.delete_mail_ids, [1])
        stopped = self.writer.stop()
        self.reply((1, "/srv/chat.sqlite3: disk I/O error"))
        protocol.processEnded(Failure(ProcessDone(0)))
        self.successResultOf(stopped)
        assert self.reactor.clock.getDelayedCalls() == []

    def test_the_late_deletes_timer_first_leaves_no_second_hand_over(
        self,
    ) -> None:
        _, process = self.started()
        self.writer.later(sql.delete_mail_ids, [1])
        # The reactor was busy: the turn that queues a write ends after the
        # late deletes' time.
        self.reactor.clock.rightNow += LATER_WAIT
        self.write(1)
        queued = self.writer.queued
        self.reactor.clock.advance(0)
        assert process.received[1:] == [
            ([(sql.reserve, (1,))], {sql.delete_mail_ids: [1]}),
        ]
        assert self.writer.queued == queued + 1
        assert self.reactor.clock.getDelayedCalls() == []
