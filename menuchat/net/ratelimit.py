"""The line rate: a token bucket on an injected clock."""

from __future__ import annotations

from twisted.internet.interfaces import IReactorTime

__all__ = ["TokenBucket"]


class TokenBucket:
    """Up to C{burst} lines at once, then C{rate} lines a second.

    @param clock: the reactor, or a C{Clock} in tests.

    One a connection: it keeps the clock itself, not its C{seconds} (a bound
    method, made anew for each bucket), and the burst as given (shared by
    every bucket of a server), not a float of its own.
    """

    __slots__ = ("_burst", "_clock", "_rate", "_stamp", "_tokens")

    def __init__(self, rate: float, burst: int, clock: IReactorTime) -> None:
        self._rate = rate
        self._burst: float = burst
        self._clock = clock
        self._tokens: float = burst
        self._stamp = clock.seconds()

    def take(self) -> float:
        """Spend one token: 0.0 if there was one, else the seconds until there is."""
        now = self._clock.seconds()
        tokens = min(self._burst, self._tokens + (now - self._stamp) * self._rate)
        self._stamp = now
        # Refilling to exactly one token can land a hair below it in floating
        # point; counting that as a whole token keeps the refill from being
        # rescheduled for the very same instant, forever.
        if tokens >= 1.0 - 1e-9:
            self._tokens = max(tokens - 1.0, 0.0)
            return 0.0
        self._tokens = tokens
        return (1.0 - tokens) / self._rate
