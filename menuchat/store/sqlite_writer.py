"""The SQLite store's own thread: queued writes, one transaction a batch.

The reactor queues L{Write}s during a turn, and values for the late
deletes (L{Writer.later}), and hands them over at its end, as one batch,
on a queue the store's thread waits on. The thread takes every batch
waiting there, runs them in one transaction, commits, and wakes the
reactor once with every outcome (one C{callFromThread} a transaction, not
one a call). While it commits, the next turns' batches queue up and share
the next transaction, so a busy server pays one commit for many writes and
the reactor never waits on the disk; and the thread starts that transaction
as soon as it has committed, without waiting for the reactor to take the
outcome of the last one (outcomes reach the reactor in the order of the
transactions).

In the reactor, each write's outcome goes first to its C{done} (which
brings the store's memory in step with what is now committed), then to its
Deferred: a caller hears of a write once it is on disk.

On Linux the thread runs as C{SCHED_BATCH} (L{_behind_the_reactor}): the
reactor wakes it while holding Python's lock, and a thread of the default
policy, woken, takes the reactor's core at once only to wait for that lock.
"""

from __future__ import annotations

import os
import queue
import sqlite3
import threading
from collections.abc import Callable
from contextlib import suppress
from typing import Any

from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IDelayedCall
from twisted.logger import Logger
from twisted.python.failure import Failure

from menuchat.core.answers import Answer
from menuchat.core.errors import ChatError
from menuchat.store.sqlite_schema import StoreError, open_database

__all__ = ["Write", "Writer"]

#: What the thread runs for a write: the cursor and the write's C{args}.
Run = Callable[..., Any]


class Write:
    """One call's work for the store's thread, and what follows its commit.

    @ivar run: called in the thread as C{run(cursor, *args)}; a L{ChatError}
        it raises before writing anything refuses this write alone.
    @ivar answer: told C{done(data, result)} (or C{result}) once committed
        (a Deferred, or any L{Answer}); None when no one waits.
    @ivar done: in the reactor, once committed: keeps the store's memory in
        step, and gives the answer.
    @ivar undo: in the reactor, if the write was refused or rolled back.
    @ivar calls: how many store calls it answers, for their timing (a write
        can carry the work of several: see L{Writer.queued}).
    @ivar asked: when it was queued, while the writer is timed (L{Writer.time}).
    """

    __slots__ = ("answer", "args", "asked", "calls", "data", "done", "run", "undo")

    def __init__(
        self,
        run: Run,
        args: tuple[Any, ...],
        answer: Answer[Any] | None = None,
        done: Callable[[Any, Any], Any] | None = None,
        undo: Callable[[Any], None] | None = None,
        data: Any = None,
    ) -> None:
        self.run = run
        self.args = args
        self.answer = answer
        self.done = done
        self.undo = undo
        self.data = data
        self.calls = 1
        self.asked = 0.0


#: Told the name of a call, the seconds from its call to its answer, and
#: how many calls of that name took that long.
Observe = Callable[[str, float, int], None]


def _untimed() -> float:
    return 0.0


#: Late deletes by what runs them: C{run(cursor, values)}, after every write
#: of the transaction.
Later = dict[Run, list[Any]]

_Job = tuple[list[Write], Later] | Deferred[None]


