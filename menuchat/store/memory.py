"""The in-process store: everything in dictionaries, gone with the process.

For tests and for C{--db :memory:}. Every call answers at once with an
already-fired Deferred, so the code above it runs as fast as if it called
the dictionaries directly, and is still written for slower stores.
"""

from __future__ import annotations

from collections import deque

from twisted.internet.defer import Deferred, fail, succeed

from menuchat.core.errors import MailboxFull
from menuchat.core.events import Message

__all__ = ["MemoryStore"]


class MemoryStore:
    """A L{menuchat.store.Store} in memory."""

    def __init__(self) -> None:
        self._next_id = 1
        self._mail: dict[int, deque[Message]] = {}

    def start(self) -> Deferred[None]:
        return succeed(None)

    def stop(self) -> Deferred[None]:
        return succeed(None)

    def reserve_ids(self, count: int) -> Deferred[range]:
        first = self._next_id
        self._next_id += count
        return succeed(range(first, first + count))

    def deliver(self, message: Message, limit: int) -> Deferred[int]:
        mailbox = self._mail.get(message.recipient_id)
        if mailbox is None:
            mailbox = self._mail[message.recipient_id] = deque()
        elif len(mailbox) >= limit:
            return fail(MailboxFull(message.recipient_id))
        mailbox.append(message)
        return succeed(len(mailbox))

    def take_mail(self, user_id: int) -> Deferred[list[Message]]:
        return succeed(list(self._mail.pop(user_id, ())))

    def drop_mail(self, user_id: int) -> Deferred[list[Message]]:
        return succeed(list(self._mail.pop(user_id, ())))

    def unread(self, user_id: int) -> Deferred[int]:
        return succeed(len(self._mail.get(user_id, ())))
