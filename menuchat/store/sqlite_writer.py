"""The SQLite store's writer: queued writes, one transaction a batch, run
by a process of the store's own (L{menuchat.store.sqlite_process}).

The reactor queues L{Write}s during a turn, and values for the late
deletes (L{Writer.later}), and hands them over at its end, as one batch,
down a pipe to the store's process (L{menuchat.store.sqlite_child}). The
process takes every batch waiting there, runs them in one transaction,
commits, and answers once with every outcome. While it commits, the next
turns' batches queue in the pipe and share the next transaction, so a busy
server pays one commit for many writes and the reactor never waits on the
disk; and the process starts that transaction as soon as it has committed,
without waiting for the reactor to take the outcome of the last one
(outcomes reach the reactor in the order of the transactions).

In the reactor, each write's outcome goes first to its C{done} (which
brings the store's memory in step with what is now committed), then to its
Deferred: a caller hears of a write once it is on disk.
"""

from __future__ import annotations

import sqlite3
from collections import deque
from collections.abc import Callable
from typing import Any

from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IDelayedCall
from twisted.logger import Logger
from twisted.python.failure import Failure

from menuchat.core.answers import Answer
from menuchat.core.errors import ChatError
from menuchat.store.sqlite_child import Run, frame
from menuchat.store.sqlite_process import StoreProcess, cancel
from menuchat.store.sqlite_schema import StoreError

__all__ = ["Run", "Write", "Writer"]