class Writer:
    """The thread that owns the SQLite connection, and the reactor's queue to it.

    @param reactor: provides C{callLater} (the end of a turn) and
        C{callFromThread} (the thread's answers).
    @ivar transactions: how many transactions were committed since start.
    @ivar queued: changes with each write queued and each hand-over: while
        it is the same as just after a write was queued, that write is the
        last one and not yet handed over, and what is added to its C{args}
        runs in its place. A store makes one write of a run of calls this
        way (one statement, one answer for them all).
    """

    log = Logger()

    def __init__(self, path: str, reactor: Any) -> None:
        self.path = path
        self._reactor = reactor
        self._jobs: queue.SimpleQueue[_Job] = queue.SimpleQueue()
        self._pending: list[Write] = []
        self._later: Later = {}
        self.queued = 0
        self._scheduled: IDelayedCall | None = None
        self._thread: threading.Thread | None = None
        self._closing: Deferred[None] | None = None
        self._observe: Observe | None = None
        self._seconds: Callable[[], float] = _untimed
        self._asked: float | None = None
        self._names: dict[Run, str] = {}
        self.transactions = 0

    def time(
        self, observe: Observe, seconds: Callable[[], float], names: dict[Run, str]
    ) -> None:
        """From now on, tell C{observe} how long each answered write took,
        from its queueing to its answer, under the name C{names} gives its
        C{run} (a write of another kind is not timed); C{seconds} is the
        clock. (Timing each call with a callback
        on its Deferred cost a private message about a tenth of its time.)"""
        self._observe = observe
        self._seconds = seconds
        self._names = names

    def start(self, load: Callable[[sqlite3.Connection], Any]) -> Deferred[Any]:
        """Open the database in a new thread; fire with C{load(connection)}."""
        opened: Deferred[Any] = Deferred()
        self._thread = threading.Thread(
            target=self._serve,
            args=(opened, load),
            name="menuchat-sqlite",
            daemon=True,
        )
        self._thread.start()

        def gone(reason: Failure) -> Failure:
            self._thread = None  # it ended: nothing to stop
            closing, self._closing = self._closing, None
            if closing is not None:  # stopped while it was opening
                closing.callback(None)
            return reason

        return opened.addErrback(gone)

    def write(self, write: Write) -> None:
        """Queue C{write} for the next transaction: this turn's, or, while
        one is being committed, the one after it."""
        if self._observe is not None:
            # The writes of a turn are asked at the turn's time: one clock
            # read a turn, and one observation per kind in each answer.
            asked = self._asked
            if asked is None:
                asked = self._asked = self._seconds()
            write.asked = asked
        self._pending.append(write)
        self.queued += 1
        if self._scheduled is None:
            self._scheduled = self._reactor.callLater(0, self._hand_over)

    def later(self, run: Run, values: Any) -> None:
        """Have C{run(cursor, values)} run at the end of the next transaction,
        with the C{values} of every other call for the same C{run}: a delete
        of rows the store's memory already forgot, which commutes with every
        write. Answered to no one; if rolled back, it goes again with the
        next batch."""
        later = self._later.get(run)
        if later is None:
            self._later[run] = later = []
        later.extend(values)
        if self._scheduled is None:
            self._scheduled = self._reactor.callLater(0, self._hand_over)

    def stop(self) -> Deferred[None]:
        """Hand over what is queued; fire once it is answered and closed."""
        closed: Deferred[None] = Deferred()
        if self._scheduled is not None and self._scheduled.active():
            self._scheduled.cancel()
        self._hand_over()
        thread, self._thread = self._thread, None
        if thread is None:
            closed.callback(None)
        else:
            self._closing = closed
            self._jobs.put(closed)
        return closed

    # In the reactor

    def _hand_over(self) -> None:
        """Give the thread what is queued, as one batch. While the thread
        commits, the batches of the turns meanwhile wait on its queue (and
        cost no wake-up) and go together in its next transaction."""
        self._scheduled = None
        self._asked = None
        self.queued += 1
        if self._pending or self._later:
            job = (self._pending, self._later)
            self._pending = []
            self._later = {}
            self._jobs.put(job)

    def _answer(
        self, batch: list[Write], later: Later, outcome: list[Any] | Failure
    ) -> None:
        """The outcome of one transaction: each write's, in order."""
        self._observed(batch)
        if isinstance(outcome, Failure):
            failure = outcome
            if not failure.check(StoreError):
                error = StoreError(f"{self.path}: {failure.getErrorMessage()}")
                failure = Failure(error)
            self.log.error(
                "{path}: a transaction of {count} writes failed: {reason}",
                path=self.path,
                count=len(batch),
                reason=failure.getErrorMessage(),
            )
            # Deletes of what the store's memory forgot: with the next batch
            # (never at once: a broken disk would spin).
            for run, values in later.items():
                self._later.setdefault(run, []).extend(values)
            for write in batch:
                try:
                    if write.undo is not None:
                        write.undo(write.data)
                    if write.answer is not None:
                        write.answer.errback(failure)
                except Exception:
                    self.log.failure("{path}: an answer failed", path=self.path)
            if self._scheduled is None and self._pending:
                self._scheduled = self._reactor.callLater(0, self._hand_over)
            return
        self.transactions += 1
        for write, result in zip(batch, outcome, strict=True):
            # An answer that raises (one that is not a Deferred) is a bug of
            # its own: the writes after it are answered all the same.
            try:
                answer = write.answer
                if isinstance(result, Failure):
                    if write.undo is not None:
                        write.undo(write.data)
                    if answer is not None:
                        answer.errback(result)
                    continue
                if write.done is not None:
                    result = write.done(write.data, result)
                if answer is not None:
                    answer.callback(result)
            except Exception:
                self.log.failure("{path}: an answer failed", path=self.path)
        if self._pending or self._later:
            # What the answers' callers asked next goes now, not a turn later.
            if self._scheduled is not None:
                self._scheduled.cancel()
            self._hand_over()

    def _observed(self, batch: list[Write]) -> None:
        """Tell the timing of every write of C{batch} that answers a named
        call (the writes that no one waits for are not timed): once for
        each run of writes of a name asked in the same turn."""
        observe = self._observe
        if observe is None:
            return
        now = self._seconds()
        names = self._names
        last: str | None = None
        last_asked = 0.0
        count = 0
        for write in batch:
            if write.answer is None:
                continue
            name = names.get(write.run)
            if name is None:
                continue
            if name == last and write.asked == last_asked:
                count += write.calls
                continue
            if last is not None:
                observe(last, now - last_asked, count)
            last, last_asked, count = name, write.asked, write.calls
        if last is not None:
            observe(last, now - last_asked, count)

    def _closed(self, closing: Deferred[None]) -> None:
        self._closing = None
        closing.callback(None)

    # In the thread

    def _serve(
        self, opened: Deferred[Any], load: Callable[[sqlite3.Connection], Any]
    ) -> None:
        call = self._reactor.callFromThread
        _behind_the_reactor()
        try:
            conn = open_database(self.path)
        except BaseException:
            call(opened.errback, Failure())
            return
        try:
            loaded = load(conn)
        except BaseException:
            conn.close()
            call(opened.errback, Failure())
            return
        call(opened.callback, loaded)
        jobs = self._jobs
        closing: Deferred[None] | None = None
        while closing is None:
            job = jobs.get()
            if isinstance(job, Deferred):
                closing = job
                continue
            batch, later = job
            # Every batch that waited while the last one committed joins
            # this transaction.
            while True:
                try:
                    more = jobs.get_nowait()
                except queue.Empty:
                    break
                if isinstance(more, Deferred):
                    closing = more
                    break
                batch += more[0]
                for run, values in more[1].items():
                    if run in later:
                        later[run] += values
                    else:
                        later[run] = values
            try:
                outcome: list[Any] | Failure = _transaction(conn, batch, later)
            except BaseException:
                outcome = Failure()
            call(self._answer, batch, later, outcome)
        conn.close()
        call(self._closed, closing)


