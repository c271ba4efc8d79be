"""The output side of a line connection: a queue, flushed once a turn.

Everything said to a connection is queued and leaves once per reactor turn
(or, for a connection's own replies and for what a read said to a few
others, at the end of that read: L{menuchat.net.flusher}), so lines that
reach a member in one turn cost one write, not one each. While the
transport's send buffer is full, output stays queued, up to C{max_output}
bytes, past which the connection is dropped as a slow reader. On a TCP or
UNIX socket the queue is sent on the socket directly when the transport
holds nothing (see L{QueuedOutput._send_queue}).

Lines that reach many connections alike (a room's) can be queued as one
L{SharedLines}: every connection's queue holds the same object, lines
said later in the same turn are added to it once, not once per
connection, and it is joined into one bytes object when the first of
those connections sends it.
"""

from __future__ import annotations

import socket
from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

from twisted.internet.interfaces import IAddress, IPullProducer, IPushProducer
from twisted.logger import Logger
from zope.interface import implementer

if TYPE_CHECKING:
    from menuchat.net.frontend import LineFactory

__all__ = [
    "OUTPUT_PAUSE",
    "OutputValve",
    "QueuedOutput",
    "SharedLines",
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


class SharedLines:
    """Encoded lines queued for several connections at once.

    Open, it takes more lines (L{append}); sealed, it is one bytes object
    (L{seal}). It is sealed when the first connection holding it sends its
    queue, when a connection holding it last is given other output (so
    that nothing said later overtakes that output), and at the end of the
    turn at the latest: it lives one reactor turn, and what it holds is
    never more than a turn's lines.
    """

    __slots__ = ("_held", "data", "lines", "turn")

    def __init__(self, first: bytes) -> None:
        self.lines = [first]
        #: The lines joined, once sealed; None while open.
        self.data: bytes | None = None
        #: Whether the flusher will seal it at the end of the turn.
        self.turn = False
        self._held: list[QueuedOutput] = []

    @property
    def open(self) -> bool:
        """Whether lines may still be added."""
        return self.data is None

    def append(self, line: bytes) -> None:
        """Add C{line} for every connection holding these lines; only while open."""
        self.lines.append(line)

    def seal(self) -> bytes:
        """Take no more lines; the lines as one bytes object, joined once.

        A connection that held them while its transport was full counts
        their size now, and is dropped if that takes it past its limit.
        """
        data = self.data
        if data is None:
            lines = self.lines
            data = self.data = lines[0] if len(lines) == 1 else b"".join(lines)
            self.lines = []
            held, self._held = self._held, []
            for output in held:
                output._shared_sealed(len(data))
        return data


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
        _queue: list[bytes | SharedLines] | None
        _queued: int
        _has_shared: bool
        _tail: SharedLines | None
        _held: bool
        _closed: bool
        _output_wait: bool
        _replying: bool
        _reply_later: bool
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
        if self._reply_later:
            # The rest of a reply kept back (L{reply_later}): all of it goes.
            self._reply_later = False
            if not self._held and not self._replying:
                self.factory.flusher.flush_soon(self)
        elif not queue and not self._held and not self._replying:
            self.factory.flusher.flush_soon(self)
        if self._tail is not None:
            # Lines shared with others come last here: none said later may
            # overtake this output, so they take no more.
            self._tail.seal()
            self._tail = None
        if queue is None:
            self._queue = [data]
        else:
            queue.append(data)
        self._queued += len(data)
        if self._held and self._queued > self.factory.limits.max_output:
            self._drop_slow_reader()

    #: Queue bytes already encoded (an event's cached rendering). The queue
    #: itself, not a wrapper: it is called once per member per room line.
    write_bytes = _enqueue

    def write_shared(self, shared: SharedLines) -> None:
        """Queue C{shared}, which other connections' queues hold too.

        Once a turn per room, not once a line: the lines said later in the
        turn are added to C{shared} alone, while it is open.
        """
        if self._closed:
            return
        queue = self._queue
        if self._reply_later:
            self._reply_later = False
            if not self._held and not self._replying:
                self.factory.flusher.flush_soon(self)
        elif not queue and not self._held and not self._replying:
            self.factory.flusher.flush_soon(self)
        if not shared.turn:
            self.factory.flusher.seal_at_turn_end(shared)
        if queue is None:
            self._queue = [shared]
        else:
            queue.append(shared)
        self._has_shared = True
        self._tail = shared
        if self._held:
            shared._held.append(self)

    def _shared_sealed(self, size: int) -> None:
        """Lines this held connection shares were sealed: count their size."""
        if self._closed:
            return
        self._queued += size
        if self._held and self._queued > self.factory.limits.max_output:
            self._drop_slow_reader()

    def _clear_queue(self) -> None:
        """Forget what is queued (the connection is gone); its size stays
        counted, as the size it reached."""
        self._queue = None
        self._has_shared = False
        self._tail = None

    def _begin_reply(self) -> None:
        """The connection handles its own input (or greets): what it writes
        is its reply, until L{_end_reply}."""
        self._replying = True
        self.factory.flusher.begin_read()

    def _end_reply(self) -> None:
        """The connection's own input is handled: its reply leaves now or
        soon (L{OutputFlusher.end_reply}), unless part of it is still to
        come (L{reply_later}), and so does what it said to a few others
        (L{OutputFlusher.end_read}). Whatever the transport holds back
        waits for the transport.

        @see: L{menuchat.net.flusher}
        """
        self._replying = False
        flusher = self.factory.flusher
        if self._reply_later:
            # Kept for the rest of the reply, which brings it along.
            flusher.end_read()
        else:
            ready = bool(self._queue) and not self._held and not self._closed
            flusher.end_reply(self, ready)

    def at_turn_end(self, call: Callable[[], None]) -> None:
        """Have C{call} run once this reactor turn is over."""
        self.factory.flusher.at_turn_end(call)

    def at_read_end(self, call: Callable[[], None]) -> None:
        """Have C{call} run once the read being handled is over."""
        self.factory.flusher.at_read_end(call)

    def reply_later(self) -> None:
        """The reply to the input being handled is not whole: part of it
        waits for an answer still to come (a store's). What is queued for
        it then stays queued at the end of this input, and leaves with the
        next thing written, in one write: a client that sends several
        lines at once gets their answers in one write, not two."""
        if self._tail is not None:
            # Lines shared with others, queued before the rest of the reply:
            # none said later may join them, ahead of that rest.
            self._tail.seal()
            self._tail = None
        if self._replying and self._queue and not self._closed:
            self._reply_later = True

    def flush(self) -> None:
        """Write the queued output, unless the transport asked us to wait."""
        if not self._held and not self._closed:
            self._send_queue()
            if self._output_wait:
                self._output_sent()

    def write_now(self, data: bytes) -> None:
        """Send C{data} (lines with their ends) now, behind what is queued,
        not at the end of the turn: for output someone waits for (a private
        message), which would otherwise wait for every other read of the
        turn. While the transport's buffer is full, it is queued as ever."""
        if self._held or self._closed:
            self._enqueue(data)
            return
        if self._queue is None:
            self._queue = [data]
        else:
            self._queue.append(data)
        self.flush()  # sends the whole queue: nothing is left to count

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
        self._queue = None
        self._queued = 0
        if self._has_shared:
            self._has_shared = False
            self._tail = None
            first = queue[0]
            if len(queue) == 1 and isinstance(first, SharedLines):
                # A room's lines alone: the shared bytes, joined once.
                data = first.data or first.seal()
            else:
                data = b"".join(
                    [d.seal() if isinstance(d, SharedLines) else d for d in queue]
                )
        else:
            # Plain bytes alone (typed so without cast(), a call every send).
            plain: list[bytes] = queue  # type: ignore[assignment]
            data = plain[0] if len(plain) == 1 else b"".join(plain)
        self.factory.stats.queued(len(data))
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
        self._clear_queue()
        self.transport.abortConnection()
