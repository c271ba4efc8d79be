"""The line rate: a token bucket on an injected clock."""

from __future__ import annotations

import attrs
from twisted.internet.interfaces import IReactorTime

__all__ = ["LineRate", "TokenBucket"]


@attrs.frozen
class LineRate:
    """C{rate} lines a second after a burst of C{burst}, on C{clock} (the
    reactor, or a C{Clock} in tests): one a front-end, shared by the buckets
    of all its connections."""

    rate: float
    burst: float = attrs.field(converter=float)
    clock: IReactorTime


class TokenBucket:
    """One connection's lines under a L{LineRate}: up to its burst at once,
    then its rate.

    One a connection, so it holds only what is the connection's own, the
    tokens and when they were counted; the rate, the burst (a float, shared)
    and the clock are the L{LineRate}'s.
    """

    __slots__ = ("_line_rate", "_stamp", "_tokens")

    def __init__(self, line_rate: LineRate) -> None:
        self._line_rate = line_rate
        self._tokens = line_rate.burst
        self._stamp = line_rate.clock.seconds()

    def take(self) -> float:
        """Spend one token: 0.0 if there was one, else the seconds until there is."""
        line_rate = self._line_rate
        now = line_rate.clock.seconds()
        tokens = min(
            line_rate.burst, self._tokens + (now - self._stamp) * line_rate.rate
        )
        self._stamp = now
        # Refilling to exactly one token can land a hair below it in floating
        # point; counting that as a whole token keeps the refill from being
        # rescheduled for the very same instant, forever.
        if tokens >= 1.0 - 1e-9:
            self._tokens = max(tokens - 1.0, 0.0)
            return 0.0
        self._tokens = tokens
        return (1.0 - tokens) / line_rate.rate