def _behind_the_reactor() -> None:
    """Have the kernel run the calling thread (the store's) as C{SCHED_BATCH},
    where it can (Linux): a thread of that policy does not take the core of
    the thread that woke it, but waits for a free core or the next tick.

    The reactor wakes the store's thread (a batch to write) while it holds
    Python's lock, and the store's thread needs that lock before it does
    anything. Of the default policy, a woken thread that slept long took
    the reactor's core at once, found the lock held and slept again: two
    switches, and the lock held meanwhile by a thread off its core. Measured
    under the private-message benchmark with 10 pairs: the writer's CPU a
    message fell from 6-7 us to about 4, its context switches from 0.2 a
    message to 0.1, and the reactor's CPU a message by 1-3 us.
    """
    policy = getattr(os, "SCHED_BATCH", None)
    if policy is None:
        return
    # Where it is not allowed, the default policy serves, a little slower.
    with suppress(OSError):
        os.sched_setscheduler(0, policy, os.sched_param(0))


def _transaction(
    conn: sqlite3.Connection, batch: list[Write], later: Later
) -> list[Any]:
    """Every write of C{batch}, then the late deletes, then one commit.

    A refusal (a L{ChatError}, raised by a write before it changes
    anything) answers that write alone; any other error rolls the whole
    transaction back and fails every write in it.
    """
    cursor = conn.cursor()
    cursor.execute("BEGIN IMMEDIATE")
    try:
        results: list[Any] = []
        append = results.append
        for write in batch:
            try:
                append(write.run(cursor, *write.args))
            except ChatError:
                append(Failure())
        for run, values in later.items():
            run(cursor, values)
        cursor.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.rollback()
        raise
    return results
