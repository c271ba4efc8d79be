"""The client on this process's standard input and output.

L{converse} runs a L{menuchat.client.conversation.ChatClient} on a
L{menuchat.client.terminal.TerminalConsole} in raw mode when both are a
terminal, and on a L{menuchat.client.console.PlainConsole} otherwise, and
puts the terminal and the descriptors back as they were.
"""

# StandardIO and insults have no annotations.
# mypy: disable-error-code="no-untyped-call"

from __future__ import annotations

import fcntl
import os
import signal
import termios
import tty
from collections.abc import Iterator
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

__all__ = ["converse"]

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
        with _stdio_restored(stdin, stdout, raw=terminal):
            console: PlainConsole | TerminalConsole
            if terminal:
                console = TerminalConsole(client)
                _attach(ServerProtocol(lambda: console), stdin, stdout, reactor)
                with _size_watched(reactor, console, stdout):
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


@contextmanager
def _stdio_restored(stdin: int, stdout: int, raw: bool) -> Iterator[None]:
    """Put C{stdin} in raw mode if asked; restore its settings and flags after.

    StandardIO leaves both descriptors non-blocking, and on a terminal they
    share one open file with the shell that started us.
    """
    flags = {fd: fcntl.fcntl(fd, fcntl.F_GETFL) for fd in {stdin, stdout}}
    settings = termios.tcgetattr(stdin) if raw else None
    if raw:
        tty.setraw(stdin)
    try:
        yield
    finally:
        if settings is not None:
            termios.tcsetattr(stdin, termios.TCSADRAIN, settings)
        for fd, flag in flags.items():
            fcntl.fcntl(fd, fcntl.F_SETFL, flag)


@contextmanager
def _size_watched(
    reactor: Any, console: TerminalConsole, stdout: int
) -> Iterator[None]:
    """Tell C{console} the terminal's size, now and whenever it changes."""

    def resize() -> None:
        size = os.get_terminal_size(stdout)
        console.terminalSize(size.columns, size.lines)

    resize()
    previous = signal.signal(
        signal.SIGWINCH, lambda signum, frame: reactor.callFromThread(resize)
    )
    try:
        yield
    finally:
        signal.signal(signal.SIGWINCH, previous)
