"""The SQLite store's process, as the reactor sees it: started on the file,
started again when it ends unasked, stopped.

L{StoreProcess} runs C{python -P -m menuchat.store.sqlite_child PATH}
(L{menuchat.store.sqlite_child}) and tells its owner, the store's writer
(L{menuchat.store.sqlite_writer.Writer}), of the frames it answers with
and of its end; the writer sends its batches down L{StoreProcess.pipe}.

A process, not a thread: a thread running the statements shares Python's
lock with the reactor, and each statement hands that lock over twice. Under
the private-message benchmark, that cost the reactor about 4 us a message
and left it idle a seventh of the time, waiting for the lock. The store's
throughput against the memory store's, with a thread and with the process
(two runs each, its CPU counted as the server's): 0.63-0.64 and 0.76 with
10 pairs, 0.77-0.80 and 0.86-0.88 with 100.
"""

from __future__ import annotations

import os
import sqlite3
import sys
from collections.abc import Callable
from contextlib import suppress
from typing import Any

from twisted.internet.defer import Deferred, fail, succeed
from twisted.internet.error import ProcessExitedAlready
from twisted.internet.interfaces import IDelayedCall, IPullProducer
from twisted.internet.protocol import ProcessProtocol
from twisted.logger import Logger
from twisted.python.failure import Failure
from zope.interface import implementer

from menuchat.store.sqlite_child import Frames, frame, reopened
from menuchat.store.sqlite_schema import StoreError

__all__ = ["RESTART_WAIT_MOST", "STOP_WAIT", "StoreProcess", "cancel"]


#: The folder that holds the C{menuchat} package.
_PACKAGE_ROOT = os.path.dirname(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
)

#: The most seconds the store's process may take to end once stopped: the
#: time to commit what it was given, however large, and close the file.
STOP_WAIT = 30.0

#: A store process that ran this long is started again at once when it
#: ends; one that ended sooner after a wait that doubles, from 1 s up to this.
RESTART_WAIT_MOST = 60.0


