"""The client's front ends: a line editor on a terminal, plain lines on pipes.

Both implement L{menuchat.client.conversation.Console} and report to a
L{menuchat.client.conversation.ConsoleHandler}; L{converse} picks one and
runs a L{menuchat.client.conversation.ChatClient} on this process's
standard input and output.
"""

# conch's recvline and insults, LineReceiver.clearLineBuffer and
# StandardIO have no annotations.
# mypy: disable-error-code="no-untyped-call"

from __future__ import annotations

import codecs
import fcntl
import os
import signal
import termios
import tty
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from typing import TYPE_CHECKING, Any, cast

from twisted.conch.insults.insults import ServerProtocol
from twisted.conch.recvline import HistoricRecvLine
from twisted.internet import defer
from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IHalfCloseableProtocol
from twisted.internet.protocol import Protocol, connectionDone
from twisted.internet.stdio import StandardIO
from twisted.protocols.basic import LineReceiver
from twisted.python.failure import Failure
from zope.interface import implementer  # type: ignore[import-untyped, unused-ignore]

if TYPE_CHECKING:
    from menuchat.client.conversation import ChatClient, ConsoleHandler, Ending, Wire

__all__ = ["PlainConsole", "TerminalConsole", "converse"]

# Seconds to wait for the last output to reach stdout, and for the
# conversation to end when the reactor is told to stop.
CLOSE_TIMEOUT = 5.0

CTRL_A = b"\x01"
CTRL_C = b"\x03"
CTRL_D = b"\x04"
CTRL_E = b"\x05"
CTRL_H = b"\x08"
CTRL_L = b"\x0c"
CTRL_U = b"\x15"


class _FrontEnd:
    """What both front ends do when their stdio closes: fire C{when_closed},
    and if the client did not close it, tell the client the user has quit."""

    when_closed: Deferred[None]
    _closing: bool
    _handler: ConsoleHandler

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        if not self.when_closed.called:
            self.when_closed.callback(None)
        if not self._closing:
            self._closing = True
            self._handler.quit()


@implementer(IHalfCloseableProtocol)
class PlainConsole(_FrontEnd, LineReceiver):
    """Lines from a pipe; the server's text out as a transcript.

    Every input line is reported as typed. The end of input is reported,
    not taken as a reason to close: stdout stays open for what the server
    still has to say. A prompt is written without a line end, as the server
    sent it; what follows it on the same line is text that completes it, and
    anything else starts a new line.
    """

    delimiter = b"\n"
    MAX_LENGTH = 1024 * 1024

    def __init__(self, handler: ConsoleHandler) -> None:
        self._handler = handler
        self._shown = ""
        self._closing = False
        self.when_closed: Deferred[None] = Deferred()

    def lineReceived(self, line: bytes) -> None:
        self._handler.line_entered(line.removesuffix(b"\r").decode("utf-8", "replace"))

    def lineLengthExceeded(self, line: bytes) -> None:
        self.display(["Error: an input line was too long; it was not sent."], "")

    def readConnectionLost(self) -> None:
        rest = self.clearLineBuffer()
        if rest:
            self.lineReceived(rest)
        self._handler.input_ended()

    def writeConnectionLost(self) -> None:
        self._handler.quit()

    def display(self, lines: Sequence[str], prompt: str) -> None:
        shown = self._shown
        out = []
        for line in lines:
            if shown and line.startswith(shown):
                out.append(line[len(shown) :])
            elif shown:
                out.append("\n" + line)
            else:
                out.append(line)
            out.append("\n")
            shown = ""
        if shown and not prompt.startswith(shown):
            out.append("\n")
            shown = ""
        out.append(prompt[len(shown) :])
        self._shown = prompt
        text = "".join(out)
        if text:
            self._wire().write(text.encode("utf-8"))

    def close(self) -> Deferred[None]:
        """End the last line, flush stdout and stop; fires once flushed."""
        if not self._closing:
            self._closing = True
            if self._shown:
                self._shown = ""
                self._wire().write(b"\n")
            self._wire().loseConnection()
        return self.when_closed

    def _wire(self) -> Wire:
        if self.transport is None:
            raise RuntimeError("not connected")
        return cast("Wire", self.transport)


