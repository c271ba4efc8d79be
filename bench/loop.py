"""A small epoll loop of raw non-blocking client sockets, for the load generator.

Each `Conn` is in one of three modes:

- a dialogue task: a generator that yields the bytes it waits for (a prompt,
  a line); the loop sends it the received text up to and including them;
- counting: received bytes are read into one shared buffer and only their
  b"\\n" are counted (no allocation, no parsing), the hot path of fan-out;
- a handler: ``on_data(conn, data)`` for the few readers that must parse.

Everything is bounded: `Loop.run_until` raises `Timeout` past its deadline and
`DialogueError` as soon as any connection failed its dialogue.
"""

from __future__ import annotations

import errno
import select
import socket
import time
from collections.abc import Callable, Generator

DialogueTask = Generator[bytes, bytes, None]

_EPOLLIN = select.EPOLLIN
_EPOLLOUT = select.EPOLLOUT
_EPOLLERRS = select.EPOLLHUP | select.EPOLLERR


class Timeout(Exception):
    """A bounded wait ran out."""


class DialogueError(Exception):
    """A server answered something the dialogue did not expect, or hung up."""


class Conn:
    """One client connection to the server under test."""

    __slots__ = (
        "buf",
        "connected",
        "count",
        "counting",
        "fail",
        "fd",
        "loop",
        "name",
        "on_connected",
        "on_data",
        "on_done",
        "out",
        "received",
        "sock",
        "task",
        "user_id",
        "want",
    )

    def __init__(self, loop: Loop, sock: socket.socket) -> None:
        self.loop = loop
        self.sock = sock
        self.fd = sock.fileno()
        self.out: list[bytes] = []
        self.buf = bytearray()
        self.connected = False
        self.counting = False
        self.count = 0
        self.received = 0
        self.task: DialogueTask | None = None
        self.want = b""
        self.fail = b""
        self.name = b""
        self.user_id: int | None = None
        self.on_connected: Callable[[Conn], None] | None = None
        self.on_data: Callable[[Conn, bytes], None] = _buffer_data
        self.on_done: Callable[[Conn], None] | None = None

    def send(self, data: bytes) -> None:
        """Send ``data`` now, keeping what the socket does not take for later."""
        if self.out or not self.connected:
            self.out.append(data)
            return
        try:
            n = self.sock.send(data)
        except BlockingIOError:
            n = 0
        except OSError:
            self.loop.lose(self)
            return
        if n < len(data):
            self.out.append(data[n:])
            self.loop.ep.modify(self.fd, _EPOLLIN | _EPOLLOUT)

    def flush(self) -> None:
        """Send queued output (the socket became writable)."""
        while self.out:
            data = self.out[0]
            try:
                n = self.sock.send(data)
            except BlockingIOError:
                return
            except OSError:
                self.loop.lose(self)
                return
            if n < len(data):
                self.out[0] = data[n:]
                return
            self.out.pop(0)
        self.loop.ep.modify(self.fd, _EPOLLIN)

    def run_task(
        self,
        task: DialogueTask,
        on_done: Callable[[Conn], None] | None = None,
        fail: bytes = b"",
    ) -> None:
        """Drive ``task`` from received text; call ``on_done`` when it returns.

        ``fail``, if seen in the received text before what the task waits
        for, ends the run with a DialogueError naming this connection.
        """
        self.task = task
        self.fail = fail
        self.on_done = on_done
        self.on_data = _buffer_data
        self.counting = False
        try:
            self.want = next(task)
        except StopIteration:
            self._finish()
            return
        self.advance()

    def advance(self) -> None:
        """Feed the task every awaited text already in the buffer."""
        while self.task is not None:
            i = self.buf.find(self.want)
            if i < 0:
                if self.fail and self.fail in self.buf:
                    text = bytes(self.buf[-300:]).decode(errors="replace")
                    self.task = None
                    self.loop.fail(f"{self.name.decode()}: unexpected {text!r}")
                return
            end = i + len(self.want)
            got = bytes(self.buf[:end])
            del self.buf[:end]
            try:
                self.want = self.task.send(got)
            except StopIteration:
                self._finish()
                return

    def _finish(self) -> None:
        self.task = None
        if self.on_done is not None:
            done, self.on_done = self.on_done, None
            done(self)

    def start_counting(self) -> None:
        """Count received lines from now on (and those already buffered)."""
        self.count += self.buf.count(b"\n")
        self.buf.clear()
        self.counting = True

    def close(self) -> None:
        """Close the connection without counting it as lost."""
        self.loop.forget(self)