class StoreProcess:
    """The store's process on the file at C{path}, while the store runs.

    @param reactor: provides C{spawnProcess}, C{callLater} and C{seconds}.
    @param log: where it tells what happens to the process: its owner's
        log (these are the store's events).
    @param received: told each frame the process sends after its opening
        (each the outcome of a transaction).
    @param ended: told, once a process has ended (as asked or not), the
        failure of what it had not answered.
    @ivar pipe: the running process's input, to send frames down
        (L{_Child.send}); None while there is no process to take more (none
        is running, or it is being stopped).
    @ivar gone: why no write can be run, while the process is gone (None:
        the store is closed, or the process is there).
    @ivar pid: the process, once started (None before, and once it has
        ended).
    """

    def __init__(
        self,
        path: str,
        reactor: Any,
        log: Logger,
        received: Callable[[Any], None],
        ended: Callable[[Failure], None],
    ) -> None:
        self.path = path
        self._reactor = reactor
        self.log = log
        #: The owner's: told the outcomes, and what the end of a process
        #: fails (L{_ended} is this side's).
        self._received = received
        self._lost = ended
        self.pipe: _Child | None = None
        self.gone: str | None = None
        self.pid: int | None = None
        self._child: _Child | None = None
        self._opened: Deferred[Any] | None = None
        self._closing: Deferred[None] | None = None
        #: The call that kills the process if it does not end once stopped.
        self._stop_wait: IDelayedCall | None = None
        #: When the running process opened the file (None: none has).
        self._opened_at: float | None = None
        #: The next start of a process that ended unasked, and the wait
        #: before it.
        self._restart_call: IDelayedCall | None = None
        self._restart_delay = 0.0
        #: Whether the process starting is another one (not the first).
        self._restarting = False
        #: Once stopped, no process is started again.
        self._stopped = False
        #: The stops asked while one was under way: told with it.
        self._closing_too: list[Deferred[None]] = []

    def start(self, load: Callable[[sqlite3.Connection], Any]) -> Deferred[Any]:
        """Start the process on the file; fire with C{load(connection)} once
        it has opened it (a one-line L{StoreError} if it cannot)."""
        return self._spawn(load)

    def _spawn(self, load: Callable[[sqlite3.Connection], Any]) -> Deferred[Any]:
        child = _Child(self)
        env = dict(os.environ)
        # The process imports the same menuchat as this one, wherever it is.
        env["PYTHONPATH"] = os.pathsep.join(
            [_PACKAGE_ROOT, *filter(None, [env.get("PYTHONPATH")])]
        )
        try:
            process = self._reactor.spawnProcess(
                child,
                sys.executable,
                # -P: nothing from the working directory (python -m would
                # put it first on the path, before this menuchat and the
                # standard library).
                [sys.executable, "-P", "-m", "menuchat.store.sqlite_child", self.path],
                env=env,
                childFDs={0: "w", 1: "r", 2: "r"},
            )
        except OSError as e:
            return fail(StoreError(f"{self.path}: cannot start its process ({e})"))
        self._child = self.pipe = child
        self.pid = process.pid
        opened: Deferred[Any] = Deferred()
        self._opened = opened
        child.send(frame(load))
        return opened

    def stop_restarting(self) -> None:
        """Start no process again from now on, not even one waiting to
        start: the store is closed."""
        self._stopped = True
        if cancel(self._restart_call):
            self.gone = None  # closed now, not being started again
        self._restart_call = None

    def stop(self) -> Deferred[None]:
        """End the process's input; fire once it has run what it was given,
        closed the file and ended. Nothing is sent down L{pipe} any more."""
        self.stop_restarting()
        child = self._child
        if child is None:
            return succeed(None)
        closed: Deferred[None] = Deferred()
        if self._closing is not None:
            # Stopped already: this one fires with that one, at the end.
            self._closing_too.append(closed)
            return closed
        self._closing = closed
        self.pipe = None
        # The end of its input: it runs what it was given, then ends; if
        # it is stuck (a disk that hangs), it is killed after STOP_WAIT, so
        # that the server can still stop.
        child.close()
        self._stop_wait = self._reactor.callLater(STOP_WAIT, self._kill)
        return closed

    def _restart_later(self, lived: float = 0.0) -> None:
        """The process ended unasked, having run C{lived} seconds since it
        opened the file: start another, at once if it ran a while, after a
        growing wait if not (a file that fails each time must not make the
        server spin)."""
        if self._stopped or self._restart_call is not None:
            return
        if lived >= RESTART_WAIT_MOST:
            delay = 0.0
        else:
            delay = min(max(1.0, self._restart_delay * 2), RESTART_WAIT_MOST)
        self._restart_delay = delay
        self._restart_call = self._reactor.callLater(delay, self._restart)

    def _restart(self) -> None:
        self._restart_call = None
        self._restarting = True
        self.log.info("{path}: starting the store's process again", path=self.path)
        self._spawn(reopened).addCallbacks(self._running_again, self._not_again)

    def _running_again(self, _: None) -> None:
        self._restarting = False
        self.gone = None
        self.log.info("{path}: the store's process is running again", path=self.path)

    def _not_again(self, reason: Failure) -> None:
        self.log.error(
            "{path}: the store's process did not start again: {reason}",
            path=self.path,
            reason=reason.getErrorMessage(),
        )
        if self._child is None:
            self._restart_later()  # it could not even be started

    def _kill(self) -> None:
        self._stop_wait = None
        child = self._child
        if child is None:
            return
        self.log.error(
            "{path}: the store's process did not end within {seconds} s of"
            " its last writes: killed",
            path=self.path,
            seconds=STOP_WAIT,
        )
        child.kill()

    # Told by the process's protocol

    def _opening(self, message: Any) -> None:
        """The process's first frame: whether it opened the file."""
        opened, self._opened = self._opened, None
        assert opened is not None  # until its first frame or its end
        kind, value = message
        if kind == "opened":
            self._opened_at = self._reactor.seconds()
            opened.callback(value)
        else:
            self.gone = "it could not be opened"
            opened.errback(Failure(StoreError(value)))

    def _printed(self, lines: list[bytes]) -> None:
        """Whole lines the process printed (a traceback, if it broke): into
        the log."""
        for line in lines:
            self.log.warn(
                "{path}: the store's process: {line}",
                path=self.path,
                line=line.decode("utf-8", "replace"),
            )

    def _ended(self, reason: Failure) -> None:
        """The process has ended: as asked (L{stop}), or not (killed, or it
        could not start); what it had not answered fails."""
        self._child = self.pipe = None
        self.pid = None
        cancel(self._stop_wait)
        self._stop_wait = None
        closing, self._closing = self._closing, None
        opened_at, self._opened_at = self._opened_at, None
        was_open = opened_at is not None
        if closing is None and not was_open and self._opened is not None:
            # Ended before it answered its opening: say why, not why the
            # last one ended.
            self.gone = (
                f"its process ended before it opened the file"
                f" ({reason.getErrorMessage()})"
            )
        if closing is None and (was_open or self._restarting):
            if was_open:
                self.gone = (
                    f"its process ended ({reason.getErrorMessage()});"
                    " it is being started again"
                )
                self.log.error(
                    "{path}: the store's process ended: {reason}",
                    path=self.path,
                    reason=reason.getErrorMessage(),
                )
            lived = (
                self._reactor.seconds() - opened_at if opened_at is not None else 0.0
            )
            self._restart_later(lived)
        gone = Failure(StoreError(f"{self.path}: {self.gone or 'closed'}"))
        opened, self._opened = self._opened, None
        if opened is not None:
            opened.errback(gone)
        self._lost(gone)
        if closing is not None:
            closing.callback(None)
        waiting_too, self._closing_too = self._closing_too, []
        for closed in waiting_too:
            closed.callback(None)


