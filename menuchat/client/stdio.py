"""The client on this process's standard input and output.

L{converse} runs a L{menuchat.client.conversation.ChatClient} on a
L{menuchat.client.terminal.TerminalConsole} in raw mode when both are a
terminal, and on a L{menuchat.client.console.PlainConsole} otherwise, and
puts the terminal and the descriptors back as they were. In raw mode the
terminal sends Ctrl-Z to the client rather than stopping it:
L{JobControl} gives the terminal back to the shell, stops the process as
the shell expects, and takes the terminal again when it continues.
"""

# StandardIO and insults have no annotations.
# mypy: disable-error-code="no-untyped-call"

from __future__ import annotations

import fcntl
import os
import signal
import termios
import tty
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from typing import TYPE_CHECKING, Any

from twisted.conch.insults.insults import ServerProtocol
from twisted.internet import defer
from twisted.internet.defer import Deferred
from twisted.internet.protocol import Protocol
from twisted.internet.stdio import StandardIO

from menuchat.client.console import PlainConsole
from menuchat.client.terminal import TerminalConsole

if TYPE_CHECKING:
    from menuchat.client.conversation import ChatClient, Ending

__all__ = ["JobControl", "StdioModes", "converse"]

# Seconds to wait for the last output to reach stdout, and for the
# conversation to end when the reactor is told to stop.
CLOSE_TIMEOUT = 5.0


async def converse(
    reactor: Any, client: ChatClient, stdin: int = 0, stdout: int = 1
) -> Ending:
    """Run C{client} on C{stdin} and C{stdout}; return how it ended.

    Uses L{TerminalConsole} in raw mode when both are a terminal, and
    L{PlainConsole} otherwise. Whatever happens, the terminal's settings and
    the descriptors' blocking modes are put back as they were. If the reactor
    is told to stop (SIGINT, SIGTERM), the client is interrupted and the
    stop waits for it to finish.
    """
    terminal = os.isatty(stdin) and os.isatty(stdout)
    finished: Deferred[None] = Deferred()
    stopped = False

    def stopping() -> Deferred[None]:
        nonlocal stopped
        stopped = True
        client.interrupt()
        return finished.addTimeout(CLOSE_TIMEOUT, reactor).addErrback(lambda _: None)

    trigger = reactor.addSystemEventTrigger("before", "shutdown", stopping)
    try:
        with StdioModes(stdin, stdout, raw=terminal) as modes:
            console: PlainConsole | TerminalConsole
            if terminal:
                console = TerminalConsole(client)
                _attach(ServerProtocol(lambda: console), stdin, stdout, reactor)
                with (
                    _size_watched(reactor, console, stdout) as resize,
                    _job_control(reactor, console, modes, stdout, resize),
                ):
                    ending = await client.run(console)
            else:
                console = PlainConsole(client)
                _attach(console, stdin, stdout, reactor)
                ending = await client.run(console)
            with suppress(defer.TimeoutError):
                await console.close().addTimeout(CLOSE_TIMEOUT, reactor)
    finally:
        if not stopped:  # a trigger that has run cannot be removed
            reactor.removeSystemEventTrigger(trigger)
        if not finished.called:
            finished.callback(None)
    return ending


def _attach(protocol: Protocol, stdin: int, stdout: int, reactor: Any) -> None:
    """Connect C{protocol} to C{stdin} and C{stdout}."""
    # stdio.StandardIO is one class on POSIX and another on Windows; mypy
    # reads the Windows one, which takes no descriptors.
    StandardIO(protocol, stdin, stdout, reactor)  # type: ignore[call-arg]


