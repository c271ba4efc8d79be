"""The embedded store: one SQLite file, written by one thread, in WAL mode.

Every call is queued and answered by a Deferred. The calls made during one
reactor turn run together, in order, in one transaction on the store's own
thread; each caller's Deferred fires once that transaction is committed.
While a transaction runs, the calls of the next turns wait and then share
the next one. So a message is on disk before C{Message sent!} is written,
and a busy server pays one commit for many messages, not one each.

The schema, its migrations and the checks a file must pass are in
L{menuchat.store.sqlite_schema}; L{start} opens and migrates the file, and
fails with a L{StoreError} of one line if it cannot.

C{:memory:} keeps everything in the one connection, so it is shared by
every call and gone when the store stops.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from typing import Any, TypeVar

from twisted.internet.defer import Deferred, fail, succeed
from twisted.internet.interfaces import (
    IDelayedCall,
    IReactorFromThreads,
    IReactorTime,
)
from twisted.internet.threads import deferToThreadPool
from twisted.python.failure import Failure
from twisted.python.threadpool import ThreadPool

from menuchat.core.errors import ChatError, MailboxFull, NameTaken
from menuchat.core.events import HistoryLine, Message
from menuchat.store import Account, SavedRoom
from menuchat.store.sqlite_schema import (
    APPLICATION_ID,
    MEMORY,
    SCHEMA_VERSION,
    StoreError,
    check,
    open_database,
)

__all__ = [
    "APPLICATION_ID",
    "MEMORY",
    "SCHEMA_VERSION",
    "SQLiteStore",
    "StoreError",
    "check",
]


def _open(path: str) -> tuple[sqlite3.Connection, set[str]]:
    """In the store's thread: the database, and the keys of its accounts."""
    conn = open_database(path)
    rows = conn.execute("SELECT key FROM accounts").fetchall()
    return conn, {key for (key,) in rows}


T = TypeVar("T")
_Op = Callable[[sqlite3.Cursor], Any]


def _message(row: tuple[Any, ...]) -> Message:
    return Message(row[0], row[1], row[2], row[3], row[4], row[5])


_MAIL_COLUMNS = "sender_id, sender_name, recipient_id, recipient_name, text, sent_at"


