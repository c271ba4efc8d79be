"""The SQLite store's process, as its writer runs it: the command it is
started with, what it prints, its opening, its stop (killed if stuck), its
end, and its starts again; and the real process."""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path
from typing import Any

from twisted.internet import reactor
from twisted.internet.defer import Deferred
from twisted.internet.error import ProcessDone, ProcessTerminated
from twisted.logger import LogLevel, capturedLogs, formatEvent, globalLogPublisher
from twisted.python.failure import Failure

import menuchat
from menuchat.store import sqlite_sql as sql
from menuchat.store.sqlite import SQLiteStore, StoreError
from menuchat.store.sqlite_child import reopened
from menuchat.store.sqlite_process import RESTART_WAIT_MOST, STOP_WAIT
from tests.test_sqlite import StoreFileCase
from tests.test_sqlite_writer import FakeProcess, WriterCase
from tests.test_store_contract import inline, message


class StartAndStopTests(WriterCase):
    """The store's process started on its file, stopped, and ended."""

    def test_it_runs_the_store_process_on_its_file(self) -> None:
        self.started()
        [(_, args, fds)] = self.reactor.spawned
        assert args == [
            sys.executable,
            "-P",
            "-m",
            "menuchat.store.sqlite_child",
            "/srv/chat.sqlite3",
        ]
        assert fds == {0: "w", 1: "r", 2: "r"}
        assert self.writer.pid == FakeProcess.pid
        # It imports this menuchat, not another one the path may find.
        first = self.reactor.env["PYTHONPATH"].split(os.pathsep)[0]
        assert Path(first) / "menuchat" == Path(menuchat.__file__).parent

    def test_what_the_process_prints_is_logged_line_by_line(self) -> None:
        protocol, _ = self.started()
        with capturedLogs() as events:
            protocol.childDataReceived(2, b"Traceback (most recent call last):\n")
            protocol.childDataReceived(2, b"  ...\nMemory")
            protocol.childDataReceived(2, b"Error\nlast words")
            protocol.processEnded(Failure(ProcessTerminated(exitCode=1)))
        said = "/srv/chat.sqlite3: the store's process: "
        assert [formatEvent(e) for e in events] == [
            said + "Traceback (most recent call last):",
            said + "  ...",
            said + "MemoryError",
            said + "last words",
            "/srv/chat.sqlite3: the store's process ended: A process has ended"
            " with a probable error condition: process ended with exit code 1.",
        ]
        assert [e["log_level"] for e in events] == [LogLevel.warn] * 4 + [
            LogLevel.error
        ]

    def test_a_file_it_cannot_open_fails_the_start_in_one_line(self) -> None:
        opening = self.writer.start(sql.load)
        self.reply(("failed", "/srv/chat.sqlite3: not an SQLite database"))
        failure = self.failureResultOf(opening, StoreError)
        assert str(failure.value) == "/srv/chat.sqlite3: not an SQLite database"
        protocol, _, _ = self.reactor.spawned[-1]
        protocol.processEnded(Failure(ProcessTerminated(exitCode=1)))
        self.successResultOf(self.writer.stop())

    def test_stop_hands_over_ends_the_input_and_waits_for_the_end(self) -> None:
        protocol, process = self.started()
        last = self.write(1)
        stopped = self.writer.stop()
        assert process.received[-1] == ([(sql.reserve, (1,))], {})
        assert process.input_closed
        self.assertNoResult(stopped)
        self.reply((1, [range(1, 2)]))
        assert self.successResultOf(last) == range(1, 2)
        self.assertNoResult(stopped)
        protocol.processEnded(Failure(ProcessDone(0)))
        self.successResultOf(stopped)
        assert self.writer.pid is None
        # Closed: a write now fails at once, with no process to go to.
        after = self.write(1)
        self.reactor.clock.advance(0)
        self.failureResultOf(after, StoreError)

    def test_a_process_stuck_once_stopped_is_killed_after_a_wait(self) -> None:
        protocol, process = self.started()
        stopped = self.writer.stop()
        self.reactor.clock.advance(STOP_WAIT - 0.001)
        assert process.signals == []
        with capturedLogs() as events:
            self.reactor.clock.advance(0.001)
        assert process.signals == ["KILL"]
        assert [formatEvent(e) for e in events] == [
            "/srv/chat.sqlite3: the store's process did not end within 30.0 s"
            " of its last writes: killed"
        ]
        self.assertNoResult(stopped)
        protocol.processEnded(Failure(ProcessTerminated(signal=9)))
        self.successResultOf(stopped)

    def test_a_process_that_ends_in_time_is_not_killed(self) -> None:
        protocol, process = self.started()
        stopped = self.writer.stop()
        protocol.processEnded(Failure(ProcessDone(0)))
        self.successResultOf(stopped)
        assert self.reactor.clock.getDelayedCalls() == []
        assert process.signals == []

    def test_a_process_that_ends_fails_what_it_had_not_answered(self) -> None:
        protocol, process = self.started()
        lost = self.write(2)
        self.reactor.clock.advance(0)
        protocol.processEnded(Failure(ProcessTerminated(signal=9)))
        failure = self.failureResultOf(lost, StoreError)
        assert "its process ended" in str(failure.value)
        after = self.write(1)
        self.reactor.clock.advance(0)
        failure = self.failureResultOf(after, StoreError)
        assert "its process ended" in str(failure.value)
        assert len(process.received) == 2  # nothing more went its way
        self.successResultOf(self.writer.stop())

    def test_a_second_stop_waits_for_the_same_end(self) -> None:
        protocol, _ = self.started()
        first = self.writer.stop()
        second = self.writer.stop()
        self.assertNoResult(first)
        self.assertNoResult(second)
        protocol.processEnded(Failure(ProcessDone(0)))
        self.successResultOf(first)
        self.successResultOf(second)


