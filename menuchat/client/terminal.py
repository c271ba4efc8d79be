"""The terminal front end: a line editor whose half-typed line survives output.

L{TerminalConsole} runs on an insults terminal in raw mode, on
C{twisted.conch.recvline}, and implements
L{menuchat.client.conversation.Console}. Characters take one column or two
(CJK, most emoji) or none (combining marks), as C{wcwidth} says; the editor
keeps its own account of where each one lands, line wraps included, and
draws the input line again after every change. Tab completes slash
commands and the names seen in the server's lines (L{completion}), and
Ctrl-Z hands the terminal back to the shell through C{suspend}.
"""

# conch's recvline and insults have no annotations.
# mypy: disable-error-code="no-untyped-call"

from __future__ import annotations

import codecs
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from twisted.conch.recvline import HistoricRecvLine
from twisted.internet.defer import Deferred
from wcwidth import wcwidth  # type: ignore[import-untyped, unused-ignore]

from menuchat.client.completion import Completer
from menuchat.client.console import FrontEnd

if TYPE_CHECKING:
    from menuchat.client.conversation import ConsoleHandler

__all__ = ["TerminalConsole", "cell_widths", "layout"]

CTRL_A = b"\x01"
CTRL_C = b"\x03"
CTRL_D = b"\x04"
CTRL_E = b"\x05"
CTRL_H = b"\x08"
CTRL_L = b"\x0c"
CTRL_U = b"\x15"
CTRL_Z = b"\x1a"

# Raw bytes that put the cursor up N rows, at column 0, clear to the end of
# the screen, and leave insert mode (ECMA-48 CUU, CR, ED, RM IRM).
_UP = b"\x1b[%dA"
_CLEAR_BELOW = b"\r\x1b[J"
_INSERT_OFF = b"\x1b[4l"

Place = tuple[int, int]


def cell_widths(text: str) -> list[int]:
    """The columns each character of C{text} takes: 0, 1 or 2.

    A control character, which a terminal does not draw, counts as 0.
    """
    return [max(wcwidth(character), 0) for character in text]


def layout(widths: Sequence[int], width: int) -> list[Place]:
    """Where characters of these C{widths} land on a terminal C{width} wide.

    Returns the (row, column) each one starts at, counted from where the
    first one is drawn, and after them the place just past the last. A
    character that does not fit in what is left of a row goes to the next
    one, as terminals do with a wide character in the last column; the place
    past a full row is the next row's start.
    """
    width = max(width, 1)
    row = column = 0
    places = []
    for cells in widths:
        if column + cells > width and column:
            row, column = row + 1, 0
        places.append((row, column))
        column += cells
    places.append((row + 1, 0) if column >= width else (row, column))
    return places


