"""The connection: bytes to lines to the session, text back to bytes.

A thin adapter. It frames and decodes lines, applies the per-connection
limits (line length, line rate, unsent output, timeouts) and owns the
outgoing queue; what a line means is the session's business, and everything
shared lives in the factory.
"""

from __future__ import annotations

import socket
from typing import TYPE_CHECKING

from twisted.internet import tcp
from twisted.internet.interfaces import IPullProducer, IPushProducer, ITCPTransport
from twisted.internet.protocol import connectionDone
from twisted.logger import Logger
from twisted.protocols.basic import LineReceiver
from twisted.protocols.policies import TimeoutMixin
from twisted.python.failure import Failure
from zope.interface import implementer

from menuchat import menu
from menuchat.menu import Session

if TYPE_CHECKING:
    from twisted.internet.interfaces import IDelayedCall

    from menuchat.server import MenuChatFactory

__all__ = ["MenuChatProtocol"]

IAC, SB, SE = 0xFF, 0xFA, 0xF0
WILL, WONT, DO, DONT = 0xFB, 0xFC, 0xFD, 0xFE
_REFUSAL = {DO: WONT, WILL: DONT}

# Longest telnet subnegotiation kept while waiting for its end.
_SUBNEGOTIATION_LIMIT = 1024

# Queued output past which a connection's own lines wait: a client that
# asks for more than it reads is served as fast as it reads, no faster.
OUTPUT_PAUSE = 64 * 1024

# First bytes of a TLS (or SSLv2) ClientHello sent to the plain-text port.
_TLS_STARTS = (b"\x16", b"\x80")


class _TelnetFilter:
    """Takes telnet commands out of the byte stream and refuses every option.

    A telnet client may ask the server to do or allow options; it is told
    no (WONT to a DO, DONT to a WILL). That answer matters: after Ctrl-C,
    telnet sends IAC IP IAC DO TIMING-MARK and shows nothing more until it
    is answered. A command split across reads is kept until it is whole.
    UTF-8 never contains the byte 255, so every IAC is a command.
    """

    __slots__ = ("_pending",)

    def __init__(self) -> None:
        self._pending = b""

    def feed(self, data: bytes) -> tuple[bytes, bytes]:
        """C{data} without telnet commands, and the answers they call for."""
        if self._pending:
            data, self._pending = self._pending + data, b""
        text = bytearray()
        answers = bytearray()
        start = 0
        end = len(data)
        while (at := data.find(b"\xff", start)) >= 0:
            text += data[start:at]
            if at + 1 >= end:
                self._pending = data[at:]
                return bytes(text), bytes(answers)
            command = data[at + 1]
            if command in (WILL, WONT, DO, DONT):
                if at + 2 >= end:
                    self._pending = data[at:]
                    return bytes(text), bytes(answers)
                if command in _REFUSAL:
                    answers += bytes((IAC, _REFUSAL[command], data[at + 2]))
                start = at + 3
            elif command == SB:
                close = data.find(b"\xff\xf0", at + 2)
                if close < 0:
                    if end - at <= _SUBNEGOTIATION_LIMIT:
                        self._pending = data[at:]
                    return bytes(text), bytes(answers)
                start = close + 2
            else:  # IAC IAC (a data byte 255, never UTF-8) or a 2-byte command
                start = at + 2
        text += data[start:]
        return bytes(text), bytes(answers)


@implementer(IPushProducer, IPullProducer)
class _OutputValve:
    """Told by the transport when its send buffer fills and drains.

    Registered as a push producer, the transport pauses it past 64 KiB and
    resumes it when drained; registered as a pull producer (for sockets
    written to directly), it is resumed each time the transport's buffer
    drains.
    """

    __slots__ = ("_protocol",)

    def __init__(self, protocol: MenuChatProtocol) -> None:
        self._protocol = protocol

    def pauseProducing(self) -> None:
        self._protocol.hold_output()

    def resumeProducing(self) -> None:
        self._protocol.release_output()

    def stopProducing(self) -> None:
        """The transport is closing; connectionLost does the rest."""