class RestartTests(WriterCase):
    """A store process that ends unasked is started again."""

    def end(self, reason: Any = None) -> None:
        protocol, _, _ = self.reactor.spawned[-1]
        protocol.processEnded(Failure(reason or ProcessTerminated(signal=9)))

    def reopen(self) -> FakeProcess:
        """Answer the latest process's opening, as one started again."""
        protocol, _, _ = self.reactor.spawned[-1]
        process = protocol.transport
        assert process.received == [reopened]
        self.reply(("opened", None))
        return process

    def test_one_that_ran_a_while_is_started_again_at_once(self) -> None:
        self.started()
        self.reactor.clock.advance(RESTART_WAIT_MOST)
        lost = self.write(1)
        self.reactor.clock.advance(0)
        with capturedLogs() as events:
            self.end()
            # What it had not answered fails; what comes meanwhile waits
            # for the next one.
            failure = self.failureResultOf(lost, StoreError)
            assert "it is being started again" in str(failure.value)
            waiting = self.write(2)
            self.reactor.clock.advance(0)
            assert len(self.reactor.spawned) == 2
            protocol, _, _ = self.reactor.spawned[-1]
            self.reply(("opened", None))
        assert protocol.transport.received == [
            reopened,
            ([(sql.reserve, (2,))], {}),
        ]
        assert [formatEvent(e) for e in events] == [
            "/srv/chat.sqlite3: the store's process ended: A process has ended"
            " with a probable error condition: process ended by signal 9.",
            "/srv/chat.sqlite3: a transaction of 1 writes failed:"
            " /srv/chat.sqlite3: its process ended (A process has ended with a"
            " probable error condition: process ended by signal 9.); it is being"
            " started again",
            "/srv/chat.sqlite3: starting the store's process again",
            "/srv/chat.sqlite3: the store's process is running again",
        ]
        self.reply((1, [range(1, 3)]))
        assert self.successResultOf(waiting) == range(1, 3)

    def test_one_that_ends_soon_after_starting_waits_longer_each_time(
        self,
    ) -> None:
        self.started()
        waits = []
        for _ in range(4):
            self.end()
            spawned = len(self.reactor.spawned)
            waited = 0.0
            while len(self.reactor.spawned) == spawned:
                self.reactor.clock.advance(0.5)
                waited += 0.5
            waits.append(waited)
            self.reopen()
        # One that cannot open the file waits too, and longer.
        self.end()
        self.reactor.clock.advance(16)
        self.reply(("failed", "/srv/chat.sqlite3: disk I/O error"))
        self.end(ProcessTerminated(exitCode=1))
        self.reactor.clock.advance(31.9)
        assert len(self.reactor.spawned) == 6
        self.reactor.clock.advance(0.1)
        assert len(self.reactor.spawned) == 7
        assert waits == [1.0, 2.0, 4.0, 8.0]
        self.flushLoggedErrors()

    def test_a_stop_while_it_waits_starts_nothing(self) -> None:
        self.started()
        self.end()
        stopped = self.writer.stop()
        self.successResultOf(stopped)
        self.reactor.clock.advance(RESTART_WAIT_MOST)
        assert len(self.reactor.spawned) == 1
        assert self.reactor.clock.getDelayedCalls() == []

    def test_what_is_queued_while_it_waits_fails_as_closed_once_stopped(
        self,
    ) -> None:
        self.started()
        self.end()
        queued = self.write(1)
        stopped = self.writer.stop()
        failure = self.failureResultOf(queued, StoreError)
        # Not "being started again": the stop came first.
        assert str(failure.value) == "/srv/chat.sqlite3: the store is closed"
        self.successResultOf(stopped)

    def test_the_first_start_failing_is_not_retried(self) -> None:
        opening = self.writer.start(sql.load)
        self.reply(("failed", "/srv/chat.sqlite3: not an SQLite database"))
        self.failureResultOf(opening, StoreError)
        self.end(ProcessTerminated(exitCode=1))
        self.reactor.clock.advance(RESTART_WAIT_MOST)
        assert len(self.reactor.spawned) == 1