class StdioModes:
    """The terminal's settings and the descriptors' flags, the shell's and ours.

    StandardIO leaves both descriptors non-blocking, and on a terminal they
    share one open file with the shell that started us: whenever the shell
    has the terminal (we stop or end), it gets back what it had. As a
    context manager, puts C{stdin} in raw mode if asked, and restores all
    at the end.
    """

    def __init__(self, stdin: int, stdout: int, raw: bool) -> None:
        self._stdin = stdin
        self._fds = sorted({stdin, stdout})
        self._shells = self._flags()
        self._ours = self._shells
        self._settings = termios.tcgetattr(stdin) if raw else None

    def __enter__(self) -> StdioModes:
        if self._settings is not None:
            tty.setraw(self._stdin)
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.restore()

    def restore(self) -> None:
        """Give the shell back its terminal settings and descriptor flags."""
        self._ours = self._flags()
        if self._settings is not None:
            termios.tcsetattr(self._stdin, termios.TCSADRAIN, self._settings)
        for fd, flags in self._shells.items():
            fcntl.fcntl(fd, fcntl.F_SETFL, flags)

    def resume(self) -> None:
        """Take the terminal again: raw mode, and the flags we had."""
        if self._settings is not None:
            tty.setraw(self._stdin)
        for fd, flags in self._ours.items():
            fcntl.fcntl(fd, fcntl.F_SETFL, flags)

    def _flags(self) -> dict[int, int]:
        return {fd: fcntl.fcntl(fd, fcntl.F_GETFL) for fd in self._fds}


class JobControl:
    """Ctrl-Z in raw mode: stop as the shell expects, and come back.

    @param modes: what the shell gets back while we are stopped.
    @param stdout: where the bytes that hide the input line go: straight to
        the descriptor, as the transport's buffer would send them only after
        the stop.
    @param show: draws the input line again once we continue.
    @param kill: sends a signal (C{os.kill}; tests fake it).
    """

    def __init__(
        self,
        modes: StdioModes,
        stdout: int,
        show: Callable[[], None],
        kill: Callable[[int, int], None] = os.kill,
    ) -> None:
        self._modes = modes
        self._stdout = stdout
        self._show = show
        self._kill = kill

    def suspend(self, hide: bytes) -> None:
        """Restore the shell's terminal, write C{hide}, and stop (SIGTSTP).

        The stop happens before this returns; so does everything after it,
        the other way round, once the shell sends SIGCONT.
        """
        self._modes.restore()
        while hide:
            hide = hide[os.write(self._stdout, hide) :]
        self._kill(os.getpid(), signal.SIGTSTP)

    def resumed(self) -> None:
        """We continue (SIGCONT): raw mode again, and the input line drawn."""
        self._modes.resume()
        self._show()


@contextmanager
def _job_control(
    reactor: Any,
    console: TerminalConsole,
    modes: StdioModes,
    stdout: int,
    resize: Callable[[], None],
) -> Iterator[None]:
    """Let Ctrl-Z stop C{console}'s process, unless stopping is ignored.

    A shell without job control starts us with SIGTSTP ignored: there
    Ctrl-Z does nothing.
    """
    if signal.getsignal(signal.SIGTSTP) is not signal.SIG_DFL:
        yield
        return

    def show() -> None:
        resize()
        console.show()

    job = JobControl(modes, stdout, show)
    console.suspend = job.suspend
    previous = signal.signal(
        signal.SIGCONT, lambda signum, frame: reactor.callFromThread(job.resumed)
    )
    try:
        yield
    finally:
        signal.signal(signal.SIGCONT, previous)
        console.suspend = None


@contextmanager
def _size_watched(
    reactor: Any, console: TerminalConsole, stdout: int
) -> Iterator[Callable[[], None]]:
    """Tell C{console} the terminal's size, now and whenever it changes.

    Gives the function that tells it, for other times the size may change.
    """

    def resize() -> None:
        size = os.get_terminal_size(stdout)
        console.terminalSize(size.columns, size.lines)

    resize()
    previous = signal.signal(
        signal.SIGWINCH, lambda signum, frame: reactor.callFromThread(resize)
    )
    try:
        yield resize
    finally:
        signal.signal(signal.SIGWINCH, previous)
