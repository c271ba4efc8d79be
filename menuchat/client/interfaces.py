"""What the terminal client's parts expect of each other and of Twisted.

Typing protocols only: the transport and clock as the conversation uses
them (Twisted types them as zope interfaces, whose methods mypy cannot call
without a plugin), and the two sides of a console.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

__all__ = ["Console", "ConsoleHandler", "PendingCall", "Timer", "Wire"]


class Wire(Protocol):
    """The part of a transport the client uses.

    Twisted types a protocol's transport as an optional zope interface,
    whose methods mypy cannot call without a plugin; this says what they are.
    """

    def write(self, data: bytes) -> None: ...

    def loseConnection(self) -> None: ...


class PendingCall(Protocol):
    """A call the clock will make: L{twisted.internet.base.DelayedCall}."""

    def active(self) -> bool: ...

    def cancel(self) -> None: ...

    def reset(self, secondsLater: float) -> None: ...


class Timer(Protocol):
    """What the conversation needs of a clock: a reactor or C{task.Clock}."""

    def callLater(
        self, delay: float, callable: Callable[..., object], *args: object
    ) -> PendingCall: ...


class Console(Protocol):
    """A front end: where the user reads the server and types lines."""

    def display(self, lines: Sequence[str], prompt: str) -> None:
        """Show C{lines} above the input line, then C{prompt} before it."""


class ConsoleHandler(Protocol):
    """What a console reports the user doing; L{ChatClient} implements it."""

    def line_entered(self, text: str) -> None:
        """The user typed a line."""

    def input_ended(self) -> None:
        """Input reached its end (a pipe was closed): finish gracefully."""

    def quit(self) -> None:
        """The user asked to leave now (Ctrl-D on an empty line)."""

    def interrupt(self) -> None:
        """The user pressed Ctrl-C."""
