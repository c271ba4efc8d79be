"""A real ``twistd -n menuchat`` process, and a client that reads its dialogue.

Used by the real-process tests and by the soak and churn scripts in bench/.
L{ServerProcess} starts the server from this checkout on a free loopback port
(read back from its log, so no probe connection is made), reads its memory
from /proc and always stops it. L{LineClient} splits what the server says
into whole lines and prompts (a prompt has no line end), stamps each with
the time it arrived, and lets a caller wait for the next one that matches.
"""

from __future__ import annotations

import codecs
import contextlib
import ctypes
import os
import re
import select
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import attrs
from twisted.internet.defer import Deferred, fail, succeed
from twisted.internet.endpoints import TCP4ClientEndpoint, connectProtocol
from twisted.internet.error import ConnectionDone
from twisted.internet.protocol import Protocol
from twisted.python.failure import Failure

ROOT = Path(__file__).resolve().parent.parent

TIMEOUT = 10.0

NAME_PROMPT = "Your id key (i.e your name): "
OPTION_PROMPT = "Your option <enter a number>: "
MESSAGE_PROMPT = "Enter your message: "
RECIPIENT_PROMPT = "Enter recipient id: "
NEW_ROOM_PROMPT = "Enter new chat room id: "
JOIN_ROOM_PROMPT = "Enter chat room id to join: "
PASSWORD_PROMPT = "Password: "
NEW_PASSWORD_PROMPT = "New password: "
PASSWORD_AGAIN_PROMPT = "Password again: "
PROMPTS = (
    PASSWORD_PROMPT,
    NEW_PASSWORD_PROMPT,
    PASSWORD_AGAIN_PROMPT,
    NAME_PROMPT,
    OPTION_PROMPT,
    MESSAGE_PROMPT,
    RECIPIENT_PROMPT,
    NEW_ROOM_PROMPT,
    JOIN_ROOM_PROMPT,
)

_LISTENING = re.compile(r"MenuChatFactory starting on (\d+)")
_PR_SET_PDEATHSIG = 1


class ServerError(Exception):
    """The server did not start, or did not stop as it should."""


def twistd_command() -> list[str]:
    """The twistd of the Python running this code."""
    twistd = Path(sys.executable).parent / "twistd"
    if twistd.exists():
        return [str(twistd)]
    return [sys.executable, "-c", "from twisted.scripts.twistd import run; run()"]


def _die_with_parent() -> None:
    """In the child before exec: the kernel kills it if its parent dies."""
    with contextlib.suppress(Exception):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


def _children(pid: int) -> list[int]:
    """The running child processes of C{pid} (Linux)."""
    found: list[int] = []
    with contextlib.suppress(OSError):
        for task in os.listdir(f"/proc/{pid}/task"):
            with (
                contextlib.suppress(OSError),
                open(f"/proc/{pid}/task/{task}/children") as f,
            ):
                found += [int(child) for child in f.read().split()]
    return found


def _wait_for_end(pid: int, timeout: float) -> None:
    """Wait until C{pid}, a process the server started, has ended; if it
    outlives the server by C{timeout}, kill it and raise L{ServerError}."""
    try:
        ended = os.pidfd_open(pid)
    except ProcessLookupError:
        return
    try:
        readable, _, _ = select.select([ended], [], [], timeout)
        if not readable:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            raise ServerError(
                f"process {pid}, started by the server, outlived it by {timeout}s"
            )
    finally:
        os.close(ended)