class MenuChatProtocol(LineReceiver, TimeoutMixin):
    """One client connection: framing, limits and the outgoing queue.

    Lines end in LF, with an optional CR before it. Output is queued and
    goes out once per reactor turn (the factory flushes every connection with
    output at the start of the next turn), so lines that reach a member in
    one turn cost one write, not one each. While the transport's send buffer
    is full, output stays queued, up to the factory's C{max_output} bytes,
    past which the connection is dropped as a slow reader; while a
    connection's own output is backed up, its input is not read either.
    """

    delimiter = b"\n"
    log = Logger()
    factory: MenuChatFactory

    def __init__(self) -> None:
        self.session: Session | None = None
        self._buffer = b""
        self._discarding = False
        self._fresh = True
        self._queue: list[bytes] = []
        self._queued = 0
        self._held = False
        self._socket: socket.socket | None = None
        self._telnet: _TelnetFilter | None = None
        self._output_wait = False
        self._throttled = False
        self._logged_in = False
        self._closed = False
        self._tokens = 0.0
        self._stamp = 0.0
        self._refill: IDelayedCall | None = None
        self._cutoff: IDelayedCall | None = None

    # Connection life

    def connectionMade(self) -> None:
        factory = self.factory
        refusal = factory.admit(self)
        if refusal is not None:
            self._closed = True
            self.transport.write(refusal.encode())
            self.transport.loseConnection()
            return
        if ITCPTransport.providedBy(self.transport):
            self.transport.setTcpNoDelay(True)
        # On a TCP or UNIX socket, output is sent on the socket at once when
        # the transport holds nothing, and only what the kernel does not take
        # is left to the transport: one send(), where the transport would
        # add the socket to the poller, wait a turn, send, and take it out
        # again. Across a room's members those syscalls were most of the
        # server's work. Any other transport (TLS, tests) is written to.
        transport = self.transport
        if isinstance(transport, tcp.Connection) and not transport.TLS:
            self._socket = transport.getHandle()
        transport.registerProducer(_OutputValve(self), self._socket is None)
        self._tokens = float(factory.limits.line_burst)
        self._stamp = factory.clock.seconds()
        self.setTimeout(factory.limits.login_timeout or None)
        self.session = Session(factory.hub, self)
        self.session.start()

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        self._closed = True
        self.setTimeout(None)
        for call in (self._refill, self._cutoff):
            if call is not None and call.active():
                call.cancel()
        self._refill = self._cutoff = None
        self._queue = []
        session, self.session = self.session, None
        if session is not None:
            user = session.user
            session.connection_lost()
            self.log.info(
                "{peer} disconnected ({who}): {reason}",
                peer=self.peer(),
                user=user,
                who=user.name if user is not None else "never logged in",
                reason=reason.getErrorMessage(),
            )
        self.factory.forget(self)

    def callLater(self, delay: float, call: object) -> IDelayedCall:
        """Schedule on the factory's clock (TimeoutMixin uses this)."""
        return self.factory.clock.callLater(delay, call)

    def timeoutConnection(self) -> None:
        session = self.session
        if session is None:
            return
        self.log.info(
            "{peer} timed out {when}",
            peer=self.peer(),
            when="idle" if self._logged_in else "before logging in",
        )
        session.timed_out()

    # Input

    def dataReceived(self, data: bytes) -> None:
        if self._fresh:
            self._fresh = False
            if data[:1] in _TLS_STARTS and self.session is not None:
                self.log.info("{peer} spoke TLS to the plain port", peer=self.peer())
                self.write(menu.NOT_TLS)
                self.close()
                return
        if self._telnet is not None or b"\xff" in data:
            if self._telnet is None:
                self._telnet = _TelnetFilter()
            data, answers = self._telnet.feed(data)
            if answers:
                self._enqueue(answers)
        if self._discarding:
            end = data.find(b"\n")
            if end < 0:
                return
            self._discarding = False
            data = data[end + 1 :]
        self._buffer = self._buffer + data if self._buffer else data
        if not self.paused:
            self._handle()

    def _handle(self) -> None:
        """Hand the buffer's whole lines to the session, in order.

        Stops when reading is paused (the line rate, or output backed up),
        keeping the rest, which is at most a read or two: a paused transport
        reads no more. A partial line longer than the limit is dropped as it
        arrives, and so is the rest of it until its line end.
        """
        buffer = self._buffer
        start = 0
        rate = self.factory.limits.line_rate
        while not self._closed:
            end = buffer.find(b"\n", start)
            if end < 0:
                break
            backed_up = self._held or self._queued >= OUTPUT_PAUSE
            if self.paused or backed_up or (rate and not self._take_token(rate)):
                if backed_up and not self._output_wait:
                    self._output_wait = True
                    if not self.paused:
                        self.pauseProducing()
                break
            line = buffer[start:end]
            start = end + 1
            self.lineReceived(line)
        buffer = self._buffer = buffer[start:] if start else buffer
        if len(buffer) > self._max_line + 1 and not self.paused:  # + 1: a CR
            self._buffer = b""
            self._discarding = True
            if not self._closed:
                self._line_too_long()

    def lineReceived(self, line: bytes) -> None:
        if line[-1:] == b"\r":
            line = line[:-1]
        if len(line) > self._max_line:
            self._line_too_long()
            return
        session = self.session
        assert session is not None
        if self._logged_in and self.timeOut:
            self.resetTimeout()  # the idle timeout; the login one runs on
        session.line_received(line.decode("utf-8", "replace"))

    def _line_too_long(self) -> None:
        self.log.warn("{peer} sent a line over the limit", peer=self.peer())
        assert self.session is not None
        self.session.line_too_long(self._max_line)

    def _take_token(self, rate: float) -> bool:
        """Spend one line of the token bucket; pause reading when it is empty.

        A paused connection is not read from (TCP pushes back on the sender)
        and resumes when the bucket holds a whole token again.
        """
        now = self.factory.clock.seconds()
        tokens = min(
            float(self.factory.limits.line_burst),
            self._tokens + (now - self._stamp) * rate,
        )
        self._stamp = now
        # Refilling to exactly one token can land a hair below it in floating
        # point; counting that as a whole token keeps the refill from being
        # rescheduled for the very same instant, forever.
        if tokens >= 1.0 - 1e-9:
            self._tokens = max(tokens - 1.0, 0.0)
            return True
        self._tokens = tokens
        if self._refill is None:
            if not self._throttled:
                self._throttled = True
                self.log.info(
                    "{peer} is over the line rate: reading paused until its"
                    " budget refills (logged once a connection)",
                    peer=self.peer(),
                )
            self.pauseProducing()
            self._refill = self.callLater((1.0 - tokens) / rate, self._refilled)
        return False

    def _refilled(self) -> None:
        self._refill = None
        self._resume_input()

    def _resume_input(self) -> None:
        """Read again, unless the line rate or the output still says wait."""
        if self.paused and self._refill is None and not self._output_wait:
            self.resumeProducing()

    # Output (menu.Output)

    def write(self, text: str) -> None:
        """Queue C{text} for the next flush; drop a peer that lags too far.

        A peer lags while the transport holds a full send buffer for it;
        what is queued for it then may not pass C{max_output} bytes.
        """
        factory = self.factory
        if text is factory.last_text:
            data = factory.last_data
        else:
            data = factory.last_data = text.encode()
            factory.last_text = text
        self._enqueue(data)

    def _enqueue(self, data: bytes) -> None:
        if self._closed:
            return
        queue = self._queue
        if not queue and not self._held:
            self.factory.flush_soon(self)
        queue.append(data)
        self._queued += len(data)
        if self._held and self._queued > self.factory.limits.max_output:
            self._drop_slow_reader()

    def logged_in(self, name: str, user_id: int) -> None:
        """Log the login; from now on the idle timeout applies."""
        self._logged_in = True
        self.log.info(
            "{peer} logged in as {name}:{id}", peer=self.peer(), name=name, id=user_id
        )
        self.setTimeout(self.factory.limits.idle_timeout or None)

    def close(self) -> None:
        """Send what is queued, then close the connection.

        A peer that does not read what is left within the close timeout is
        cut off, so a closing connection cannot hold its place forever.
        """
        if self._closed:
            return
        self._closed = True
        self._send_queue()
        timeout = self.factory.limits.close_timeout
        if timeout:
            self._cutoff = self.callLater(timeout, self.transport.abortConnection)
        self.transport.unregisterProducer()
        self.transport.loseConnection()

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
        self._closed = True
        self._queue = []
        self.transport.abortConnection()

    @property
    def _max_line(self) -> int:
        return self.factory.limits.max_line_length

    def peer(self) -> str:
        """The peer's address, as logs show it."""
        peer = self.transport.getPeer()
        host = getattr(peer, "host", None)
        return f"{host}:{peer.port}" if host is not None else str(peer)
