"""Test doubles for the client's front ends."""

from __future__ import annotations

import pyte
from twisted.conch.insults.insults import ServerProtocol, TerminalProtocol
from twisted.internet.testing import StringTransport


class RecordingHandler:
    """A console handler that keeps what the user did."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.events: list[str] = []

    def line_entered(self, text: str) -> None:
        self.lines.append(text)

    def input_ended(self) -> None:
        self.events.append("input ended")

    def quit(self) -> None:
        self.events.append("quit")

    def interrupt(self) -> None:
        self.events.append("interrupt")


class Screen(StringTransport):
    """A terminal as a person sees it: a pyte screen fed what is written.

    C{terminal} is the insults L{ServerProtocol} that a console is drawn
    through; C{type} presses keys by sending their bytes through it, as a
    terminal in raw mode would.
    """

    def __init__(
        self, console: TerminalProtocol, columns: int = 80, lines: int = 24
    ) -> None:
        super().__init__()
        self.screen = pyte.Screen(columns, lines)
        self._stream = pyte.ByteStream(self.screen)
        self._stream.feed(b"$ menuchat-client\r\n")
        self.terminal = ServerProtocol(lambda: console)
        self.terminal.makeConnection(self)
        console.terminalSize(columns, lines)

    def write(self, data: bytes) -> None:
        super().write(data)
        self._stream.feed(data)

    def feed(self, data: bytes) -> None:
        """Show C{data} written to the terminal other than through C{terminal}."""
        self._stream.feed(data)

    def type(self, *keys: str | bytes) -> None:
        """Press C{keys}; a str is typed as UTF-8."""
        for key in keys:
            data = key.encode("utf-8") if isinstance(key, str) else key
            self.terminal.dataReceived(data)

    def rows(self) -> list[str]:
        """The screen's rows, without trailing blanks."""
        return [row.rstrip() for row in self.screen.display]

    @property
    def cursor(self) -> tuple[int, int]:
        """The cursor as (column, row)."""
        return self.screen.cursor.x, self.screen.cursor.y