class ServerProcess:
    """``twistd -n menuchat`` on a free loopback port, logging to C{logfile}.

    Use it as a context manager: the process is killed on the way out if it
    is still running. C{options} are extra menuchat options (limits); unless
    they name a C{--db}, the store is C{menuchat.sqlite3} beside the log
    file, so that the checkout stays clean and a restart finds its data.
    """

    def __init__(self, logfile: Path, options: Sequence[str] = ()) -> None:
        self.logfile = Path(logfile)
        self.options = list(options)
        self.port = 0
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 30.0) -> ServerProcess:
        """Start the server and wait until its log says which port it bound."""
        self.logfile.unlink(missing_ok=True)
        argv = [
            *twistd_command(),
            "-n",
            "--pidfile=",
            f"--logfile={self.logfile}",
            "menuchat",
            "--port",
            "tcp:0:interface=127.0.0.1",
            *self.options,
        ]
        if "--db" not in self.options:
            argv += ["--db", str(self.logfile.parent / "menuchat.sqlite3")]
        path = os.environ.get("PYTHONPATH")
        env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), path])),
        }
        self.proc = subprocess.Popen(
            argv,
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            preexec_fn=_die_with_parent,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = _LISTENING.search(self.log())
            if found:
                self.port = int(found.group(1))
                return self
            if self.proc.poll() is not None:
                stderr = self.proc.stderr.read().decode(errors="replace")
                raise ServerError(
                    f"twistd exited with {self.proc.returncode} before listening:\n"
                    f"{stderr}\n{self.log()}"
                )
            time.sleep(0.02)
        self.kill()
        raise ServerError(f"twistd not listening after {timeout}s:\n{self.log()}")

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def log(self) -> str:
        """Everything the server has logged so far."""
        try:
            return self.logfile.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def rss_kib(self) -> int:
        """The server's resident memory (VmRSS) in KiB."""
        with open(f"/proc/{self.pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        raise ServerError(f"no VmRSS for {self.pid}")

    def wait_for_log(self, pattern: str, timeout: float = TIMEOUT) -> re.Match[str]:
        """The first match of C{pattern} in the log, waiting for it to appear."""
        compiled = re.compile(pattern)
        deadline = time.monotonic() + timeout
        while True:
            found = compiled.search(self.log())
            if found:
                return found
            if time.monotonic() > deadline:
                raise ServerError(f"{pattern!r} not logged in {timeout}s")
            time.sleep(0.02)

    def open_connections(self) -> int:
        """Established TCP connections on the server's port, as the kernel tells."""
        port = f"{self.port:04X}"
        count = 0
        for table in ("/proc/net/tcp", "/proc/net/tcp6"):
            try:
                with open(table) as rows:
                    next(rows)
                    for row in rows:
                        fields = row.split()
                        local, state = fields[1], fields[3]
                        if state == "01" and local.rsplit(":", 1)[1] == port:
                            count += 1
            except FileNotFoundError:
                continue
        return count

    def wait_until_idle(self, timeout: float = TIMEOUT) -> None:
        """Wait until every connection the server let in is gone."""
        deadline = time.monotonic() + timeout
        while (left := self.open_connections()) > 0:
            if time.monotonic() > deadline:
                raise ServerError(f"{left} connections still open after {timeout}s")
            time.sleep(0.05)

    def terminate(self, timeout: float = TIMEOUT) -> int:
        """SIGTERM, then wait for the exit; return the exit status."""
        assert self.proc is not None
        helpers = _children(self.proc.pid)
        self.proc.send_signal(signal.SIGTERM)
        try:
            status = self.proc.wait(timeout)
            for pid in helpers:
                _wait_for_end(pid, timeout)
            return status
        except subprocess.TimeoutExpired:
            self.kill()
            raise ServerError(
                f"twistd still running {timeout}s after SIGTERM; its log ends:\n"
                + self.log()[-3000:]
            ) from None

    def kill(self) -> None:
        """Kill the process if it is still running, and reap it; then wait
        for the processes it started (the SQLite store's, which ends at
        the end of its input) to end too: they may still hold its files."""
        if self.proc is None:
            return
        helpers = _children(self.proc.pid)
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                self.proc.kill()
        self.proc.wait()
        for pid in helpers:
            _wait_for_end(pid, 10.0)
        if self.proc.stderr is not None:
            self.proc.stderr.close()

    def __enter__(self) -> ServerProcess:
        return self.start() if self.proc is None else self

    def __exit__(self, *exc_info: object) -> None:
        self.kill()


# The client side


LINE = "line"
PROMPT = "prompt"


@attrs.frozen
class Item:
    """A whole line (without its CRLF) or a prompt, and when it arrived."""

    kind: str
    text: str
    at: float


@attrs.frozen
class _Watcher:
    accept: Callable[[Item], bool]
    waiting: Deferred[Item]
    consume: bool


class ClosedError(Exception):
    """The connection closed while a caller waited for something."""


class LineClient(Protocol):
    """A connection that records what the server says as L{Item}s.

    C{items} holds everything said so far; L{expect} consumes them in order
    and waits for the next one a predicate accepts. C{lost} fires when the
    connection ends, and C{reason} says how.
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.items: list[Item] = []
        self.cursor = 0
        self.closed = False
        self.lost: Deferred[None] = Deferred()
        self.reason: Failure | None = None
        self._clock = clock
        self._text = ""
        self._decoder = codecs.getincrementaldecoder("utf-8")("replace")
        self._watchers: list[_Watcher] = []

    def dataReceived(self, data: bytes) -> None:
        # Without the telnet echo offers around password prompts (IAC WILL
        # ECHO, IAC WONT ECHO), which a terminal never shows.
        data = data.replace(b"\xff\xfb\x01", b"").replace(b"\xff\xfc\x01", b"")
        self._text += self._decoder.decode(data)
        self._parse()

    def connectionLost(self, reason: Failure = Failure(ConnectionDone())) -> None:  # noqa: B008
        self.closed = True
        watchers, self._watchers = self._watchers, []
        for watcher in watchers:
            watcher.waiting.errback(ClosedError(f"closed: {reason.getErrorMessage()}"))
        self.reason = reason
        self.lost.callback(None)

    def _parse(self) -> None:
        text, start = self._text, 0
        now = self._clock()
        while True:
            for prompt in PROMPTS:
                if text.startswith(prompt, start):
                    self._add(Item(PROMPT, prompt, now))
                    start += len(prompt)
                    break
            else:
                end = text.find("\r\n", start)
                if end < 0:
                    break
                self._add(Item(LINE, text[start:end], now))
                start = end + 2
        self._text = text[start:]

    def item_received(self, item: Item) -> None:
        """Called with each item as it arrives, before any waiter sees it."""

    def _add(self, item: Item) -> None:
        self.items.append(item)
        self.item_received(item)
        for watcher in list(self._watchers):
            if watcher in self._watchers and watcher.accept(item):
                self._watchers.remove(watcher)
                if watcher.consume:
                    self.cursor = len(self.items)
                watcher.waiting.callback(item)

    def send(self, *lines: str) -> None:
        """Send each of C{lines} with a line end, in one write."""
        self.transport.write("".join(f"{line}\r\n" for line in lines).encode())

    def expect(
        self, accept: Callable[[Item], bool], timeout: float = TIMEOUT
    ) -> Deferred[Item]:
        """The next item C{accept} takes; the items before it are passed over."""
        return self._watch(accept, self.cursor, True, timeout)

    def watch(
        self, accept: Callable[[Item], bool], timeout: float = TIMEOUT
    ) -> Deferred[Item]:
        """The first item since the connection began that C{accept} takes.

        C{accept} sees every item once, in order, so it may count; nothing
        is consumed.
        """
        return self._watch(accept, 0, False, timeout)

    def _watch(
        self, accept: Callable[[Item], bool], start: int, consume: bool, timeout: float
    ) -> Deferred[Item]:
        from twisted.internet import reactor

        for index in range(start, len(self.items)):
            if accept(self.items[index]):
                if consume:
                    self.cursor = index + 1
                return succeed(self.items[index])
        if consume:
            self.cursor = len(self.items)
        if self.closed:
            return fail(ClosedError("closed before it was said"))

        def cancel(waiting: Deferred[Item]) -> None:
            self._watchers = [w for w in self._watchers if w.waiting is not waiting]

        waiting: Deferred[Item] = Deferred(cancel)
        self._watchers.append(_Watcher(accept, waiting, consume))
        return waiting.addTimeout(timeout, reactor)

    def expect_line(self, start: str, timeout: float = TIMEOUT) -> Deferred[Item]:
        """The next line that starts with C{start}."""
        return self.expect(
            lambda i: i.kind == LINE and i.text.startswith(start), timeout
        )

    def expect_prompt(self, prompt: str, timeout: float = TIMEOUT) -> Deferred[Item]:
        """The next time C{prompt} is shown."""
        return self.expect(lambda i: i.kind == PROMPT and i.text == prompt, timeout)

    def lines(self) -> list[str]:
        """Every line said so far, prompts left out."""
        return [i.text for i in self.items if i.kind == LINE]


async def connect(reactor: Any, port: int, timeout: float = TIMEOUT) -> LineClient:
    """A L{LineClient} connected to 127.0.0.1:C{port}."""
    endpoint = TCP4ClientEndpoint(reactor, "127.0.0.1", port, timeout=int(timeout))
    connecting = connectProtocol(endpoint, LineClient())
    return await connecting.addTimeout(timeout, reactor)


async def login(
    reactor: Any, port: int, name: str, timeout: float = TIMEOUT
) -> tuple[LineClient, int]:
    """A client logged in as C{name}, at the option prompt, and its id."""
    client = await connect(reactor, port, timeout)
    await client.expect_prompt(NAME_PROMPT, timeout)
    client.send(name)
    said = await client.expect(
        lambda i: i.kind == LINE and i.text.startswith(("Client ID: ", "Error: ")),
        timeout,
    )
    if said.text.startswith("Error: "):
        client.transport.abortConnection()
        raise ServerError(f"login as {name!r} refused: {said.text}")
    await client.expect_prompt(OPTION_PROMPT, timeout)
    return client, int(said.text.removeprefix("Client ID: "))


LEAVING = (
    "before a name",
    "option 6",
    "close",
    "reset",
    "reset owning a room",
    "close mid-message",
)


async def churn_cycle(reactor: Any, port: int, n: int) -> str:
    """Connect, log in as C{churn<n>} and leave in way C{n} of L{LEAVING}.

    Returns the way; waits until this end of the connection is closed.
    """
    way = LEAVING[n % len(LEAVING)]
    client = await connect(reactor, port)
    await client.expect_prompt(NAME_PROMPT)
    if way == "before a name":
        client.transport.loseConnection()
    else:
        client.send(f"churn{n}")
        await client.expect_prompt(OPTION_PROMPT)
        if way == "option 6":
            client.send("6")
            await client.expect_line("Goodbye")
        elif way == "close":
            client.transport.loseConnection()
        elif way == "reset":
            client.transport.abortConnection()
        elif way == "reset owning a room":
            client.send("4", f"room{n}")
            await client.expect_line(f"Chat Room room{n}")
            client.transport.abortConnection()
        else:
            client.send("2", "half a message")
            await client.expect_prompt(RECIPIENT_PROMPT)
            client.transport.loseConnection()
    await client.lost.addTimeout(TIMEOUT, reactor)
    return way


__all__ = [
    "JOIN_ROOM_PROMPT",
    "LEAVING",
    "LINE",
    "MESSAGE_PROMPT",
    "NAME_PROMPT",
    "NEW_ROOM_PROMPT",
    "OPTION_PROMPT",
    "PROMPT",
    "PROMPTS",
    "RECIPIENT_PROMPT",
    "ClosedError",
    "Item",
    "LineClient",
    "ServerError",
    "ServerProcess",
    "churn_cycle",
    "connect",
    "login",
    "twistd_command",
]
