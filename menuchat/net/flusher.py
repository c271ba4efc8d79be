"""The turn's flush: when the queued output of every connection leaves.

At the turn's end, in one pass, for most output; a connection's own reply
sooner: at the end of the read that asked for it, for the first few of a
turn, and a batch at a time after those (L{OutputFlusher.end_reply}).
Calls asked for the turn's end (L{OutputFlusher.at_turn_end}) run before
that pass, their output in the place they were asked for.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from twisted.internet.interfaces import IDelayedCall, IReactorTime

if TYPE_CHECKING:
    from menuchat.net.output import QueuedOutput, SharedLines

__all__ = ["BATCH", "FEW", "OutputFlusher"]


#: Connections whose output a read may write at once (L{OutputFlusher.end_read}).
FEW = 4

#: Replies that, past the first L{FEW} of a turn, leave together before the
#: turn's end (L{OutputFlusher.end_reply}).
BATCH = 64


class OutputFlusher:
    """Writes the queued output of every connection once per reactor turn.

    Everything said to a connection during one turn (a read's worth of lines,
    from any number of senders) then leaves in one write: in a room of R
    members, K lines cost R writes instead of K times R.
    """

    def __init__(self, clock: IReactorTime) -> None:
        self._clock = clock
        self._dirty: list[QueuedOutput] = []
        #: Calls for the turn's end, each with the place in L{_dirty} it
        #: was asked for at (see L{_run_late}).
        self._late: list[tuple[Callable[[], None], int]] = []
        self._shared: list[SharedLines] = []
        self._call: IDelayedCall | None = None
        self._flushing = False
        #: Reads being handled (L{begin_read}): their end flushes or
        #: schedules the pass, not each thing queued during them.
        self._reading = 0
        #: Calls for the end of the read being handled (L{at_read_end}).
        self._read_late: list[Callable[[], None]] = []
        #: Replies sent at once since the last pass (L{end_reply}).
        self._replies = 0
        #: Replies past those, waiting for L{BATCH} more or for the pass.
        self._batch: list[QueuedOutput] = []

    def end_reply(self, connection: QueuedOutput, ready: bool) -> None:
        """C{connection} handled a read (or greeted) and, if C{ready}, has
        its reply queued: send it now or soon; then end the read
        (L{end_read}).

        The first L{FEW} replies since the last pass leave now: someone
        waiting for one gets it without waiting for the rest of the turn.
        In a turn that answers more (a burst of logins, many people typing
        at once), the rest leave L{BATCH} at a time, or with the turn's
        pass: reads handled together, then their sends. Sending each reply
        as its read ends cost 12% more server CPU per login in a burst of
        10,000 logins (the same syscalls); holding all of them for the pass
        had the first half of the burst wait for the second, the median
        login 40% later than with batches. While calls wait for the turn's
        end (mail notices, likely for the same people), a reply waits for
        them, to leave with them in one write.
        """
        now = not self._late
        try:
            if ready and now and self._replies < FEW:
                self._replies += 1
                connection.flush()
            elif ready:
                if now:  # past the first few: one of a batch (end_read)
                    now = False
                    self._batch.append(connection)
                self._dirty.append(connection)
        finally:
            self.end_read(now)

    def at_turn_end(self, call: Callable[[], None]) -> None:
        """Have C{call} run at the end of this turn, before output is written.

        What it writes leaves in the place it was asked for: after the
        output queued before, before the output queued after.
        """
        self._late.append((call, len(self._dirty)))
        if self._call is None and not self._flushing and not self._reading:
            self._call = self._clock.callLater(0, self._flush)

    def at_read_end(self, call: Callable[[], None]) -> None:
        """Have C{call} run when the read being handled is over, before its
        output is written (or, outside a read, at the end of the turn).

        For what may be asked many times in one read and said once: a
        notice then leaves with the output of the read that caused it,
        not behind the rest of the turn's reads.
        """
        if self._reading:
            self._read_late.append(call)
        else:
            self.at_turn_end(call)

    def flush_soon(self, connection: QueuedOutput) -> None:
        """Have C{connection}'s queued output written at the next turn."""
        self._dirty.append(connection)
        if self._call is None and not self._flushing and not self._reading:
            self._call = self._clock.callLater(0, self._flush)

    def seal_at_turn_end(self, shared: SharedLines) -> None:
        """Have C{shared} sealed at the end of this turn, if no one did before."""
        shared.turn = True
        self._shared.append(shared)
        if self._call is None and not self._flushing and not self._reading:
            self._call = self._clock.callLater(0, self._flush)

    def begin_read(self) -> None:
        """A connection handles a read (or its greeting): until L{end_read},
        what it queues, for itself or others, waits for that end, which
        writes it or schedules the turn's pass: a read costs no scheduled
        call that its own end would cancel."""
        self._reading += 1

    def end_read(self, now: bool = True) -> None:
        """A read is handled: write now what this turn queued so far, if it
        is for L{FEW} connections at most, no late call waits and C{now};
        else have the turn's pass do it.

        A line to a small room (or a reply to one other person) then leaves
        in the turn that produced it, not at the turn's end, behind every
        other read of the turn. Output for more connections still waits,
        to go out in one write per member however many lines of the turn
        reach it.
        """
        try:
            if self._reading == 1:
                while self._read_late:
                    calls, self._read_late = self._read_late, []
                    for call in calls:
                        call()
        finally:
            self._reading -= 1
            if not self._reading and not self._flushing:
                dirty = self._dirty
                if now and dirty and not self._late and len(dirty) <= FEW:
                    pass_call, self._call = self._call, None
                    if pass_call is not None:
                        pass_call.cancel()
                    self._flush()
                else:
                    if len(self._batch) >= BATCH and not self._late:
                        self._send_batch()
                    if self._call is None and (dirty or self._late or self._shared):
                        self._call = self._clock.callLater(0, self._flush)

    def _send_batch(self) -> None:
        """Send a whole batch of replies (L{end_reply}), once the read that
        completed it has run its read-end calls: a notice one of them asked
        for leaves with the reply it follows, and input that a send lets a
        connection read again is handled after them. The connections stay
        in the pass's list, which finds them sent."""
        batch, self._batch = self._batch, []
        for replied in batch:
            replied.flush()

    def _flush(self) -> None:
        # What the late calls write is flushed in this pass, not in a turn of
        # its own: scheduling another flush from here cost every turn an
        # extra reactor iteration (a poll) with nothing to do.
        self._call = None
        self._flushing = True
        self._replies = 0
        self._batch = []
        try:
            late, self._late = self._late, []
            if late:
                self._run_late(late)
            shared, self._shared = self._shared, []
            for lines in shared:
                lines.seal()
            dirty, self._dirty = self._dirty, []
            for connection in dirty:
                connection.flush()
        finally:
            self._flushing = False
            if self._dirty or self._late or self._shared:
                # Output caused by the flush itself (input read again as
                # output drained): the next turn's.
                self._call = self._clock.callLater(0, self._flush)

    def _run_late(self, late: list[tuple[Callable[[], None], int]]) -> None:
        """Run the turn's late calls. What each writes to a connection that
        had nothing queued goes out in the call's place among the turn's
        output: a mail notice (a late call) leaves with the output of the
        read that sent the mail, not behind the replies to every read of
        the turn. The people of a turn's reads are answered in turn."""
        queued, self._dirty = self._dirty, []
        dirty: list[QueuedOutput] = []
        done = 0
        try:
            for call, place in late:
                if place > done:
                    dirty += queued[done:place]
                    done = place
                call()
                if self._dirty:
                    dirty += self._dirty
                    self._dirty = []
        finally:
            # Even if a call failed, nothing queued is forgotten.
            dirty += self._dirty
            dirty += queued[done:]
            self._dirty = dirty
