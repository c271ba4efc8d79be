"""The output side of a line connection: a queue, flushed once a turn.

Everything said to a connection is queued and leaves once per reactor turn
(or, for a connection's own replies and for what a read said to a few
others, at the end of that read), so lines that reach a member in one turn
cost one write, not one each. While the transport's send buffer is full,
output stays queued, up to C{max_output} bytes, past which the connection
is dropped as a slow reader. On a TCP or UNIX socket the queue is sent on
the socket directly when the transport holds nothing (see
L{QueuedOutput._send_queue}).
"""

from __future__ import annotations

import socket
from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

from twisted.internet.interfaces import (
    IAddress,
    IDelayedCall,
    IPullProducer,
    IPushProducer,
    IReactorTime,
)
from twisted.logger import Logger
from zope.interface import implementer

if TYPE_CHECKING:
    from menuchat.net.connection import LineFactory

__all__ = [
    "FEW",
    "OUTPUT_PAUSE",
    "OutputFlusher",
    "OutputValve",
    "QueuedOutput",
    "Transport",
]


class Transport(Protocol):
    """What a connection uses of its transport (TCP, UNIX, TLS or a test's)."""

    TLS: bool

    def write(self, data: bytes) -> None: ...
    def loseConnection(self) -> None: ...
    def abortConnection(self) -> None: ...
    def getPeer(self) -> IAddress: ...
    def getHandle(self) -> socket.socket: ...
    def registerProducer(self, producer: object, streaming: bool) -> None: ...
    def unregisterProducer(self) -> None: ...
    def pauseProducing(self) -> None: ...
    def resumeProducing(self) -> None: ...
    def setTcpNoDelay(self, enabled: bool) -> None: ...


# Queued output past which a connection's own lines wait: a client that
# asks for more than it reads is served as fast as it reads, no faster.
OUTPUT_PAUSE = 64 * 1024


#: Connections whose output a read may write at once (L{OutputFlusher.flush_if_few}).
FEW = 4


class OutputFlusher:
    """Writes the queued output of every connection once per reactor turn.

    Everything said to a connection during one turn (a read's worth of lines,
    from any number of senders) then leaves in one write: in a room of R
    members, K lines cost R writes instead of K times R.
    """

    def __init__(self, clock: IReactorTime) -> None:
        self._clock = clock
        self._dirty: list[QueuedOutput] = []
        self._late: list[Callable[[], None]] = []
        self._call: IDelayedCall | None = None
        self._flushing = False

    @property
    def late_calls_pending(self) -> bool:
        """Whether calls wait for the end of this turn (L{at_turn_end})."""
        return bool(self._late)

    def at_turn_end(self, call: Callable[[], None]) -> None:
        """Have C{call} run at the end of this turn, before output is written."""
        self._late.append(call)
        if self._call is None and not self._flushing:
            self._call = self._clock.callLater(0, self._flush)

    def flush_soon(self, connection: QueuedOutput) -> None:
        """Have C{connection}'s queued output written at the next turn."""
        self._dirty.append(connection)
        if self._call is None and not self._flushing:
            self._call = self._clock.callLater(0, self._flush)

    def flush_if_few(self) -> None:
        """Write now what this turn queued so far, if it is for L{FEW}
        connections at most and no late call waits.

        Called at the end of a read: a line to a small room (or a reply to
        one other person) then leaves in the turn that produced it, not at
        the turn's end, behind every other read of the turn. Output for
        more connections still waits, to go out in one write per member
        however many lines of the turn reach it.
        """
        if self._flushing or self._late or not self._dirty or len(self._dirty) > FEW:
            return
        call, self._call = self._call, None
        if call is not None:
            call.cancel()
        self._flush()

    def _flush(self) -> None:
        # What the late calls write is flushed in this pass, not in a turn of
        # its own: scheduling another flush from here cost every turn an
        # extra reactor iteration (a poll) with nothing to do.
        self._call = None
        self._flushing = True
        try:
            late, self._late = self._late, []
            for call in late:
                call()
            dirty, self._dirty = self._dirty, []
            for connection in dirty:
                connection.flush()
        finally:
            self._flushing = False
            if self._dirty or self._late:
                # Output caused by the flush itself (input read again as
                # output drained): the next turn's.
                self._call = self._clock.callLater(0, self._flush)