class Write:
    """One call's work for the store's process, and what follows its commit.

    @ivar run: called in the store's process as C{run(cursor, *args)} (a
        module's function, and C{args} plain values: both go down a pipe as
        a pickle); a L{ChatError}
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


#: The most seconds a late delete waits for a write to go with: under load,
#: the deletes of the mail read go with the next messages' transaction;
#: alone, they cost a transaction of their own. (Under the private-message
#: benchmark with 10 pairs, half the transactions were deletes alone; riding
#: with the messages, the store's throughput went from 0.76 of the memory
#: store's to 0.81-0.86, and from 0.86-0.88 to 0.95-0.96 with 100 pairs.)
LATER_WAIT = 0.1


class Writer:
    """The reactor's queue to the store's process (L{StoreProcess}), which
    owns the SQLite connection, and the answers from it.

    @param reactor: provides C{callLater} (the end of a turn) and what
        L{StoreProcess} uses to run the store's process.
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
        #: Handed over, not yet answered: each batch and its late deletes.
        self._sent: deque[tuple[list[Write], Later]] = deque()
        self._process = StoreProcess(
            path, reactor, self.log, self._received, self._ended
        )
        self._pending: list[Write] = []
        self._later: Later = {}
        self.queued = 0
        self._scheduled: IDelayedCall | None = None
        #: The hand-over of late deletes that no write has taken yet.
        self._waiting: IDelayedCall | None = None
        self._observe: Observe | None = None
        self._seconds: Callable[[], float] = _untimed
        self._asked: float | None = None
        self._names: dict[Run, str] = {}
        self.transactions = 0

    @property
    def pid(self) -> int | None:
        """The store's process, once started (None before, and once it has
        ended)."""
        return self._process.pid

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
        """Start the store's process on the file; fire with C{load(connection)}
        once it has opened it (a one-line L{StoreError} if it cannot)."""
        return self._process.start(load)

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
        """Have C{run(cursor, values)} run at the end of a transaction soon,
        with the C{values} of every other call for the same C{run}: a delete
        of rows the store's memory already forgot, which commutes with every
        write. It goes with the next batch of writes, or alone once
        L{LATER_WAIT} has passed without one. Answered to no one; if rolled
        back, it goes again the same way."""
        if not self._running():
            return  # no process to run them: read twice, never lost
        later = self._later.get(run)
        if later is None:
            self._later[run] = later = []
        later.extend(values)
        self._later_soon()

    def _running(self) -> bool:
        """Whether the store's process is there to take more batches."""
        return self._process.pipe is not None

    def _later_soon(self) -> None:
        """Have the late deletes go with the next write's batch, or alone
        within L{LATER_WAIT} if no write comes."""
        if self._scheduled is None and self._waiting is None:
            self._waiting = self._reactor.callLater(LATER_WAIT, self._hand_over)

    def stop(self) -> Deferred[None]:
        """Hand over what is queued; fire once it is answered and the store's
        process has closed the file and ended."""
        # First no process is started again: what is queued fails, if it
        # finds no process, as closed, not as waiting for the next one.
        self._process.stop_restarting()
        self._hand_over()  # it cancels the turn's scheduled hand-over
        return self._process.stop()

    # In the reactor

    def _hand_over(self) -> None:
        """Give the store's process what is queued, as one batch. While it
        commits, the batches of the turns meanwhile wait in the pipe and go
        together in its next transaction."""
        cancel(self._scheduled)  # the late deletes' timer came first
        cancel(self._waiting)  # or the turn's end: the deletes go now
        self._scheduled = self._waiting = None
        self._asked = None
        self.queued += 1
        if not (self._pending or self._later):
            return
        batch, later = self._pending, self._later
        self._pending = []
        self._later = {}
        pipe = self._process.pipe
        if pipe is None:
            gone = self._process.gone or "the store is closed"
            self._answer(batch, later, Failure(StoreError(f"{self.path}: {gone}")))
            return
        try:
            data = frame(([(write.run, write.args) for write in batch], later))
        except Exception as e:  # a write that cannot be sent: a bug
            error = StoreError(f"{self.path}: cannot hand over a write ({e})")
            self._answer(batch, later, Failure(error))
            return
        self._sent.append((batch, later))
        pipe.send(data)

    def _answer(
        self, batch: list[Write], later: Later, outcome: list[Any] | Failure
    ) -> None:
        """The outcome of one transaction: each write's, in order."""
        self._observed(batch)
        if isinstance(outcome, Failure):
            failure = outcome
            self.log.error(
                "{path}: a transaction of {count} writes failed: {reason}",
                path=self.path,
                count=len(batch),
                reason=failure.getErrorMessage(),
            )
            # Deletes of what the store's memory forgot: with the next batch
            # (never at once: a broken disk would spin).
            if self._running():
                for run, values in later.items():
                    self._later.setdefault(run, []).extend(values)
                if self._later:
                    self._later_soon()
            for write in batch:
                try:
                    _refuse(write, failure)
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
                if isinstance(result, Failure):
                    _refuse(write, result)
                    continue
                if write.done is not None:
                    result = write.done(write.data, result)
                answer = write.answer
                if answer is not None:
                    answer.callback(result)
            except Exception:
                self.log.failure("{path}: an answer failed", path=self.path)
        if self._pending:
            # What the answers' callers asked next goes now, not a turn later
            # (with the late deletes asked meanwhile).
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

    def _received(self, message: Any) -> None:
        """A frame from the store's process after its opening: a
        transaction's outcome for the batches it ran (the oldest handed
        over)."""
        count, outcome = message
        batch, later = self._sent.popleft()
        for _ in range(count - 1):
            more, more_later = self._sent.popleft()
            batch += more
            for run, values in more_later.items():
                later.setdefault(run, []).extend(values)
        if isinstance(outcome, str):
            self._answer(batch, later, Failure(StoreError(outcome)))
            return
        self._answer(
            batch,
            later,
            [
                Failure(result) if isinstance(result, ChatError) else result
                for result in outcome
            ],
        )

    def _ended(self, gone: Failure) -> None:
        """The store's process has ended: what it had not answered fails with
        C{gone}."""
        # Late deletes no process will run: the mail is read again after
        # a restart (never lost), and no timer retries them for ever.
        cancel(self._waiting)
        self._waiting = None
        self._later = {}
        while self._sent:
            batch, later = self._sent.popleft()
            self._answer(batch, later, gone)


def _refuse(write: Write, failure: Failure) -> None:
    """C{write} did not happen: undo what the store's memory took of it,
    and tell its caller why."""
    if write.undo is not None:
        write.undo(write.data)
    if write.answer is not None:
        write.answer.errback(failure)