class TerminalConsole(_FrontEnd, HistoricRecvLine):
    """A line editor whose half-typed line survives arriving output.

    Runs on an insults terminal in raw mode. New output erases the input
    line (the prompt and what is typed), is written, and the input line is
    drawn again below it with the cursor where it was, as
    C{twisted.conch.manhole.Manhole.addOutput} does. Characters are whole
    UTF-8 characters, one to an entry of C{lineBuffer}. Up and down walk
    the history; Ctrl-D on an empty line leaves, Ctrl-C interrupts.
    """

    def __init__(self, handler: ConsoleHandler) -> None:
        self._handler = handler
        self._prompt = ""
        self._closing = False
        self._keys = codecs.getincrementaldecoder("utf-8")("replace")
        self.when_closed: Deferred[None] = Deferred()

    def connectionMade(self) -> None:
        super().connectionMade()
        self.keyHandlers.pop(self.terminal.TAB, None)
        self.keyHandlers.update(
            {
                CTRL_A: self.handle_HOME,
                CTRL_C: self.handle_INT,
                CTRL_D: self.handle_EOF,
                CTRL_E: self.handle_END,
                CTRL_H: self.handle_BACKSPACE,
                CTRL_L: self.handle_REDRAW,
                CTRL_U: self.handle_KILL,
            }
        )

    def initializeScreen(self) -> None:
        """Edit from where the cursor is: RecvLine's own clears the screen."""
        self.setInsertMode()

    def terminalSize(self, width: int, height: int) -> None:
        """Record the size (RecvLine's own clears the screen)."""
        self.width, self.height = width, height

    # Console

    def display(self, lines: Sequence[str], prompt: str) -> None:
        self._erase_input()
        for line in lines:
            self.terminal.write(line.encode("utf-8") + b"\n")
        self._prompt = prompt
        self.drawInputLine()

    def close(self) -> Deferred[None]:
        """Clear the input line, leave insert mode, stop; fires once flushed."""
        if not self._closing:
            self._closing = True
            self._erase_input()
            self.setTypeoverMode()
            self.terminal.transport.loseConnection()
        return self.when_closed

    # Drawing

    def drawInputLine(self) -> None:
        self.terminal.write(self._prompt.encode("utf-8") + b"".join(self.lineBuffer))
        back = len(self.lineBuffer) - self.lineBufferIndex
        if back:
            self.terminal.cursorBackward(back)

    def _erase_input(self) -> None:
        """Put the cursor where the prompt starts; clear to the screen's end."""
        column = len(self._prompt) + self.lineBufferIndex
        if self.lineBufferIndex == len(self.lineBuffer) and column:
            # After the last column the cursor waits there until the next
            # character wraps it.
            column -= 1
        rows = column // max(self.width, 1)
        if rows:
            self.terminal.cursorUp(rows)
        self.terminal.write(b"\r")
        self.terminal.eraseToDisplayEnd()

    # Keys

    def keystrokeReceived(self, keyID: bytes | object, modifier: object) -> None:
        if modifier is not None:
            return
        if isinstance(keyID, bytes) and keyID >= b"\x80":
            text = self._keys.decode(keyID)
            if text:
                self.characterReceived(text.encode("utf-8"), False)
            return
        handler = self.keyHandlers.get(keyID)
        if handler is not None:
            handler()
        elif isinstance(keyID, bytes) and b" " <= keyID < b"\x7f":
            self.characterReceived(keyID, False)

    def _deliverBuffer(self, buf: bytes) -> None:
        for character in buf.decode("utf-8", "replace"):
            self.characterReceived(character.encode("utf-8"), False)

    def handle_RETURN(self) -> None:
        line = b"".join(self.lineBuffer)
        if line:
            self.historyLines.append(line)
        self.historyPosition = len(self.historyLines)
        self.handle_END()
        self.terminal.write(b"\n")
        self.lineBuffer = []
        self.lineBufferIndex = 0
        self._prompt = ""
        self._handler.line_entered(line.decode("utf-8", "replace"))

    def handle_INT(self) -> None:
        self._handler.interrupt()

    def handle_EOF(self) -> None:
        if self.lineBuffer:
            self.handle_DELETE()
        else:
            self._handler.quit()

    def handle_KILL(self) -> None:
        self._erase_input()
        self.lineBuffer = []
        self.lineBufferIndex = 0
        self.drawInputLine()

    def handle_REDRAW(self) -> None:
        self.terminal.eraseDisplay()
        self.terminal.cursorHome()
        self.drawInputLine()


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
