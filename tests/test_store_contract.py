"""The store contract: what every store does, run against each of them.

L{StoreContract} is the definition of the L{menuchat.store.Store}
interface; each backend's test case mixes it in with a way to open a fresh
store. A backend that does not pass it is not done.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Coroutine
from typing import Any

from twisted.internet.defer import Deferred
from twisted.python.failure import Failure
from twisted.trial.unittest import TestCase

from menuchat.core.errors import MailboxFull, NameTaken
from menuchat.core.events import Message
from menuchat.store import Account, HistoryLine, SavedRoom, Store, StoreError
from menuchat.store.memory import MemoryStore
from menuchat.store.redis import RedisStore
from menuchat.store.sqlite import SQLiteStore
from tests.redisserver import RedisServer


def inline(
    test: Callable[[Any], Coroutine[Any, Any, None]],
) -> Callable[[Any], Deferred[None]]:
    """An C{async def} test as trial runs it: a method returning a Deferred."""

    def run(self: Any) -> Deferred[None]:
        return Deferred.fromCoroutine(test(self))

    run.__name__ = test.__name__
    run.__doc__ = test.__doc__
    return run


def message(sender: int, recipient: int, text: str, at: float = 1.0) -> Message:
    return Message(sender, f"u{sender}", recipient, f"u{recipient}", text, at)


def account(user_id: int, name: str, password_hash: str = "h") -> Account:
    return Account(user_id, name, name.casefold(), password_hash, 100.0)


class StoreContract:
    """Tests every store passes; C{open_store} gives a fresh, started one."""

    async def open_store(self) -> Store:
        raise NotImplementedError

    async def reopen_store(self, store: Store) -> Store | None:
        """The same data, opened anew (a restart); None for stores that
        keep nothing."""
        return None

    async def _store(self) -> Store:
        store = await self.open_store()
        self.addCleanup(store.stop)  # type: ignore[attr-defined]
        return store

    # Ids

    @inline
    async def test_reserved_ids_are_positive_and_never_overlap(self) -> None:
        store = await self._store()
        first = await store.reserve_ids(10)
        second = await store.reserve_ids(5)
        assert len(first) == 10 and len(second) == 5
        assert min(first) >= 1
        assert not set(first) & set(second)
        assert min(second) > max(first)

    @inline
    async def test_ids_are_never_reused_across_a_restart(self) -> None:
        store = await self.open_store()
        before = await store.reserve_ids(3)
        again = await self.reopen_store(store)
        if again is None:
            await store.stop()
            return
        self.addCleanup(again.stop)  # type: ignore[attr-defined]
        after = await again.reserve_ids(3)
        assert min(after) > max(before)

    # Mail

    @inline
    async def test_mail_is_delivered_counted_and_taken_oldest_first(self) -> None:
        store = await self._store()
        assert await store.deliver(message(1, 2, "one"), 10) == 1
        assert await store.deliver(message(3, 2, "two", 2.0), 10) == 2
        assert await store.unread(2) == 2
        taken = await store.take_mail(2)
        assert [m.text for m in taken] == ["one", "two"]
        assert taken[0] == message(1, 2, "one")
        assert await store.take_mail(2) == []
        assert await store.unread(2) == 0

    @inline
    async def test_a_full_mailbox_refuses_and_keeps_what_it_had(self) -> None:
        store = await self._store()
        for n in range(3):
            await store.deliver(message(1, 2, f"m{n}"), 3)
        try:
            await store.deliver(message(1, 2, "too many"), 3)
        except MailboxFull:
            pass
        else:
            raise AssertionError("a full mailbox took a message")
        assert [m.text for m in await store.take_mail(2)] == ["m0", "m1", "m2"]

    @inline
    async def test_mailboxes_are_separate(self) -> None:
        store = await self._store()
        await store.deliver(message(1, 2, "for two"), 10)
        await store.deliver(message(1, 3, "for three"), 10)
        assert [m.text for m in await store.take_mail(3)] == ["for three"]
        assert [m.text for m in await store.take_mail(2)] == ["for two"]

    @inline
    async def test_dropped_mail_is_returned_and_gone(self) -> None:
        store = await self._store()
        await store.deliver(message(1, 2, "lost"), 10)
        dropped = await store.drop_mail(2)
        assert [m.text for m in dropped] == ["lost"]
        assert await store.unread(2) == 0
        assert await store.drop_mail(2) == []

    @inline
    async def test_text_survives_exactly(self) -> None:
        store = await self._store()
        text = "Zoë 🙂 李 \u200d 'quoted' \"double\" ; DROP TABLE mail; --"
        await store.deliver(message(1, 2, text, 1565027100.25), 10)
        (got,) = await store.take_mail(2)
        assert got.text == text
        assert got.sent_at == 1565027100.25

    @inline
    async def test_mail_survives_a_restart(self) -> None:
        store = await self.open_store()
        await store.deliver(message(1, 2, "kept"), 10)
        again = await self.reopen_store(store)
        if again is None:
            await store.stop()
            return
        self.addCleanup(again.stop)  # type: ignore[attr-defined]
        assert [m.text for m in await again.take_mail(2)] == ["kept"]

    # Accounts

    @inline
    async def test_an_account_is_found_by_key_and_by_id(self) -> None:
        store = await self._store()
        nina = account(7, "Nina")
        await store.create_account(nina)
        assert await store.find_account("nina") == nina
        assert await store.account_by_id(7) == nina
        assert await store.find_account("jose") is None
        assert await store.account_by_id(8) is None

    @inline
    async def test_a_key_or_id_is_registered_once(self) -> None:
        store = await self._store()
        await store.create_account(account(7, "Nina"))
        for duplicate in (account(8, "NINA"), account(7, "Other")):
            try:
                await store.create_account(duplicate)
            except NameTaken:
                pass
            else:
                raise AssertionError(f"{duplicate} was registered twice")
        assert await store.account_by_id(8) is None
        assert (await store.find_account("nina")) == account(7, "Nina")

    @inline
    async def test_the_password_hash_changes(self) -> None:
        store = await self._store()
        await store.create_account(account(7, "Nina", "old"))
        await store.set_password(7, "new")
        found = await store.find_account("nina")
        assert found is not None and found.password_hash == "new"

    @inline
    async def test_a_deleted_account_frees_its_name_and_drops_its_mail(self) -> None:
        store = await self._store()
        await store.create_account(account(7, "Nina"))
        await store.deliver(message(1, 7, "unread"), 10)
        await store.delete_account(7)
        assert await store.find_account("nina") is None
        assert await store.account_by_id(7) is None
        assert await store.unread(7) == 0
        await store.create_account(account(9, "nina"))
        assert (await store.find_account("nina")) == account(9, "nina")

    @inline
    async def test_accounts_survive_a_restart(self) -> None:
        store = await self.open_store()
        await store.create_account(account(7, "Nina"))
        again = await self.reopen_store(store)
        if again is None:
            await store.stop()
            return
        self.addCleanup(again.stop)  # type: ignore[attr-defined]
        assert await again.find_account("nina") == account(7, "Nina")


class RoomContract:
    """Kept rooms and their history, part of the contract of every store."""

    async def _store(self) -> Store:
        raise NotImplementedError

    async def open_store(self) -> Store:
        raise NotImplementedError

    async def reopen_store(self, store: Store) -> Store | None:
        raise NotImplementedError

    @inline
    async def test_rooms_are_kept_replaced_and_deleted(self) -> None:
        store = await self._store()
        lobby = SavedRoom("lobby", "Lobby", 7, "Nina", "", 1.0)
        math = SavedRoom("math", "math", 8, "Jose", "sums", 2.0)
        await store.save_room(math)
        await store.save_room(lobby)
        assert await store.saved_rooms() == [lobby, math]
        moved = SavedRoom("lobby", "Lobby", 8, "Jose", "hello", 1.0)
        await store.save_room(moved)
        assert await store.saved_rooms() == [moved, math]
        await store.delete_room("lobby")
        assert await store.saved_rooms() == [math]

    @inline
    async def test_history_keeps_the_last_lines_oldest_first(self) -> None:
        store = await self._store()
        for n in range(5):
            await store.append_history("lobby", HistoryLine("Nina", f"l{n}", n), 3)
        await store.append_history("math", HistoryLine("Jose", "other", 9.0), 3)
        lines = await store.history("lobby", 10)
        assert [line.text for line in lines] == ["l2", "l3", "l4"]
        assert lines[0] == HistoryLine("Nina", "l2", 2.0)
        assert [line.text for line in await store.history("lobby", 2)] == ["l3", "l4"]
        assert await store.history("lobby", 0) == []

    @inline
    async def test_a_deleted_room_takes_its_history_with_it(self) -> None:
        store = await self._store()
        await store.save_room(SavedRoom("lobby", "lobby", 7, "Nina", "", 1.0))
        await store.append_history("lobby", HistoryLine("Nina", "old", 1.0), 10)
        await store.delete_room("lobby")
        assert await store.history("lobby", 10) == []

    @inline
    async def test_rooms_and_history_survive_a_restart(self) -> None:
        store = await self.open_store()
        room = SavedRoom("lobby", "lobby", 7, "Nina", "topic", 1.0)
        await store.save_room(room)
        await store.append_history("lobby", HistoryLine("Nina", "kept", 1.0), 10)
        again = await self.reopen_store(store)
        if again is None:
            await store.stop()
            return
        self.addCleanup(again.stop)  # type: ignore[attr-defined]
        assert await again.saved_rooms() == [room]
        assert [line.text for line in await again.history("lobby", 10)] == ["kept"]


class Told:
    """An answer that is not a Deferred: it keeps what it is told."""

    def __init__(self) -> None:
        self.results: list[object] = []
        self.failures: list[Failure] = []
        self.done: Deferred[None] = Deferred()

    def callback(self, result: object) -> None:
        self.results.append(result)
        self.done.callback(None)

    def errback(self, fail: Failure) -> None:
        self.failures.append(fail)
        self.done.callback(None)


class DeliverToContract:
    """What a store that offers C{deliver_to} does (see L{menuchat.store}):
    what C{deliver} does, told to an answer."""

    async def open_store(self) -> Store:
        raise NotImplementedError

    async def _store(self) -> Any:
        store = await self.open_store()
        self.addCleanup(store.stop)  # type: ignore[attr-defined]
        return store

    @inline
    async def test_deliver_to_tells_the_unread_count(self) -> None:
        store = await self._store()
        first, second = Told(), Told()
        store.deliver_to(message(1, 2, "one"), 10, first)
        store.deliver_to(message(3, 2, "two", 2.0), 10, second)
        await second.done
        assert (first.results, second.results) == ([1], [2])
        assert [m.text for m in await store.take_mail(2)] == ["one", "two"]

    @inline
    async def test_deliver_to_a_deferred(self) -> None:
        store = await self._store()
        answer: Deferred[int] = Deferred()
        store.deliver_to(message(1, 2, "one"), 10, answer)
        assert await answer == 1

    @inline
    async def test_deliver_to_a_full_mailbox_fails_and_stores_nothing(self) -> None:
        store = await self._store()
        await store.deliver(message(1, 2, "m0"), 1)
        full = Told()
        store.deliver_to(message(1, 2, "too many"), 1, full)
        await full.done
        assert full.results == [] and full.failures[0].check(MailboxFull)
        assert [m.text for m in await store.take_mail(2)] == ["m0"]

    @inline
    async def test_deliver_to_a_stopped_store_fails(self) -> None:
        store = await self.open_store()
        await store.stop()
        told = Told()
        store.deliver_to(message(1, 2, "late"), 10, told)  # type: ignore[attr-defined]
        await told.done
        assert told.results == [] and told.failures[0].check(StoreError)


class MemoryStoreTests(StoreContract, RoomContract, TestCase):
    """The memory store keeps the contract (and nothing across a restart)."""

    async def open_store(self) -> Store:
        store = MemoryStore()
        await store.start()
        return store


class SQLiteStoreTests(StoreContract, RoomContract, DeliverToContract, TestCase):
    """The SQLite store keeps the contract in a file, across restarts too."""

    async def open_store(self) -> Store:
        from twisted.internet import reactor

        directory = tempfile.mkdtemp(prefix="menuchat-store-")
        self.addCleanup(shutil.rmtree, directory)
        store = SQLiteStore(os.path.join(directory, "menuchat.sqlite3"), reactor)
        await store.start()
        return store

    async def reopen_store(self, store: Store) -> Store | None:
        from twisted.internet import reactor

        assert isinstance(store, SQLiteStore)
        await store.stop()
        again = SQLiteStore(store.path, reactor)
        await again.start()
        return again


class SQLiteMemoryStoreTests(StoreContract, RoomContract, DeliverToContract, TestCase):
    """The SQLite store keeps the contract in memory (and nothing after)."""

    async def open_store(self) -> Store:
        from twisted.internet import reactor

        store = SQLiteStore(":memory:", reactor)
        await store.start()
        return store


class RedisStoreTests(StoreContract, RoomContract, TestCase):
    """The Redis store keeps the contract, against a real redis-server; a
    restart is a new connection to the same server."""

    def setUp(self) -> None:
        self.redis = RedisServer().start()
        self.addCleanup(self.redis.close)

    async def open_store(self) -> Store:
        from twisted.internet import reactor

        store = RedisStore(self.redis.url, reactor)
        await store.start()
        return store

    async def reopen_store(self, store: Store) -> Store | None:
        await store.stop()
        return await self.open_store()
