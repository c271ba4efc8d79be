"""The embedded store: one SQLite file in WAL mode, written by its own process.

Writes are queued, and the writes of one reactor turn go to the store's
process together and are committed in one transaction
(L{menuchat.store.sqlite_writer}); each caller's Deferred fires once its
write is committed. So a message is on disk before C{Message sent!} is
written, and a busy server pays one commit for many messages, not one each.

The store keeps in memory what its file holds of accounts and mail, read
at start and brought in step as each write is committed (this store is the
file's only writer): a read of a mailbox, an unread count, an account
looked up by name or id answers at once, from what is committed, without
a trip to the store's process. Taking the mail forgets it at once and queues
its delete: if the server dies before that delete is committed, the
messages are there again at the next start (read twice, never lost).
Ids, kept rooms and their history go through the process.

The schema, its migrations and the checks a file must pass are in
L{menuchat.store.sqlite_schema}, and the statements the process runs in
L{menuchat.store.sqlite_sql}; L{start} opens and migrates the file, and
fails with a L{StoreError} of one line if it cannot. C{:memory:} keeps
everything in the one connection, gone when the store stops.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import Any, TypeVar

import attrs
from twisted.internet.defer import Deferred, fail, succeed
from twisted.python.failure import Failure

from menuchat.core.answers import Answer
from menuchat.core.errors import MailboxFull, NameTaken
from menuchat.core.events import HistoryLine, Message
from menuchat.store import Account, SavedRoom
from menuchat.store import sqlite_sql as sql
from menuchat.store.sqlite_schema import (
    APPLICATION_ID,
    MEMORY,
    SCHEMA_VERSION,
    StoreError,
    check,
)
from menuchat.store.sqlite_writer import Observe, Write, Writer

__all__ = [
    "APPLICATION_ID",
    "MEMORY",
    "SCHEMA_VERSION",
    "SQLiteStore",
    "StoreError",
    "check",
]

#: A message in memory with its row id, the order of its mailbox.
_Mail = tuple[int, Message]

_T = TypeVar("_T")


class SQLiteStore:
    """A L{menuchat.store.Store} in the SQLite file at C{path} (or C{:memory:}).

    @param reactor: runs the store's process and its timed calls.
    """

    def __init__(self, path: str, reactor: Any) -> None:
        self.path = path
        self._writer = Writer(path, reactor)
        self._open = False
        self._stopped = False
        # What the file holds, as committed: mailboxes (row id and message,
        # oldest first) and accounts by key and by id.
        self._mail: dict[int, deque[_Mail]] = {}
        self._by_key: dict[str, Account] = {}
        self._by_id: dict[int, Account] = {}
        # Asked for and not yet committed: deliveries per recipient (they
        # count toward a full mailbox), the keys and ids of new accounts.
        self._incoming: dict[int, int] = {}
        self._claimed: set[str | int] = set()
        self._last_mail_id = 0
        #: The deliveries asked since the last other write of this turn.
        self._deliveries: _Deliveries | None = None
        #: Told of the calls answered at once, once timed (L{time_calls}).
        self._observe: Observe | None = None

    @property
    def transactions(self) -> int:
        """Transactions committed since L{start}; the tests count them."""
        return self._writer.transactions

    # Opening and closing

    def start(self) -> Deferred[None]:
        def keep(loaded: sql.Loaded) -> None:
            for account in loaded.accounts:
                self._by_key[account.key] = self._by_id[account.user_id] = account
            for mail_id, message in loaded.mail:
                self._mail.setdefault(message.recipient_id, deque()).append(
                    (mail_id, message)
                )
            self._last_mail_id = loaded.last_mail_id
            self._open = not self._stopped

        return self._writer.start(sql.load).addCallback(keep)

    def time_calls(self, observe: Observe, seconds: Callable[[], float]) -> None:
        """Tell C{observe} the name and latency of each call: those answered
        through the store's process as they are answered (L{Writer.time}),
        those answered at once (from memory, or refused) as nil. The
        caller need not wrap the store's calls to time them."""
        self._observe = observe
        self._writer.time(observe, seconds, sql.CALLS)

    def stop(self) -> Deferred[None]:
        self._open = False
        self._stopped = True
        return self._writer.stop()

    def _answered_at_once(self, call: str) -> None:
        """The call named C{call} is answered at once: timed as nil, if
        calls are timed."""
        observe = self._observe
        if observe is not None:
            observe(call, 0.0, 1)

    def _at_once(self, call: str, answer: Deferred[_T]) -> Deferred[_T]:
        """C{answer} to the call named C{call}, which is in already."""
        self._answered_at_once(call)
        return answer

    def _refused(self, call: str) -> Deferred[Any]:
        error = StoreError(f"{self.path}: the store is not open")
        return self._at_once(call, fail(error))

    def _write(
        self,
        run: Any,
        *args: Any,
        done: Any = None,
        undo: Any = None,
        data: Any = None,
    ) -> Deferred[Any]:
        if not self._open:
            return self._refused(sql.CALLS[run])
        answer: Deferred[Any] = Deferred()
        self._writer.write(Write(run, args, answer, done, undo, data))
        return answer

    # Ids

    def reserve_ids(self, count: int) -> Deferred[range]:
        return self._write(sql.reserve, count)

    # Mail

    def deliver(self, message: Message, limit: int) -> Deferred[int]:
        answer: Deferred[int] = Deferred()
        self.deliver_to(message, limit, answer)
        return answer

    def deliver_to(self, message: Message, limit: int, answer: Answer[int]) -> None:
        """L{deliver}, telling C{answer} (see L{menuchat.store})."""
        if not self._open:
            self._answered_at_once("deliver")
            answer.errback(Failure(StoreError(f"{self.path}: the store is not open")))
            return
        recipient = message.recipient_id
        mailbox = self._mail.get(recipient)
        incoming = self._incoming.get(recipient, 0)
        if (len(mailbox) if mailbox else 0) + incoming >= limit:
            self._answered_at_once("deliver")
            answer.errback(Failure(MailboxFull(recipient)))
            return
        self._incoming[recipient] = incoming + 1
        self._last_mail_id = mail_id = self._last_mail_id + 1
        deliveries = self._deliveries
        writer = self._writer
        if deliveries is None or deliveries.queued != writer.queued:
            # The first since another write: a new run of deliveries.
            deliveries = self._deliveries = _Deliveries(self)
            writer.write(deliveries)
            deliveries.queued = writer.queued
        deliveries.calls += 1
        deliveries.told.append(((mail_id, message), answer))
        deliveries.rows += (
            mail_id,
            message.sender_id,
            message.sender_name,
            recipient,
            message.recipient_name,
            message.text,
            message.sent_at,
        )

    def _delivered(self, mail: _Mail, result: None) -> int:
        recipient = mail[1].recipient_id
        incoming = self._incoming
        left = incoming[recipient] - 1
        if left:
            incoming[recipient] = left
        else:
            del incoming[recipient]
        mailbox = self._mail.get(recipient)
        if mailbox is None:
            mailbox = self._mail[recipient] = deque()
        mailbox.append(mail)
        return len(mailbox)

    def _not_delivered(self, mail: _Mail) -> None:
        recipient = mail[1].recipient_id
        left = self._incoming[recipient] - 1
        if left:
            self._incoming[recipient] = left
        else:
            del self._incoming[recipient]

    def take_mail(self, user_id: int) -> Deferred[list[Message]]:
        if not self._open:
            return self._refused("take_mail")
        mailbox = self._mail.pop(user_id, None)
        if not mailbox:
            return self._at_once("take_mail", succeed([]))
        self._writer.later(sql.delete_mail_ids, [mail[0] for mail in mailbox])
        self._answered_at_once("take_mail")
        return succeed([mail[1] for mail in mailbox])

    def drop_mail(self, user_id: int) -> Deferred[list[Message]]:
        # In turn with the deliveries asked before it, which it drops too.
        return self._write(sql.delete_mail, user_id, done=self._dropped, data=user_id)

    def _dropped(self, user_id: int, result: None) -> list[Message]:
        return [message for _, message in self._mail.pop(user_id, ())]

    def unread(self, user_id: int) -> Deferred[int]:
        if not self._open:
            return self._refused("unread")
        return self._at_once("unread", succeed(len(self._mail.get(user_id, ()))))

    # Accounts

    def create_account(self, account: Account) -> Deferred[None]:
        if not self._open:
            return self._refused("create_account")
        key, user_id = account.key, account.user_id
        claimed = self._claimed
        if (
            key in self._by_key
            or user_id in self._by_id
            or key in claimed
            or user_id in claimed
        ):
            return self._at_once("create_account", fail(NameTaken(account.name)))
        claimed.add(key)
        claimed.add(user_id)
        return self._write(
            sql.insert_account,
            account,
            done=self._created,
            undo=self._unclaim,
            data=account,
        )

    def _created(self, account: Account, result: None) -> None:
        self._unclaim(account)
        self._by_key[account.key] = self._by_id[account.user_id] = account

    def _unclaim(self, account: Account) -> None:
        self._claimed.discard(account.key)
        self._claimed.discard(account.user_id)

    def find_account(self, key: str) -> Deferred[Account | None]:
        if not self._open:
            return self._refused("find_account")
        return self._at_once("find_account", succeed(self._by_key.get(key)))

    def account_by_id(self, user_id: int) -> Deferred[Account | None]:
        if not self._open:
            return self._refused("account_by_id")
        return self._at_once("account_by_id", succeed(self._by_id.get(user_id)))

    def set_password(self, user_id: int, password_hash: str) -> Deferred[None]:
        return self._write(
            sql.set_password,
            user_id,
            password_hash,
            done=self._password_set,
            data=(user_id, password_hash),
        )

    def _password_set(self, change: tuple[int, str], result: None) -> None:
        user_id, password_hash = change
        account = self._by_id.get(user_id)
        if account is not None:
            changed = attrs.evolve(account, password_hash=password_hash)
            self._by_id[user_id] = self._by_key[account.key] = changed

    def delete_account(self, user_id: int) -> Deferred[None]:
        return self._write(
            sql.delete_account, user_id, done=self._account_deleted, data=user_id
        )

    def _account_deleted(self, user_id: int, result: None) -> None:
        account = self._by_id.pop(user_id, None)
        if account is not None:
            del self._by_key[account.key]
        self._mail.pop(user_id, None)

    # Kept rooms and their history

    def save_room(self, room: SavedRoom) -> Deferred[None]:
        return self._write(sql.save_room, room)

    def delete_room(self, key: str) -> Deferred[None]:
        return self._write(sql.delete_room, key)

    def saved_rooms(self) -> Deferred[list[SavedRoom]]:
        return self._write(sql.saved_rooms)

    def append_history(self, key: str, line: HistoryLine, keep: int) -> Deferred[None]:
        return self._write(sql.append_history, key, line, keep)

    def history(self, key: str, count: int) -> Deferred[list[HistoryLine]]:
        return self._write(sql.history, key, count)


