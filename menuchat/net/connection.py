"""The line connection every line-based front-end shares.

Bytes in (L{menuchat.net.input}): framing (LF, with an optional CR before
it), the line limit, decoding, the line rate and the wait for a store's
answer. Text out (L{menuchat.net.output}): a queue flushed once per
reactor turn, back-pressure from the transport, and a cap past which a
slow reader is dropped. Here: admission, the greeting, timeouts on the
injected clock, the log of each connection's life, and closing. What a
line means is the L{LineHandler}'s business, which each front-end
provides; this package knows no words of any dialogue.
"""

from __future__ import annotations

import socket
from collections.abc import Callable
from typing import Any

from twisted.internet import tcp
from twisted.internet.interfaces import (
    IDelayedCall,
    ITCPTransport,
)
from twisted.internet.protocol import connectionDone
from twisted.logger import Logger
from twisted.protocols.basic import LineReceiver
from twisted.protocols.policies import TimeoutMixin
from twisted.python.failure import Failure

from menuchat.net.admission import Refusal, host_of
from menuchat.net.frontend import LineFactory, LineHandler
from menuchat.net.input import LineInput
from menuchat.net.output import (
    OUTPUT_PAUSE,
    OutputValve,
    QueuedOutput,
    SharedLines,
    Transport,
)
from menuchat.net.privacy import is_private
from menuchat.net.ratelimit import TokenBucket

__all__ = ["OUTPUT_PAUSE", "LineConnection"]


def address_text(address: object) -> str:
    """A peer's address as logs show it: C{host:port}, or as it is."""
    host = getattr(address, "host", None)
    port = getattr(address, "port", None)
    return f"{host}:{port}" if host is not None else str(address)