class StoreProcessTests(StoreFileCase):
    """The real process, as the store starts it."""

    @inline
    async def test_the_signals_that_stop_a_server_leave_it_running(self) -> None:
        # A terminal's Ctrl-C reaches the whole process group: the process
        # must still run the writes the server hands over as it stops.
        store = await self.started()
        pid = store._writer.pid
        assert pid is not None and pid != os.getpid()
        for name in ("SIGINT", "SIGTERM", "SIGHUP"):
            os.kill(pid, getattr(signal, name))
        assert await store.deliver(message(1, 2, "still here"), 10) == 1
        await store.stop()
        again = await self.started()
        assert [m.text for m in await again.take_mail(2)] == ["still here"]

    @inline
    async def test_it_imports_nothing_from_the_working_directory(self) -> None:
        # twistd runs in the data directory: a file there that shares a
        # module's name is not the store process's code.
        work = self.dir / "work"
        (work / "menuchat").mkdir(parents=True)
        (work / "menuchat" / "__init__.py").write_text("raise ImportError('here')")
        here = os.getcwd()
        os.chdir(work)
        try:
            store = SQLiteStore(str(self.dir / "menuchat.sqlite3"), reactor)
            starting = store.start()  # the process is spawned at once
        finally:
            os.chdir(here)
        self.addCleanup(store.stop)
        await starting
        assert await store.deliver(message(1, 2, "here"), 10) == 1

    @inline
    async def test_a_killed_process_fails_what_it_had_and_is_started_again(
        self,
    ) -> None:
        store = await self.started()
        assert await store.deliver(message(1, 2, "before"), 10) == 1
        first = store._writer.pid
        assert first is not None
        running: Deferred[None] = Deferred()

        def watch(event: dict[str, Any]) -> None:
            if "running again" in formatEvent(event) and not running.called:
                running.callback(None)

        globalLogPublisher.addObserver(watch)
        self.addCleanup(globalLogPublisher.removeObserver, watch)
        os.kill(first, signal.SIGKILL)
        lost = store.deliver(message(1, 2, "lost"), 10)
        self.assertFailure(lost, StoreError)
        error = await lost
        assert "its process ended" in str(error)
        await running
        assert store._writer.pid not in (None, first)
        assert await store.deliver(message(1, 2, "after"), 10) == 2
        await store.stop()
        again = await self.started()
        assert [m.text for m in await again.take_mail(2)] == ["before", "after"]
        self.flushLoggedErrors()


class RestartAfterStopTests(WriterCase):
    """Review: no process is started once stopped; the reason given is the
    one of the process that ended."""

    end = RestartTests.end
    reopen = RestartTests.reopen

    def test_a_stop_while_one_starts_again_starts_no_other(self) -> None:
        self.started()
        self.end()
        self.reactor.clock.advance(1)  # the next one opens the file
        assert len(self.reactor.spawned) == 2
        stopped = self.writer.stop()
        self.reactor.clock.advance(STOP_WAIT)  # stuck opening: killed
        self.end()
        self.successResultOf(stopped)
        self.reactor.clock.advance(RESTART_WAIT_MOST)
        assert len(self.reactor.spawned) == 2
        assert self.reactor.clock.getDelayedCalls() == []
        self.flushLoggedErrors()

    def test_one_started_again_that_ends_before_opening_says_why(self) -> None:
        self.started()
        self.end()
        self.reactor.clock.advance(1)
        lost = self.write(1)
        self.reactor.clock.advance(0)
        with capturedLogs() as events:
            self.end(ProcessTerminated(exitCode=3))
        failure = self.failureResultOf(lost, StoreError)
        assert "exit code 3" in str(failure.value)
        assert "signal 9" not in str(failure.value)
        assert any("exit code 3" in formatEvent(e) for e in events)
        # And it is tried again, later.
        self.reactor.clock.advance(2)
        assert len(self.reactor.spawned) == 3

    def test_after_a_run_of_a_minute_the_waits_start_again_from_one(
        self,
    ) -> None:
        self.started()
        for wait in (1, 2, 4):
            self.end()
            self.reactor.clock.advance(wait)
            self.reopen()
        self.reactor.clock.advance(RESTART_WAIT_MOST)
        self.end()
        self.reactor.clock.advance(0)
        self.reopen()
        self.end()
        spawned = len(self.reactor.spawned)
        self.reactor.clock.advance(1)
        assert len(self.reactor.spawned) == spawned + 1
