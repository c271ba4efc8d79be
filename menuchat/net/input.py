"""The input side of a line connection: bytes to lines, in order, at the
pace the line rate, the output and the store allow.

The framing is our own, not C{LineReceiver}'s: LineReceiver re-splits its
whole buffer on every read, which is quadratic in a flood of short lines;
L{LineInput._handle} scans the buffer in place once, and accepts LF as
well as CRLF. C{lineReceived} still gets one line at a time, and
C{pauseProducing}/C{resumeProducing} still stop and restart reading.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from twisted.internet.interfaces import IDelayedCall
from twisted.logger import Logger

from menuchat.net.output import OUTPUT_PAUSE, SharedLines, Transport
from menuchat.net.ratelimit import TokenBucket
from menuchat.net.tls import looks_like_tls

if TYPE_CHECKING:
    from menuchat.net.frontend import LineFactory, LineHandler

__all__ = ["LineInput"]


class LineInput:
    """The input side of a L{menuchat.net.connection.LineConnection}:
    framing, the line limit, decoding, the line rate, and waiting while a
    store's answer is due or the connection's own output is backed up."""

    if TYPE_CHECKING:
        factory: LineFactory
        transport: Transport
        handler: LineHandler | None
        name: str | None
        paused: bool
        MAX_LENGTH: int
        timeOut: int | None
        log: Logger
        _own_decode: bool
        _buffer: bytes
        _discarding: bool
        _fresh: bool
        _closed: bool
        _held: bool
        _queue: list[bytes | SharedLines] | None
        _queued: int
        _output_wait: bool
        _awaiting: bool
        _throttled: bool
        _refill: IDelayedCall | None
        _bucket: TokenBucket | None

        def _begin_reply(self) -> None: ...
        def _end_reply(self) -> None: ...
        def _spoke_tls(self) -> None: ...
        def _reset_timeout(self) -> None: ...
        def filter_input(self, data: bytes) -> bytes: ...
        def decode(self, line: bytes) -> str | None: ...
        def peer(self) -> str: ...
        def flush(self) -> None: ...
        def pauseProducing(self) -> None: ...
        def callLater(self, delay: float, call: Callable[..., Any]) -> IDelayedCall: ...

    def dataReceived(self, data: bytes) -> None:
        self._begin_reply()
        try:
            if self._fresh:
                self._fresh = False
                if looks_like_tls(data) and self.handler is not None:
                    self._spoke_tls()
                    return
            data = self.filter_input(data)
            if self._discarding:
                end = data.find(b"\n")
                if end < 0:
                    return
                self._discarding = False
                data = data[end + 1 :]
            self._buffer = self._buffer + data if self._buffer else data
            if not self.paused:
                self._handle()
        finally:
            self._end_reply()

    def _handle(self) -> None:
        """Hand the buffer's whole lines to L{lineReceived}, in order.

        Stops when reading is paused (the line rate, output backed up or a
        store's answer awaited), keeping the rest, which is at most a read
        or two: a paused transport reads no more. A partial line longer than
        the limit is dropped as it arrives, and so is the rest of it until
        its line end.
        """
        buffer = self._buffer
        start = 0
        bucket = self._bucket
        while not self._closed:
            end = buffer.find(b"\n", start)
            if end < 0:
                break
            backed_up = self._held or self._queued >= OUTPUT_PAUSE
            if self.paused or backed_up or (bucket and not self._take_token(bucket)):
                if backed_up and not self._output_wait:
                    self._output_wait = True
                    if not self.paused:
                        self.pauseProducing()
                break
            line = buffer[start:end]
            start = end + 1
            self.lineReceived(line)
        buffer = self._buffer = buffer[start:] if start else buffer
        if len(buffer) > self.MAX_LENGTH + 1 and not self.paused:  # + 1: a CR
            self._buffer = b""
            self._discarding = True
            if not self._closed:
                self._line_too_long()

    def lineReceived(self, line: bytes) -> None:
        self.factory.stats.lines_in += 1
        if line[-1:] == b"\r":
            line = line[:-1]
        if len(line) > self.MAX_LENGTH:
            self._line_too_long()
            return
        handler = self.handler
        assert handler is not None
        if self.name is not None and self.timeOut:
            self._reset_timeout()  # the idle timeout; the login one runs on
        if self._own_decode:
            text = self.decode(line)
            if text is None:
                return
        else:  # the default decode(), without a call of its own per line
            text = line.decode("utf-8", "replace")
        pending = handler.line_received(text)
        if pending is not None and not pending.called:
            self._awaiting = True
            if not self.paused:
                self.pauseProducing()
            pending.addBoth(self._answered)

    def _answered(self, result: object) -> None:
        self._awaiting = False
        if not self._closed:
            self._resume_input()

    def _line_too_long(self) -> None:
        self.log.warn("{peer} sent a line over the limit", peer=self.peer())
        assert self.handler is not None
        self.handler.line_too_long(self.MAX_LENGTH)

    def lineLengthExceeded(self, line: bytes) -> None:
        """Never called: L{_handle} discards long lines and goes on."""

    def _take_token(self, bucket: TokenBucket) -> bool:
        """Spend one line of the bucket; pause reading while it is empty.

        A paused connection is not read from (TCP pushes back on the sender)
        and resumes when the bucket holds a whole token again.
        """
        wait = bucket.take()
        if not wait:
            return True
        if self._refill is None:
            if not self._throttled:
                self._throttled = True
                self.log.info(
                    "{peer} is over the line rate: reading paused until its"
                    " budget refills (logged once a connection)",
                    peer=self.peer(),
                )
            self.pauseProducing()
            self._refill = self.callLater(wait, self._refilled)
        return False

    def _refilled(self) -> None:
        self._refill = None
        self._resume_input()

    def _resume_input(self) -> None:
        """Read again, unless the rate, the output or the store still says wait."""
        if (
            self.paused
            and self._refill is None
            and not self._output_wait
            and not self._awaiting
        ):
            self.resumeProducing()

    def resumeProducing(self) -> None:
        """Read again, handling first the lines already buffered."""
        self.paused = False
        self.transport.resumeProducing()
        if not self._closed:
            self._handle()
            if self._queue and not self._held and not self._closed:
                self.flush()