def cancel(call: IDelayedCall | None) -> bool:
    """Cancel C{call} if it is still to come; whether it was."""
    if call is not None and call.active():
        call.cancel()
        return True
    return False


@implementer(IPullProducer)
class _Child(ProcessProtocol):
    """The reactor's end of the store's process: frames down its input (at
    once, while the pipe takes them), frames back from its output."""

    def __init__(self, process: StoreProcess) -> None:
        self._process = process
        #: Told each frame from the process: the first (its opening) here,
        #: then each outcome straight to the owner of L{StoreProcess}.
        self._received: Callable[[Any], None] = self._first
        self._frames = Frames()
        #: The input pipe's descriptor, written without the transport's
        #: buffer while that buffer is empty (-1: always through it).
        self._fd = -1
        self._held = False
        self._stdin: Any = None
        #: The start of a line it is printing.
        self._printing = b""

    def connectionMade(self) -> None:
        stdin = getattr(self.transport, "pipes", {}).get(0)
        if stdin is not None:
            self._stdin = stdin
            self._fd = stdin.fileno()
            # As its pull producer, told when the transport has written
            # all it held.
            stdin.registerProducer(self, False)

    def send(self, data: bytes) -> None:
        """Write C{data} down the input, after what the transport holds.

        Through the transport alone, each write costs the reactor a poll
        round and four C{epoll_ctl} calls before it leaves (measured: about
        1.5 us a message, and the store's throughput with 10 pairs went from
        0.70 to 0.76 of the memory store's when written at once).
        """
        if self._held or self._fd < 0:
            self.transport.write(data)  # type: ignore[union-attr]
            return
        try:
            sent = os.write(self._fd, data)
        except OSError:
            sent = 0  # full, or broken: the transport finds out which
        if sent < len(data):
            self._held = True
            self.transport.write(data[sent:])  # type: ignore[union-attr]

    def close(self) -> None:
        """End the input, once the transport has written what it holds."""
        stdin, self._stdin = self._stdin, None
        self._fd = -1
        if stdin is not None:
            # A pipe with a producer is never closed: it asks it for more.
            stdin.unregisterProducer()
        self.transport.closeStdin()  # type: ignore[union-attr]

    def kill(self) -> None:
        with suppress(ProcessExitedAlready):
            self.transport.signalProcess("KILL")  # type: ignore[union-attr]

    def resumeProducing(self) -> None:
        self._held = False

    def stopProducing(self) -> None:
        self._fd = -1
        self._stdin = None

    def _first(self, message: Any) -> None:
        """The first frame: whether the file opened. The next ones skip this."""
        self._received = self._process._received
        self._process._opening(message)

    def childDataReceived(self, childFD: int, data: bytes) -> None:
        if childFD != 1:
            *lines, self._printing = (self._printing + data).split(b"\n")
            self._process._printed(lines)
            return
        for message in self._frames.feed(data):
            self._received(message)

    def processEnded(self, reason: Failure) -> None:
        if self._printing:
            self._process._printed([self._printing])
        self._process._ended(reason)