def _buffer_data(conn: Conn, data: bytes) -> None:
    conn.received += len(data)
    conn.buf += data
    if conn.task is not None:
        conn.advance()


class Loop:
    """The load generator's one event loop."""

    def __init__(self, port: int, *more_ports: int) -> None:
        self.port = port
        #: Connections go to these ports in turn: the i-th connect to
        #: ``ports[i % len(ports)]`` (several processes acting as one server).
        self.ports = (port, *more_ports)
        self._connects = 0
        self.ep = select.epoll()
        self.conns: dict[int, Conn] = {}
        self.ticks: list[Callable[[], None]] = []
        self.wake_at = float("inf")
        self.errors: list[str] = []
        self.lost: list[bytes] = []
        self._rbuf = bytearray(1 << 16)

    def connect(self, name: bytes, on_connected: Callable[[Conn], None]) -> Conn:
        """Start a non-blocking connect; ``on_connected`` runs once it is up."""
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setblocking(False)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        conn = Conn(self, sock)
        conn.name = name
        conn.on_connected = on_connected
        port = self.ports[self._connects % len(self.ports)]
        self._connects += 1
        err = sock.connect_ex(("127.0.0.1", port))
        if err not in (0, errno.EINPROGRESS):
            sock.close()
            self.fail(f"{name.decode()}: connect: {errno.errorcode.get(err, err)}")
            return conn
        self.conns[conn.fd] = conn
        self.ep.register(conn.fd, _EPOLLOUT)
        return conn

    def _connected(self, conn: Conn) -> None:
        err = conn.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        if err:
            self.forget(conn)
            self.fail(f"{conn.name.decode()}: connect: {errno.errorcode.get(err, err)}")
            return
        conn.connected = True
        self.ep.modify(conn.fd, _EPOLLIN | (_EPOLLOUT if conn.out else 0))
        if conn.on_connected is not None:
            conn.on_connected(conn)

    def fail(self, message: str) -> None:
        """Record a dialogue failure; the current `run_until` raises it."""
        self.errors.append(message)

    def forget(self, conn: Conn) -> None:
        """Unregister and close ``conn``."""
        if self.conns.pop(conn.fd, None) is not None:
            self.ep.unregister(conn.fd)
            conn.sock.close()

    def lose(self, conn: Conn) -> None:
        """The server closed ``conn``: record it and forget it."""
        if conn.fd not in self.conns:
            return
        self.lost.append(conn.name)
        if conn.task is not None:
            tail = bytes(conn.buf[-300:]).decode(errors="replace")
            self.fail(
                f"{conn.name.decode()}: server closed the connection; "
                f"last text {tail!r}"
            )
        self.forget(conn)

    def run_until(self, done: Callable[[], bool], timeout: float, what: str) -> None:
        """Run the loop until ``done()``; raise Timeout after ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while not done():
            if self.errors:
                raise DialogueError(
                    f"{what}: {self.errors[0]} (+{len(self.errors) - 1} more)"
                )
            now = time.monotonic()
            if now >= deadline:
                raise Timeout(f"{what}: not done after {timeout:.1f}s")
            wait = min(deadline - now, 0.05, max(0.0, self.wake_at - now))
            self.poll(wait)
        if self.errors:
            raise DialogueError(f"{what}: {self.errors[0]}")

    def poll(self, timeout: float) -> None:
        """Handle one batch of socket events, then run the tick hooks."""
        conns = self.conns
        rbuf = self._rbuf
        events = self.ep.poll(timeout, max(1024, len(conns)))
        for fd, ev in events:
            c = conns.get(fd)
            if c is None:
                continue
            if not c.connected:
                self._connected(c)
                continue
            if ev & _EPOLLOUT:
                c.flush()
            if ev & (_EPOLLIN | _EPOLLERRS):
                if c.counting:
                    try:
                        n = c.sock.recv_into(rbuf)
                    except BlockingIOError:
                        continue
                    except OSError:
                        n = 0
                    if n == 0:
                        self.lose(c)
                        continue
                    c.count += rbuf.count(b"\n", 0, n)
                else:
                    try:
                        data = c.sock.recv(65536)
                    except BlockingIOError:
                        continue
                    except OSError:
                        data = b""
                    if not data:
                        self.lose(c)
                        continue
                    c.on_data(c, data)
        for tick in self.ticks:
            tick()

    def close_all(self) -> None:
        """Close every connection (end of a scenario)."""
        for conn in list(self.conns.values()):
            self.forget(conn)