@implementer(IPushProducer, IPullProducer)
class OutputValve:
    """Told by the transport when its send buffer fills and drains.

    Registered as a push producer, the transport pauses it past 64 KiB and
    resumes it when drained; registered as a pull producer (for sockets
    written to directly), it is resumed each time the transport's buffer
    drains.
    """

    __slots__ = ("_connection",)

    def __init__(self, connection: QueuedOutput) -> None:
        self._connection = connection

    def pauseProducing(self) -> None:
        self._connection.hold_output()

    def resumeProducing(self) -> None:
        self._connection.release_output()

    def stopProducing(self) -> None:
        """The transport is closing; connectionLost does the rest."""


class QueuedOutput:
    """The output queue of a L{menuchat.net.connection.LineConnection}."""

    delimiter = b"\r\n"
    log = Logger()

    if TYPE_CHECKING:
        factory: LineFactory
        transport: Transport
        _queue: list[bytes]
        _queued: int
        _held: bool
        _closed: bool
        _output_wait: bool
        _replying: bool
        _socket: socket.socket | None

        def _resume_input(self) -> None: ...
        def peer(self) -> str: ...

    def write(self, text: str) -> None:
        """Queue C{text}, which carries its own line ends."""
        self._enqueue(text.encode())

    def sendLine(self, line: bytes) -> None:
        """Queue one line, adding the line end; through the queue like all else."""
        self._enqueue(line + self.delimiter)

    def _enqueue(self, data: bytes) -> None:
        """Queue C{data} for the next flush; drop a peer that lags too far.

        While the connection handles its own input (C{_replying}), the
        flusher is not told: what is queued then leaves when that input is
        handled (L{_end_reply}). A peer lags while the transport holds a
        full send buffer for it; what is queued for it then may not pass
        C{max_output} bytes.
        """
        if self._closed:
            return
        queue = self._queue
        if not queue and not self._held and not self._replying:
            self.factory.flusher.flush_soon(self)
        queue.append(data)
        self._queued += len(data)
        if self._held and self._queued > self.factory.limits.max_output:
            self._drop_slow_reader()

    #: Queue bytes already encoded (an event's cached rendering). The queue
    #: itself, not a wrapper: it is called once per member per room line.
    write_bytes = _enqueue

    def _end_reply(self) -> None:
        """The connection's own input is handled: its reply leaves now, and
        so does what it said to a few others (L{OutputFlusher.flush_if_few}).

        No wait for the turn's end for the people waiting for it. The reply
        waits for the turn's flush instead when the turn has calls still to
        come (mail notices, likely for the same people: one write), and
        whatever the transport holds back waits for the transport.
        """
        self._replying = False
        flusher = self.factory.flusher
        ready = bool(self._queue) and not self._held and not self._closed
        if flusher.late_calls_pending:
            if ready:
                flusher.flush_soon(self)
            return
        if ready:
            self.flush()
        flusher.flush_if_few()

    def at_turn_end(self, call: Callable[[], None]) -> None:
        """Have C{call} run once this reactor turn is over."""
        self.factory.flusher.at_turn_end(call)

    def flush(self) -> None:
        """Write the queued output, unless the transport asked us to wait."""
        if not self._held and not self._closed:
            self._send_queue()
            self._output_sent()

    def hold_output(self) -> None:
        """The transport's buffer is full: keep further output here."""
        self._held = True

    def release_output(self) -> None:
        """The transport's buffer drained: send what was kept."""
        self._held = False
        if not self._closed:
            self._send_queue()
            self._output_sent()

    def _output_sent(self) -> None:
        if self._output_wait and not self._held:
            self._output_wait = False
            self._resume_input()

    def _send_queue(self) -> None:
        queue = self._queue
        if not queue:
            return
        self.factory.stats.queued(self._queued)
        self._queue = []
        self._queued = 0
        data = queue[0] if len(queue) == 1 else b"".join(queue)
        sock = self._socket
        if sock is None or self._held:
            # Behind what the transport still holds, never past it.
            self.transport.write(data)
            return
        try:
            sent = sock.send(data)
        except OSError:
            sent = 0  # full, or broken: the transport finds out which
        if sent < len(data):
            # The transport sends the rest and, as our pull producer's
            # consumer, says when it is done: until then all else waits here.
            self._held = True
            self.transport.write(data[sent:])

    def _drop_slow_reader(self) -> None:
        self.log.warn(
            "{peer} dropped: {queued} bytes of output unread, over the limit of"
            " {limit}",
            peer=self.peer(),
            queued=self._queued,
            limit=self.factory.limits.max_output,
        )
        stats = self.factory.stats
        stats.queued(self._queued)
        stats.drops["slow_reader"] += 1
        self._closed = True
        self._queue = []
        self.transport.abortConnection()
