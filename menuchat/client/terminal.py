"""The terminal front end: a line editor whose half-typed line survives output.

L{TerminalConsole} runs on an insults terminal in raw mode, on
C{twisted.conch.recvline}, and implements
L{menuchat.client.conversation.Console}.
"""

# conch's recvline and insults have no annotations.
# mypy: disable-error-code="no-untyped-call"

from __future__ import annotations

import codecs
from collections.abc import Sequence
from typing import TYPE_CHECKING

from twisted.conch.recvline import HistoricRecvLine
from twisted.internet.defer import Deferred

from menuchat.client.console import FrontEnd

if TYPE_CHECKING:
    from menuchat.client.conversation import ConsoleHandler

__all__ = ["TerminalConsole"]

CTRL_A = b"\x01"
CTRL_C = b"\x03"
CTRL_D = b"\x04"
CTRL_E = b"\x05"
CTRL_H = b"\x08"
CTRL_L = b"\x0c"
CTRL_U = b"\x15"


class TerminalConsole(FrontEnd, HistoricRecvLine):
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
