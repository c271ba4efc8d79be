"""What the line connections of a server count, for its metrics.

Plain integers, bumped on the paths they count and read only when the
metrics are scraped: no metrics library call per line or per delivery.
"""

from __future__ import annotations

from collections import Counter

__all__ = ["ConnectionStats"]


class ConnectionStats:
    """Counts shared by every connection of a server's front-ends."""

    __slots__ = ("drops", "lines_in", "output_high_water", "refusals")

    def __init__(self) -> None:
        self.lines_in = 0
        #: The most output queued for one connection at a time, in bytes.
        self.output_high_water = 0
        self.refusals: Counter[str] = Counter()
        self.drops: Counter[str] = Counter()

    def queued(self, size: int) -> None:
        """One connection had C{size} bytes of output queued at once."""
        if size > self.output_high_water:
            self.output_high_water = size