class SQLiteStore:
    """A L{menuchat.store.Store} in the SQLite file at C{path} (or C{:memory:}).

    @param reactor: runs the store's thread and its timed calls.
    @ivar transactions: how many transactions it has committed since
        L{start}; the tests use it to see that one turn's calls share one.
    """

    def __init__(self, path: str, reactor: Any) -> None:
        self.path = path
        self._reactor: IReactorTime = reactor
        self._threads: IReactorFromThreads = reactor
        self._pool = ThreadPool(minthreads=1, maxthreads=1, name="menuchat-sqlite")
        self._conn: sqlite3.Connection | None = None
        self._pending: list[tuple[_Op, Deferred[Any]]] = []
        self._scheduled: IDelayedCall | None = None
        self._running: Deferred[None] | None = None
        self._closed = False
        self.transactions = 0
        # The keys of the registered names, read at start and kept in step
        # by this store (the only writer): most logins are guests', whose
        # name is no account's, and are answered without the thread.
        self._account_keys: set[str] = set()

    # Opening and closing

    def start(self) -> Deferred[None]:
        self._pool.start()
        opened = deferToThreadPool(self._threads, self._pool, _open, self.path)

        def keep(opening: tuple[sqlite3.Connection, set[str]]) -> None:
            self._conn, self._account_keys = opening

        def failed(reason: Failure) -> Failure:
            self._closed = True
            self._pool.stop()
            return reason

        return opened.addCallbacks(keep, failed)

    def stop(self) -> Deferred[None]:
        stopped: Deferred[None] = Deferred.fromCoroutine(self._stop())
        return stopped

    async def _stop(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._scheduled is not None and self._scheduled.active():
            self._scheduled.cancel()
        self._scheduled = None
        while self._running is not None or self._pending:
            if self._running is None:
                self._flush()
            if self._running is not None:
                await self._running
        conn, self._conn = self._conn, None
        if conn is not None:
            await deferToThreadPool(self._threads, self._pool, conn.close)
        self._pool.stop()

    # The queue: one transaction per turn

    def _call(self, op: Callable[[sqlite3.Cursor], T]) -> Deferred[T]:
        if self._closed or self._conn is None:
            return fail(StoreError(f"{self.path}: the store is not open"))
        answer: Deferred[T] = Deferred()
        self._pending.append((op, answer))
        if self._running is None and self._scheduled is None:
            self._scheduled = self._reactor.callLater(0, self._flush)
        return answer

    def _flush(self) -> None:
        """Run every queued call in one transaction in the store's thread."""
        self._scheduled = None
        if not self._pending or self._conn is None or self._running is not None:
            # Calls queued while a transaction runs go in the next one,
            # started as soon as it is committed.
            return
        batch, self._pending = self._pending, []
        ops = [op for op, _ in batch]
        done: Deferred[list[Any]] = deferToThreadPool(
            self._threads, self._pool, self._transaction, self._conn, ops
        )
        running: Deferred[None] = Deferred()
        self._running = running

        def answer(outcome: list[Any] | Failure) -> None:
            self._running = None
            if isinstance(outcome, Failure):
                failure = outcome
                if not failure.check(StoreError):
                    error = StoreError(f"{self.path}: {failure.getErrorMessage()}")
                    failure = Failure(error)
                for _, waiting in batch:
                    waiting.errback(failure)
            else:
                self.transactions += 1
                for (_, waiting), result in zip(batch, outcome, strict=True):
                    if isinstance(result, Failure):
                        waiting.errback(result)
                    else:
                        waiting.callback(result)
            if self._pending and not self._closed:
                self._flush()
            running.callback(None)

        done.addBoth(answer)

    @staticmethod
    def _transaction(conn: sqlite3.Connection, ops: list[_Op]) -> list[Any]:
        """In the store's thread: every op, then one commit.

        A refusal (a L{ChatError}, raised by an op before it writes
        anything) answers that op alone; any other error rolls the whole
        transaction back and fails every op in it.
        """
        cursor = conn.cursor()
        cursor.execute("BEGIN IMMEDIATE")
        try:
            results: list[Any] = []
            for op in ops:
                try:
                    results.append(op(cursor))
                except ChatError:
                    results.append(Failure())
            cursor.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.rollback()
            raise
        return results

    # Ids

    def reserve_ids(self, count: int) -> Deferred[range]:
        def reserve(cursor: sqlite3.Cursor) -> range:
            (first,) = cursor.execute(
                "UPDATE sequence SET next = next + ? WHERE name = 'user_id' "
                "RETURNING next - ?",
                (count, count),
            ).fetchone()
            return range(first, first + count)

        return self._call(reserve)

    # Mail

    def deliver(self, message: Message, limit: int) -> Deferred[int]:
        def insert(cursor: sqlite3.Cursor) -> int:
            (unread,) = cursor.execute(
                "SELECT count(*) FROM mail WHERE recipient_id = ?",
                (message.recipient_id,),
            ).fetchone()
            if unread >= limit:
                raise MailboxFull(message.recipient_id)
            cursor.execute(
                f"INSERT INTO mail ({_MAIL_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?)",
                (
                    message.sender_id,
                    message.sender_name,
                    message.recipient_id,
                    message.recipient_name,
                    message.text,
                    message.sent_at,
                ),
            )
            return int(unread) + 1

        return self._call(insert)

    def take_mail(self, user_id: int) -> Deferred[list[Message]]:
        def take(cursor: sqlite3.Cursor) -> list[Message]:
            rows = cursor.execute(
                "DELETE FROM mail WHERE recipient_id = ?"
                f" RETURNING id, {_MAIL_COLUMNS}",
                (user_id,),
            ).fetchall()
            rows.sort()
            return [_message(row[1:]) for row in rows]

        return self._call(take)

    def drop_mail(self, user_id: int) -> Deferred[list[Message]]:
        return self.take_mail(user_id)

    def unread(self, user_id: int) -> Deferred[int]:
        def count(cursor: sqlite3.Cursor) -> int:
            (unread,) = cursor.execute(
                "SELECT count(*) FROM mail WHERE recipient_id = ?", (user_id,)
            ).fetchone()
            return int(unread)

        return self._call(count)

    # Accounts

    def create_account(self, account: Account) -> Deferred[None]:
        def create(cursor: sqlite3.Cursor) -> None:
            try:
                cursor.execute(
                    "INSERT INTO accounts"
                    " (user_id, name, key, password_hash, created_at)"
                    " VALUES (?, ?, ?, ?, ?)",
                    (
                        account.user_id,
                        account.name,
                        account.key,
                        account.password_hash,
                        account.created_at,
                    ),
                )
            except sqlite3.IntegrityError:
                # The statement changed nothing; the transaction goes on.
                raise NameTaken(account.name) from None

        created = self._call(create)
        return created.addCallback(lambda _: self._account_keys.add(account.key))

    def find_account(self, key: str) -> Deferred[Account | None]:
        if key not in self._account_keys and not self._closed:
            return succeed(None)
        return self._find("key", key)

    def account_by_id(self, user_id: int) -> Deferred[Account | None]:
        return self._find("user_id", user_id)

    def _find(self, column: str, value: object) -> Deferred[Account | None]:
        def find(cursor: sqlite3.Cursor) -> Account | None:
            row = cursor.execute(
                "SELECT user_id, name, key, password_hash, created_at"
                f" FROM accounts WHERE {column} = ?",
                (value,),
            ).fetchone()
            return None if row is None else Account(*row)

        return self._call(find)

    def set_password(self, user_id: int, password_hash: str) -> Deferred[None]:
        def change(cursor: sqlite3.Cursor) -> None:
            cursor.execute(
                "UPDATE accounts SET password_hash = ? WHERE user_id = ?",
                (password_hash, user_id),
            )

        return self._call(change)

    def delete_account(self, user_id: int) -> Deferred[None]:
        def delete(cursor: sqlite3.Cursor) -> str | None:
            row = cursor.execute(
                "DELETE FROM accounts WHERE user_id = ? RETURNING key", (user_id,)
            ).fetchone()
            cursor.execute("DELETE FROM mail WHERE recipient_id = ?", (user_id,))
            return None if row is None else str(row[0])

        def forget(key: str | None) -> None:
            self._account_keys.discard(key or "")

        return self._call(delete).addCallback(forget)

    # Kept rooms and their history

    def save_room(self, room: SavedRoom) -> Deferred[None]:
        def save(cursor: sqlite3.Cursor) -> None:
            cursor.execute(
                "INSERT OR REPLACE INTO rooms"
                " (key, room_id, owner_id, owner_name, topic, created_at)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (
                    room.key,
                    room.room_id,
                    room.owner_id,
                    room.owner_name,
                    room.topic,
                    room.created_at,
                ),
            )

        return self._call(save)

    def delete_room(self, key: str) -> Deferred[None]:
        def delete(cursor: sqlite3.Cursor) -> None:
            cursor.execute("DELETE FROM rooms WHERE key = ?", (key,))
            cursor.execute("DELETE FROM history WHERE room_key = ?", (key,))

        return self._call(delete)

    def saved_rooms(self) -> Deferred[list[SavedRoom]]:
        def read(cursor: sqlite3.Cursor) -> list[SavedRoom]:
            rows = cursor.execute(
                "SELECT key, room_id, owner_id, owner_name, topic, created_at"
                " FROM rooms ORDER BY created_at, key"
            ).fetchall()
            return [SavedRoom(*row) for row in rows]

        return self._call(read)

    def append_history(self, key: str, line: HistoryLine, keep: int) -> Deferred[None]:
        def append(cursor: sqlite3.Cursor) -> None:
            cursor.execute(
                "INSERT INTO history (room_key, speaker, text, said_at)"
                " VALUES (?, ?, ?, ?)",
                (key, line.speaker, line.text, line.said_at),
            )
            # Keep the last `keep` lines: drop those at or before the line
            # `keep` places from the end.
            cursor.execute(
                "DELETE FROM history WHERE room_key = ? AND id <= ("
                " SELECT id FROM history WHERE room_key = ?"
                " ORDER BY id DESC LIMIT 1 OFFSET ?)",
                (key, key, keep),
            )

        return self._call(append)

    def history(self, key: str, count: int) -> Deferred[list[HistoryLine]]:
        def read(cursor: sqlite3.Cursor) -> list[HistoryLine]:
            rows = cursor.execute(
                "SELECT speaker, text, said_at FROM history WHERE room_key = ?"
                " ORDER BY id DESC LIMIT ?",
                (key, count),
            ).fetchall()
            return [HistoryLine(*row) for row in reversed(rows)]

        return self._call(read)
