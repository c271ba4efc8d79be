"""The seam between the line connection and a front-end.

A front-end provides a L{LineHandler} for each connection (what its lines
mean) and a L{LineFactory} subclass whose connections share the limits, the
clock, the admission of clients, the counts and the turn's flush. The
connection itself (L{menuchat.net.connection}) knows no words of any
dialogue.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IReactorTime
from twisted.internet.protocol import ServerFactory

from menuchat.config import Limits
from menuchat.net.admission import Admission
from menuchat.net.flusher import OutputFlusher
from menuchat.net.ratelimit import LineRate
from menuchat.net.refusals import RefusalLog
from menuchat.net.stats import ConnectionStats

if TYPE_CHECKING:
    from menuchat.net.connection import LineConnection

__all__ = ["LineFactory", "LineHandler"]


class LineHandler(Protocol):
    """What a front-end does with one connection's lines (the menu's Session)."""

    def start(self) -> None:
        """The connection is open and admitted: greet."""

    def line_received(self, line: str) -> Deferred[None] | None:
        """One decoded line; a Deferred (that never fails) holds further lines."""

    def line_too_long(self, limit: int) -> None:
        """A line over C{limit} bytes was discarded."""

    def timed_out(self) -> None:
        """The login or idle timeout ran out."""

    def server_stopping(self) -> None:
        """The server is going down."""

    def connection_lost(self) -> None:
        """The connection is gone, however it ended."""


class LineFactory(ServerFactory):
    """What every connection of one front-end shares: limits, clock, caps, flush.

    @param clock: the reactor, or a L{task.Clock} in tests.
    @param admission: shared with the server's other front-ends.
    @param stats: counts for the metrics, shared likewise.
    """

    protocol: Callable[[], LineConnection]  # type: ignore[assignment]

    def __init__(
        self,
        clock: IReactorTime,
        limits: Limits,
        admission: Admission | None = None,
        stats: ConnectionStats | None = None,
    ) -> None:
        self.clock = clock
        self.stats = stats or ConnectionStats()
        self.refusal_log = RefusalLog(clock)
        self.limits = limits
        self.admission = admission or Admission(
            limits.max_clients, limits.max_per_address
        )
        self.flusher = OutputFlusher(clock)
        #: The line rate of every connection; None when lines are not limited.
        self.line_rate = (
            LineRate(limits.line_rate, limits.line_burst, clock)
            if limits.line_rate
            else None
        )

    def line_limit(self) -> int:
        """The longest line this front-end reads, in bytes without the line
        end; a protocol with a fixed limit (IRC's 512) overrides it."""
        return self.limits.max_line_length
