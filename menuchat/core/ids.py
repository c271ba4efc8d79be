"""User ids, handed out from blocks the store reserves.

Ids are never given twice, across restarts and across the processes of a
cluster: each comes from a block of them that the store reserved (and
counted as used) in one call. Logins that find the block empty wait for
one reservation together.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from twisted.internet.defer import Deferred, succeed
from twisted.python.failure import Failure

if TYPE_CHECKING:
    from menuchat.store import Store

__all__ = ["IdBlocks"]


class IdBlocks:
    """User ids handed out from blocks reserved in the store."""

    def __init__(self, store: Store, block: int) -> None:
        self._store = store
        self._block = block
        # Empty whenever someone waits: they wait because it ran out.
        self._free: Iterator[int] = iter(())
        self._waiting: list[Deferred[int]] = []

    def take(self) -> int | None:
        """The next id if the reserved block has one (never while some wait)."""
        return next(self._free, None)

    def next(self) -> Deferred[int]:
        """The next id; from memory, unless a new block must be reserved."""
        user_id = next(self._free, None)
        if user_id is not None:
            return succeed(user_id)
        waiter: Deferred[int] = Deferred()
        self._waiting.append(waiter)
        if len(self._waiting) == 1:
            self._store.reserve_ids(self._block).addCallbacks(
                self._reserved, self._failed
            )
        return waiter

    def _reserved(self, ids: range) -> None:
        self._free = iter(ids)
        waiting, self._waiting = self._waiting, []
        for at, waiter in enumerate(waiting):
            user_id = next(self._free, None)
            if user_id is None:
                # More logins waited than one block holds: go round again.
                self._waiting = waiting[at:]
                self._store.reserve_ids(self._block).addCallbacks(
                    self._reserved, self._failed
                )
                return
            waiter.callback(user_id)

    def _failed(self, reason: Failure) -> None:
        waiting, self._waiting = self._waiting, []
        for waiter in waiting:
            waiter.errback(reason)