class LineConnection(QueuedOutput, LineInput, LineReceiver, TimeoutMixin):
    """One connection of a line-based front-end: framing, limits, output queue.

    A C{LineReceiver} whose inherited names keep their meaning:
    C{lineReceived} gets one line at a time, C{sendLine} queues a line
    ended by C{delimiter} (CRLF, what the server sends), and
    C{pauseProducing}/C{resumeProducing} stop and restart reading. The
    framing itself is our own (L{LineInput}, and why there); the output
    side is L{QueuedOutput}'s; this class holds the connection's life:
    admission, greeting, timeouts, logging and closing.

    Output is queued and goes out once per reactor turn, or at the end of
    the read that caused it for a connection's own replies and for lines
    to a few others (a small room). While the
    transport's send buffer is full, output stays queued, up to
    C{max_output} bytes, past which the connection is dropped as a slow
    reader; while a connection's own output is backed up, its input is not
    read either.

    Subclasses provide L{make_handler} and the texts of L{refusal_text} and
    L{not_tls_text}, and may filter raw input in L{filter_input}.
    """

    # A connection's own state in slots, the inherited (Protocol,
    # LineReceiver, TimeoutMixin) in its __dict__: all in the __dict__ came
    # to more names than CPython shares a class's keys for, and that made
    # every connection's __dict__ a table of its own, about 1.5 KB.
    __slots__ = (
        "_awaiting",
        "_bucket",
        "_buffer",
        "_closed",
        "_cutoff",
        "_discarding",
        "_fresh",
        "_has_shared",
        "_held",
        "_host",
        "_output_wait",
        "_port",
        "_queue",
        "_queued",
        "_refill",
        "_reply_later",
        "_replying",
        "_socket",
        "_tail",
        "_throttled",
        "_user_id",
        "handler",
        "name",
    )

    delimiter = b"\r\n"
    log = Logger()
    #: Whether this front-end decodes lines its own way (L{decode}): known
    #: once per class, not per connection.
    _own_decode = False

    def __init_subclass__(cls, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        cls._own_decode = cls.decode is not LineConnection.decode

    factory: LineFactory
    transport: Transport  # type: ignore[assignment]

    def __init__(self) -> None:
        self.handler: LineHandler | None = None
        self.name: str | None = None
        self._user_id: int | None = None
        self._host: str | None = None
        self._port: object = None
        self._buffer = b""
        self._discarding = False
        self._fresh = True
        # None while empty: an idle connection keeps no empty list.
        self._queue: list[bytes | SharedLines] | None = None
        self._queued = 0
        self._has_shared = False
        self._tail: SharedLines | None = None
        self._held = False
        self._socket: socket.socket | None = None
        self._output_wait = False
        self._replying = False
        self._reply_later = False
        self._awaiting = False
        self._throttled = False
        self._closed = False
        self._bucket: TokenBucket | None = None
        self._refill: IDelayedCall | None = None
        self._cutoff: IDelayedCall | None = None

    # For subclasses

    def make_handler(self) -> LineHandler:
        """The front-end's handler of this connection's lines."""
        raise NotImplementedError

    def refusal_text(self, refusal: Refusal) -> str:
        """What a refused connection is told before it is closed."""
        raise NotImplementedError

    def not_tls_text(self) -> str:
        """What a TLS client on a plain port is told before it is closed."""
        raise NotImplementedError

    def filter_input(self, data: bytes) -> bytes:
        """Raw input before framing; a front-end may take out what is not text."""
        return data

    def decode(self, line: bytes) -> str | None:
        """One whole line as text; None if the front-end answered it already
        (IRC refuses invalid UTF-8). By default what is not UTF-8 becomes
        U+FFFD."""
        return line.decode("utf-8", "replace")

    # Typed doors to the untyped parts of LineReceiver and TimeoutMixin

    def _set_timeout(self, seconds: float | None) -> None:
        TimeoutMixin.setTimeout(self, seconds)

    def _reset_timeout(self) -> None:
        TimeoutMixin.resetTimeout(self)

    def pauseProducing(self) -> None:
        """Stop reading; lines already buffered wait too."""
        LineReceiver.pauseProducing(self)

    # Connection life

    def connectionMade(self) -> None:
        factory = self.factory
        limits = factory.limits
        address = self.transport.getPeer()
        self._host = host_of(address)
        self._port = getattr(address, "port", None)
        refusal = factory.admission.admit(self, self._host)
        if refusal is not None:
            factory.stats.refusals[refusal.name.lower()] += 1
            factory.refusal_log.refused(refusal)
            self._closed = True
            self.transport.write(self.refusal_text(refusal).encode())
            self.transport.loseConnection()
            return
        self.MAX_LENGTH = factory.line_limit()
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
        transport.registerProducer(OutputValve(self), self._socket is None)
        if factory.line_rate is not None:
            self._bucket = TokenBucket(factory.line_rate)
        self._set_timeout(limits.login_timeout or None)
        self.handler = self.make_handler()
        self._begin_reply()
        try:
            self.handler.start()
        finally:
            self._end_reply()

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        self._closed = True
        self._set_timeout(None)
        for call in (self._refill, self._cutoff):
            if call is not None and call.active():
                call.cancel()
        self._refill = self._cutoff = None
        self._clear_queue()
        handler, self.handler = self.handler, None
        if handler is not None:
            handler.connection_lost()
            self.log.info(
                "{peer} disconnected ({who}): {reason}",
                event="logout" if self.name is not None else "disconnect",
                peer=self.peer(),
                who=self.name if self.name is not None else "never logged in",
                name=self.name,
                id=self._user_id,
                reason=reason.getErrorMessage(),
            )
        self.factory.admission.forget(self, self._host)

    def callLater(self, delay: float, call: Callable[..., Any]) -> IDelayedCall:
        """Schedule on the factory's clock (TimeoutMixin uses this)."""
        return self.factory.clock.callLater(delay, call)

    def timeoutConnection(self) -> None:
        handler = self.handler
        if handler is None:
            return
        self.factory.stats.drops[
            "idle_timeout" if self.name is not None else "login_timeout"
        ] += 1
        self.log.info(
            "{peer} timed out {when}",
            peer=self.peer(),
            when="idle" if self.name is not None else "before logging in",
        )
        handler.timed_out()

    def server_stopping(self) -> None:
        """The server is going down: the handler says so and closes."""
        if self.handler is not None and not self._closed:
            self.handler.server_stopping()
        self.close()

    def _spoke_tls(self) -> None:
        self.log.info("{peer} spoke TLS to the plain port", peer=self.peer())
        self.factory.stats.drops["tls_on_plain_port"] += 1
        self.write(self.not_tls_text())
        self.close()

    def logged_in(self, name: str, user_id: int) -> None:
        """Log the login; from now on the idle timeout applies."""
        self.name = name
        self._user_id = user_id
        self.log.info(
            "{peer} logged in as {name}:{id}",
            event="login",
            peer=self.peer(),
            name=name,
            id=user_id,
        )
        self._set_timeout(self.factory.limits.idle_timeout or None)

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

    @property
    def address(self) -> str:
        """The peer's host (or its whole address when it has none), for
        throttling password guesses."""
        return self._host if self._host is not None else self.peer()

    @property
    def secure(self) -> bool:
        """Whether a password sent here stays off the network in clear: the
        connection is TLS, or comes from loopback or a UNIX socket."""
        return is_private(self.transport)

    def peer(self) -> str:
        """The peer's address, as logs show it: an IP peer's from the host and
        port read when it connected, made anew for each log line rather than
        kept with every idle connection."""
        if self._host is not None:
            return f"{self._host}:{self._port}"
        return address_text(self.transport.getPeer())
