"""The client's plain front end, and what every front end does at its end.

L{PlainConsole} reads lines from a pipe and writes the server's text as a
transcript; the line editor for a terminal is
L{menuchat.client.terminal.TerminalConsole}. Both implement
L{menuchat.client.conversation.Console} and report to a
L{menuchat.client.conversation.ConsoleHandler};
L{menuchat.client.stdio.converse} picks one.
"""

# LineReceiver.clearLineBuffer has no annotations.
# mypy: disable-error-code="no-untyped-call"

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, cast

from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IHalfCloseableProtocol
from twisted.internet.protocol import connectionDone
from twisted.protocols.basic import LineReceiver
from twisted.python.failure import Failure
from zope.interface import implementer  # type: ignore[import-untyped, unused-ignore]

if TYPE_CHECKING:
    from menuchat.client.conversation import ConsoleHandler, Wire

__all__ = ["FrontEnd", "PlainConsole"]


class FrontEnd:
    """What every front end does when its stdio closes: fire C{when_closed},
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
class PlainConsole(FrontEnd, LineReceiver):
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
