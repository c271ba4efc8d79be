"""The in-process store: everything in dictionaries, gone with the process.

For tests and for C{--db :memory:}. Every call answers at once with an
already-fired Deferred, so the code above it runs as fast as if it called
the dictionaries directly, and is still written for slower stores.
"""

from __future__ import annotations

from collections import deque

import attrs
from twisted.internet.defer import Deferred, fail, succeed

from menuchat.core.errors import MailboxFull, NameTaken
from menuchat.core.events import Message
from menuchat.store import Account, HistoryLine, SavedRoom

__all__ = ["MemoryStore"]


class MemoryStore:
    """A L{menuchat.store.Store} in memory."""

    def __init__(self) -> None:
        self._next_id = 1
        self._mail: dict[int, deque[Message]] = {}
        self._accounts: dict[int, Account] = {}
        self._keys: dict[str, Account] = {}
        self._rooms: dict[str, SavedRoom] = {}
        self._history: dict[str, deque[HistoryLine]] = {}

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

    def create_account(self, account: Account) -> Deferred[None]:
        if account.key in self._keys or account.user_id in self._accounts:
            return fail(NameTaken(account.name))
        self._accounts[account.user_id] = self._keys[account.key] = account
        return succeed(None)

    def find_account(self, key: str) -> Deferred[Account | None]:
        return succeed(self._keys.get(key))

    def account_by_id(self, user_id: int) -> Deferred[Account | None]:
        return succeed(self._accounts.get(user_id))

    def set_password(self, user_id: int, password_hash: str) -> Deferred[None]:
        account = self._accounts.get(user_id)
        if account is not None:
            changed = attrs.evolve(account, password_hash=password_hash)
            self._accounts[user_id] = self._keys[account.key] = changed
        return succeed(None)

    def delete_account(self, user_id: int) -> Deferred[None]:
        account = self._accounts.pop(user_id, None)
        if account is not None:
            del self._keys[account.key]
        self._mail.pop(user_id, None)
        return succeed(None)

    def save_room(self, room: SavedRoom) -> Deferred[None]:
        self._rooms[room.key] = room
        return succeed(None)

    def delete_room(self, key: str) -> Deferred[None]:
        self._rooms.pop(key, None)
        self._history.pop(key, None)
        return succeed(None)

    def saved_rooms(self) -> Deferred[list[SavedRoom]]:
        return succeed(sorted(self._rooms.values(), key=lambda r: r.created_at))

    def append_history(self, key: str, line: HistoryLine, keep: int) -> Deferred[None]:
        lines = self._history.get(key)
        if lines is None or lines.maxlen != keep:
            lines = self._history[key] = deque(lines or (), maxlen=keep)
        lines.append(line)
        return succeed(None)

    def history(self, key: str, count: int) -> Deferred[list[HistoryLine]]:
        lines = list(self._history.get(key, ()))
        return succeed(lines[-count:] if count else [])