class _Deliveries(Write):
    """A run of deliveries asked one after the other in a turn: one write
    (one statement for all their rows), its own answer, which tells each
    delivery's caller.

    What a delivery costs in the reactor is then two appends, not a write
    of its own, its queueing and its answer.

    @ivar queued: the writer's L{Writer.queued} once this was queued: while
        it is the same, nothing was queued after it, and the next delivery
        joins it.
    """

    __slots__ = ("queued", "rows", "store", "told")

    def __init__(self, store: SQLiteStore) -> None:
        #: Every row's values, one after the other (see L{sql.insert_mails}).
        self.rows: list[Any] = []
        super().__init__(sql.insert_mails, (self.rows,), self)
        self.calls = 0
        self.store = store
        self.told: list[tuple[_Mail, Answer[int]]] = []
        self.queued = 0

    def callback(self, result: None) -> None:
        """Committed: each is in its mailbox; tell each caller the count."""
        self.answer = None  # itself: no cycle left for the collector
        delivered = self.store._delivered
        for mail, answer in self.told:
            try:
                answer.callback(delivered(mail, None))
            except Exception:  # one broken answer: the others are told
                self.store._writer.log.failure(
                    "{path}: an answer failed", path=self.store.path
                )

    def errback(self, failure: Failure) -> None:
        """Rolled back: none of them is there; each caller is told why."""
        self.answer = None
        not_delivered = self.store._not_delivered
        for mail, answer in self.told:
            try:
                not_delivered(mail)
                answer.errback(failure)
            except Exception:
                self.store._writer.log.failure(
                    "{path}: an answer failed", path=self.store.path
                )
