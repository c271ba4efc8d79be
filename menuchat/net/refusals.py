"""Refused connections, logged as a summary once a second per reason.

A storm of refused connections (a full server, one address opening
hundreds) would write a log line per connection; the log gets one line a
second for each reason instead, with the count.
"""

from __future__ import annotations

from collections import Counter

from twisted.internet.interfaces import IDelayedCall, IReactorTime
from twisted.logger import Logger

from menuchat.net.admission import Refusal

__all__ = ["RefusalLog"]

#: Seconds over which refusals of one reason are summed into one log event.
INTERVAL = 1.0


class RefusalLog:
    """Counts refusals and logs them once per L{INTERVAL} per reason."""

    log = Logger()

    def __init__(self, clock: IReactorTime) -> None:
        self._clock = clock
        self._counts: Counter[Refusal] = Counter()
        self._call: IDelayedCall | None = None

    def refused(self, refusal: Refusal) -> None:
        """A connection was refused for C{refusal}."""
        self._counts[refusal] += 1
        if self._call is None:
            self._call = self._clock.callLater(INTERVAL, self._flush)

    def _flush(self) -> None:
        self._call = None
        counts, self._counts = self._counts, Counter()
        for refusal, count in counts.items():
            self.log.warn(
                "Refused {count} connection(s) in {interval}s: {why}",
                event="refusal",
                reason=refusal.name.lower(),
                why=refusal.value,
                count=count,
                interval=INTERVAL,
            )