class TerminalConsole(FrontEnd, HistoricRecvLine):
    """A line editor whose half-typed line survives arriving output.

    Runs on an insults terminal in raw mode. New output erases the input
    line (the prompt and what is typed), is written, and the input line is
    drawn again below it with the cursor where it was, as
    C{twisted.conch.manhole.Manhole.addOutput} does. Characters are whole
    UTF-8 characters, one to an entry of C{lineBuffer}. Up and down walk
    the history; Tab completes; Ctrl-D on an empty line leaves, Ctrl-C
    interrupts.

    The cursor's place is kept as (row, column) from where the prompt
    starts; every move is made from there, never by counting characters.

    @ivar suspend: what Ctrl-Z calls, with the bytes that hide the input
        line, when the process can be stopped; L{None} (Ctrl-Z does
        nothing) until whoever runs the console on a real terminal sets it.
        Once the process continues, L{show} draws the input line again.
    """

    max_listed = 100

    def __init__(self, handler: ConsoleHandler) -> None:
        self._handler = handler
        self._prompt = ""
        self._closing = False
        self._keys = codecs.getincrementaldecoder("utf-8")("replace")
        self._cursor: Place = (0, 0)
        self._completer = Completer()
        self._tabbed = False
        self._hidden = False
        self.suspend: Callable[[bytes], None] | None = None
        self.when_closed: Deferred[None] = Deferred()

    def connectionMade(self) -> None:
        super().connectionMade()
        self.keyHandlers.update(
            {
                CTRL_A: self.handle_HOME,
                CTRL_C: self.handle_INT,
                CTRL_D: self.handle_EOF,
                CTRL_E: self.handle_END,
                CTRL_H: self.handle_BACKSPACE,
                CTRL_L: self.handle_REDRAW,
                CTRL_U: self.handle_KILL,
                CTRL_Z: self.handle_SUSPEND,
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
        for line in lines:
            self._completer.observe(line)
        self._prompt = prompt
        self._print_above(lines)

    def _print_above(self, lines: Sequence[str]) -> None:
        """Write C{lines} where the input line is, and the input line below."""
        self._hidden = False
        self._erase()
        for line in lines:
            self.terminal.write(line.encode("utf-8") + b"\n")
        self.drawInputLine()

    def close(self) -> Deferred[None]:
        """Clear the input line, leave insert mode, stop; fires once flushed."""
        if not self._closing:
            self._closing = True
            self._erase()
            self.setTypeoverMode()
            self.terminal.transport.loseConnection()
        return self.when_closed

    def hide(self) -> bytes:
        """The bytes that clear the input line and leave insert mode.

        They are for writing at once, before the process stops; the line is
        drawn again by L{show}.
        """
        up = _UP % self._cursor[0] if self._cursor[0] else b""
        self._cursor = (0, 0)
        self._hidden = True
        return up + _CLEAR_BELOW + _INSERT_OFF

    def show(self) -> None:
        """Draw the input line again after the process continued.

        After L{hide} the shell has had the terminal, and the cursor is at
        the start of a fresh line; otherwise (a stop that was not ours) the
        line is drawn again where it is.
        """
        if self.mode == "insert":
            self.setInsertMode()
        if self._hidden:
            self._hidden = False
            self.terminal.write(b"\r")
            self.drawInputLine()
        else:
            self._redraw()

    # Drawing

    def drawInputLine(self) -> None:
        """Draw the prompt and the line from the cursor, which is at column 0."""
        text = self._prompt + b"".join(self.lineBuffer).decode("utf-8", "replace")
        self.terminal.write(text.encode("utf-8"))
        places = layout(cell_widths(text), self.width)
        end = places[-1]
        if end[1] == 0 and end[0] and text:
            # The last row is full: the terminal holds the cursor in its last
            # column until the next character. Wrap now, to know where it is.
            self.terminal.write(b" \r")
        self._cursor = end
        self._move_to(self._place(self.lineBufferIndex, places))

    def _redraw(self) -> None:
        self._erase()
        self.drawInputLine()

    def _erase(self) -> None:
        """Put the cursor where the prompt starts; clear to the screen's end."""
        if self._cursor[0]:
            self.terminal.cursorUp(self._cursor[0])
        self.terminal.write(b"\r")
        self.terminal.eraseToDisplayEnd()
        self._cursor = (0, 0)

    def _place(self, index: int, places: Sequence[Place] | None = None) -> Place:
        """Where the cursor goes to stand before character C{index}."""
        if places is None:
            text = self._prompt + b"".join(self.lineBuffer).decode("utf-8", "replace")
            places = layout(cell_widths(text), self.width)
        row, column = places[len(self._prompt) + index]
        return (row + 1, 0) if column >= self.width else (row, column)

    def _move_to(self, place: Place) -> None:
        (row, column), (to_row, to_column) = self._cursor, place
        if to_row < row:
            self.terminal.cursorUp(row - to_row)
        elif to_row > row:
            self.terminal.cursorDown(to_row - row)
        if to_column < column:
            self.terminal.cursorBackward(column - to_column)
        elif to_column > column:
            self.terminal.cursorForward(to_column - column)
        self._cursor = place

    def _cells(self, index: int) -> int:
        return cell_widths(self.lineBuffer[index].decode("utf-8", "replace"))[0]

    # Keys

    def keystrokeReceived(self, keyID: bytes | object, modifier: object) -> None:
        if modifier is not None:
            return
        if isinstance(keyID, bytes) and keyID >= b"\x80":
            for character in self._keys.decode(keyID):
                if wcwidth(character) >= 0:  # not a C1 control
                    self.characterReceived(character.encode("utf-8"), False)
            return
        if keyID != self.terminal.TAB:
            self._tabbed = False
        handler = self.keyHandlers.get(keyID)
        if handler is not None:
            handler()
        elif isinstance(keyID, bytes) and b" " <= keyID < b"\x7f":
            self.characterReceived(keyID, False)

    def characterReceived(self, ch: bytes, moreCharactersComing: bool) -> None:
        if self.mode == "insert":
            self.lineBuffer.insert(self.lineBufferIndex, ch)
        else:
            self.lineBuffer[self.lineBufferIndex : self.lineBufferIndex + 1] = [ch]
        self.lineBufferIndex += 1
        if not moreCharactersComing:
            self._redraw()

    def _set_line(self, line: bytes) -> None:
        text = line.decode("utf-8", "replace")
        self.lineBuffer = [character.encode("utf-8") for character in text]
        self.lineBufferIndex = len(self.lineBuffer)
        self._redraw()

    def handle_LEFT(self) -> None:
        """One character left, past the marks that combine with it."""
        index = self.lineBufferIndex
        while index > 0:
            index -= 1
            if self._cells(index):
                break
        self.lineBufferIndex = index
        self._move_to(self._place(index))

    def handle_RIGHT(self) -> None:
        """One character right, past the marks that combine with it."""
        index = self.lineBufferIndex
        if index < len(self.lineBuffer):
            index += 1
            while index < len(self.lineBuffer) and not self._cells(index):
                index += 1
        self.lineBufferIndex = index
        self._move_to(self._place(index))

    def handle_HOME(self) -> None:
        self.lineBufferIndex = 0
        self._move_to(self._place(0))

    def handle_END(self) -> None:
        self.lineBufferIndex = len(self.lineBuffer)
        self._move_to(self._place(self.lineBufferIndex))

    def handle_BACKSPACE(self) -> None:
        if self.lineBufferIndex > 0:
            self.lineBufferIndex -= 1
            del self.lineBuffer[self.lineBufferIndex]
            self._redraw()

    def handle_DELETE(self) -> None:
        if self.lineBufferIndex < len(self.lineBuffer):
            del self.lineBuffer[self.lineBufferIndex]
            self._redraw()

    def handle_UP(self) -> None:
        if self.lineBuffer and self.historyPosition == len(self.historyLines):
            self.historyLines.append(b"".join(self.lineBuffer))
        if self.historyPosition > 0:
            self.historyPosition -= 1
            self._set_line(self.historyLines[self.historyPosition])

    def handle_DOWN(self) -> None:
        if self.historyPosition < len(self.historyLines) - 1:
            self.historyPosition += 1
            self._set_line(self.historyLines[self.historyPosition])
        else:
            self.historyPosition = len(self.historyLines)
            self._set_line(b"")

    def handle_RETURN(self) -> None:
        line = b"".join(self.lineBuffer)
        if line:
            self.historyLines.append(line)
        self.historyPosition = len(self.historyLines)
        self.handle_END()
        if self._cursor[1] or not self._cursor[0]:
            self.terminal.write(b"\n")
        self.lineBuffer = []
        self.lineBufferIndex = 0
        self._prompt = ""
        self._cursor = (0, 0)
        self._handler.line_entered(line.decode("utf-8", "replace"))

    def handle_TAB(self) -> None:
        """Complete the word before the cursor.

        One match is put in; several put in the start they share, and the
        next Tab lists them above the input line.
        """
        typed = b"".join(self.lineBuffer[: self.lineBufferIndex])
        before = typed.decode("utf-8", "replace")
        completion = self._completer.complete(before)
        second, self._tabbed = self._tabbed, len(completion.candidates) > 1
        word = before[completion.start :]
        if completion.word != word:
            start = self.lineBufferIndex - len(word)
            inserted = [character.encode("utf-8") for character in completion.word]
            self.lineBuffer[start : self.lineBufferIndex] = inserted
            self.lineBufferIndex = start + len(inserted)
            self._redraw()
        elif second:
            self._print_above(self._table(completion.candidates))

    def _table(self, words: Sequence[str]) -> list[str]:
        """C{words} in columns across the terminal, at most C{max_listed}."""
        shown = words[: self.max_listed]
        cells = max(sum(cell_widths(word)) for word in shown) + 2
        across = max(1, self.width // cells)
        rows = [
            "".join(
                word + " " * (cells - sum(cell_widths(word)))
                for word in shown[i : i + across]
            ).rstrip()
            for i in range(0, len(shown), across)
        ]
        if len(words) > len(shown):
            rows.append(f"(and {len(words) - len(shown)} more)")
        return rows

    def handle_SUSPEND(self) -> None:
        if self.suspend is not None:
            self.suspend(self.hide())

    def handle_INT(self) -> None:
        self._handler.interrupt()

    def handle_EOF(self) -> None:
        if self.lineBuffer:
            self.handle_DELETE()
        else:
            self._handler.quit()

    def handle_KILL(self) -> None:
        self.lineBuffer = []
        self.lineBufferIndex = 0
        self._redraw()

    def handle_REDRAW(self) -> None:
        self.terminal.eraseDisplay()
        self.terminal.cursorHome()
        self._cursor = (0, 0)
        self.drawInputLine()
