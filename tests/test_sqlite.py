"""The SQLite store beyond the contract: files, versions, transactions, stop."""

from __future__ import annotations

import os
import shutil
import sqlite3
import tempfile
from pathlib import Path
from typing import Any

from twisted.internet import reactor
from twisted.internet.defer import Deferred, gatherResults
from twisted.internet.task import Clock
from twisted.trial.unittest import TestCase

from menuchat.core.errors import MailboxFull, NameTaken
from menuchat.metrics import ServerMetrics, timed_store
from menuchat.store import sqlite_schema as module
from menuchat.store.sqlite import (
    APPLICATION_ID,
    SCHEMA_VERSION,
    SQLiteStore,
    StoreError,
    check,
)
from menuchat.store.sqlite_writer import Write
from tests.test_store_contract import account, inline, message

ROOT = Path(__file__).resolve().parent.parent


def pragma(path: Path, name: str) -> int:
    conn = sqlite3.connect(path)
    try:
        (value,) = conn.execute(f"PRAGMA {name}").fetchone()
        return int(value)
    finally:
        conn.close()


class StoreFileCase(TestCase):
    """A directory of its own, and stores started on a file in it, each
    stopped at the end of the test."""

    def setUp(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="menuchat-sqlite-"))
        self.addCleanup(shutil.rmtree, self.dir, True)
        self.path = self.dir / "menuchat.sqlite3"

    async def started(self, path: Path | str | None = None) -> SQLiteStore:
        store = SQLiteStore(str(path or self.path), reactor)
        await store.start()
        self.addCleanup(store.stop)
        return store


class SQLiteFileTests(StoreFileCase):
    async def refused(self, path: Path, reason: str) -> None:
        """Both check() and start() refuse C{path}, naming C{reason}."""
        with self.assertRaises(StoreError) as checked:
            check(str(path))
        assert reason in str(checked.exception), checked.exception
        store = SQLiteStore(str(path), reactor)
        try:
            await store.start()
        except StoreError as e:
            assert reason in str(e), e
            assert "\n" not in str(e)
        else:
            await store.stop()
            raise AssertionError(f"{path} was opened")
        await store.stop()

    def make_other_version(self, version: int, application_id: int) -> bytes:
        conn = sqlite3.connect(self.path)
        conn.execute("CREATE TABLE things (x)")
        conn.execute(f"PRAGMA user_version = {version}")
        conn.execute(f"PRAGMA application_id = {application_id}")
        conn.commit()
        conn.close()
        return self.path.read_bytes()

    # Creating and migrating

    @inline
    async def test_an_answer_that_raises_leaves_the_others_answered(self) -> None:
        store = await self.started()

        class Broken:
            def callback(self, result: object) -> None:
                raise RuntimeError("a bug in the answer")

            def errback(self, fail: object) -> None:
                raise RuntimeError("a bug in the answer")

        store.deliver_to(message(1, 2, "one"), 10, Broken())
        after = store.deliver(message(1, 2, "two"), 10)
        assert await after == 2
        assert len(self.flushLoggedErrors(RuntimeError)) == 1
        assert [m.text for m in await store.take_mail(2)] == ["one", "two"]

    @inline
    async def test_an_empty_file_is_migrated_to_the_current_version(self) -> None:
        self.path.touch()
        check(str(self.path))
        store = await self.started()
        assert await store.reserve_ids(2) == range(1, 3)
        await store.stop()
        assert pragma(self.path, "user_version") == SCHEMA_VERSION
        assert pragma(self.path, "application_id") == APPLICATION_ID
        conn = sqlite3.connect(self.path)
        (mode,) = conn.execute("PRAGMA journal_mode").fetchone()
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
        conn.close()
        assert mode == "wal"
        assert {"sequence", "accounts", "mail"} <= tables

    @inline
    async def test_check_creates_nothing_and_start_creates_the_file(self) -> None:
        check(str(self.path))
        assert not self.path.exists()
        await self.started()
        assert self.path.exists()

    @inline
    async def test_later_migrations_run_in_order_and_keep_the_data(self) -> None:
        store = await self.started()
        await store.deliver(message(1, 2, "kept"), 10)
        await store.stop()

        def add_column(cursor: sqlite3.Cursor) -> None:
            cursor.execute("ALTER TABLE mail ADD COLUMN flag INTEGER DEFAULT 7")

        self.patch(module, "MIGRATIONS", [*module.MIGRATIONS, add_column])
        self.patch(module, "SCHEMA_VERSION", SCHEMA_VERSION + 1)
        # What the store's process runs at start (here, to see the patch).
        module.open_database(str(self.path)).close()
        assert pragma(self.path, "user_version") == SCHEMA_VERSION + 1
        conn = sqlite3.connect(self.path)
        rows = conn.execute("SELECT text, flag FROM mail").fetchall()
        conn.close()
        assert rows == [("kept", 7)]

    # Refusals, the file untouched

    @inline
    async def test_a_newer_version_is_refused_untouched(self) -> None:
        store = await self.started()
        await store.stop()
        conn = sqlite3.connect(self.path)
        conn.execute("PRAGMA journal_mode = DELETE")
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
        conn.close()
        before = self.path.read_bytes()
        await self.refused(self.path, "newer menuchat")
        assert self.path.read_bytes() == before
        assert sorted(os.listdir(self.dir)) == ["menuchat.sqlite3"]

    @inline
    async def test_a_file_that_is_not_a_database_is_refused_untouched(self) -> None:
        before = os.urandom(8192)
        self.path.write_bytes(before)
        await self.refused(self.path, "not an SQLite database")
        assert self.path.read_bytes() == before

    @inline
    async def test_another_programs_database_is_refused_untouched(self) -> None:
        for version, app_id in ((0, 0), (1, 0), (1, 1234)):
            self.path.unlink(missing_ok=True)
            before = self.make_other_version(version, app_id)
            await self.refused(self.path, "not a menuchat database")
            assert self.path.read_bytes() == before

    @inline
    async def test_a_missing_directory_is_refused(self) -> None:
        missing = self.dir / "nowhere" / "menuchat.sqlite3"
        await self.refused(missing, "does not exist")
        assert not missing.parent.exists()

    @inline
    async def test_a_read_only_directory_is_refused(self) -> None:
        self.dir.chmod(0o555)
        self.addCleanup(self.dir.chmod, 0o755)
        if os.geteuid() == 0:
            # Root writes anywhere, so the directory is shown as read-only
            # to the check, as the kernel shows it to anyone else.
            real_access = module.os.access
            directory = str(self.dir)

            def access(path: str, mode: int) -> bool:
                if os.path.abspath(path) == directory and mode & os.W_OK:
                    return False
                return real_access(path, mode)

            self.patch(module.os, "access", access)
            # The store's process is not patched: the check it runs at
            # start is the one tried here (check() runs it too).
            with self.assertRaises(StoreError) as opening:
                module.open_database(str(self.path))
            assert "not writable" in str(opening.exception)
            with self.assertRaises(StoreError) as checked:
                check(str(self.path))
            assert "not writable" in str(checked.exception)
        else:
            await self.refused(self.path, "not writable")
        assert not self.path.exists()

    # Transactions

    @inline
    async def test_the_calls_of_one_turn_share_one_transaction(self) -> None:
        store = await self.started()
        before = store.transactions
        calls = [store.deliver(message(1, 2, f"m{n}"), 100) for n in range(20)]
        calls.append(store.reserve_ids(3))
        results = await gatherResults(calls)
        assert results == [*range(1, 21), range(1, 4)]
        assert store.transactions == before + 1
        assert await store.unread(2) == 20

    @inline
    async def test_a_refusal_in_a_transaction_keeps_the_rest(self) -> None:
        store = await self.started()
        calls = [store.deliver(message(1, 2, f"m{n}"), 2) for n in range(3)]
        first, second = await calls[0], await calls[1]
        assert (first, second) == (1, 2)
        self.assertFailure(calls[2], MailboxFull)
        await calls[2]
        assert [m.text for m in await store.take_mail(2)] == ["m0", "m1"]

    @inline
    async def test_stop_finishes_pending_writes(self) -> None:
        store = SQLiteStore(str(self.path), reactor)
        await store.start()
        calls = [store.deliver(message(1, 2, f"m{n}"), 100) for n in range(5)]
        await store.stop()
        assert [c.called for c in calls] == [True] * 5
        assert await gatherResults(calls) == [1, 2, 3, 4, 5]
        again = await self.started()
        assert len(await again.take_mail(2)) == 5

    @inline
    async def test_a_stopped_store_refuses_calls(self) -> None:
        store = SQLiteStore(str(self.path), reactor)
        await store.start()
        await store.stop()
        with self.assertRaises(StoreError):
            await store.unread(2)

    @inline
    async def test_memory_keeps_nothing_after_stop(self) -> None:
        store = await self.started(":memory:")
        await store.deliver(message(1, 2, "gone"), 10)
        assert await store.unread(2) == 1
        await store.stop()
        again = await self.started(":memory:")
        assert await again.unread(2) == 0
        assert os.listdir(self.dir) == []

    # A name that is no account's is answered without the store's thread.

    @inline
    async def test_a_guests_name_costs_no_transaction(self) -> None:
        store = await self.started()
        before = store.transactions
        assert await store.find_account("nobody") is None
        assert store.transactions == before

    @inline
    async def test_accounts_are_known_after_creating_deleting_and_restarting(
        self,
    ) -> None:
        store = await self.started()
        await store.create_account(account(7, "Nina"))
        await store.create_account(account(8, "Jose"))
        await store.delete_account(8)
        assert (await store.find_account("nina")) == account(7, "Nina")
        assert await store.find_account("jose") is None
        await store.stop()
        again = await self.started()
        assert (await again.find_account("nina")) == account(7, "Nina")
        assert await again.find_account("jose") is None
        await again.stop()


def failing(cursor: sqlite3.Cursor) -> None:
    """A write the database refuses: its whole transaction rolls back."""
    cursor.execute("INSERT INTO no_such_table VALUES (1)")


class SQLiteMemoryTests(StoreFileCase):
    """What the store keeps in memory answers reads at once, as committed."""

    @inline
    async def test_reads_answer_at_once_without_a_transaction(self) -> None:
        store = await self.started()
        await store.deliver(message(1, 2, "one"), 10)
        await store.create_account(account(7, "Nina"))
        before = store.transactions
        reads = [
            store.unread(2),
            store.find_account("nina"),
            store.account_by_id(7),
            store.find_account("nobody"),
            store.take_mail(2),
        ]
        assert [read.called for read in reads] == [True] * 5
        results = await gatherResults(reads)
        assert results[:4] == [1, account(7, "Nina"), account(7, "Nina"), None]
        assert [m.text for m in results[4]] == ["one"]
        assert store.transactions == before

    @inline
    async def test_a_delivery_is_read_once_committed_not_before(self) -> None:
        store = await self.started()
        delivering = store.deliver(message(1, 2, "soon"), 10)
        assert not delivering.called
        assert await store.unread(2) == 0
        assert await store.take_mail(2) == []
        assert await delivering == 1
        assert [m.text for m in await store.take_mail(2)] == ["soon"]

    @inline
    async def test_deliveries_in_flight_count_toward_a_full_mailbox(self) -> None:
        store = await self.started()
        calls = [store.deliver(message(1, 2, f"m{n}"), 2) for n in range(3)]
        assert calls[2].called  # refused at once, without the thread
        self.assertFailure(calls[2], MailboxFull)
        await calls[2]
        assert await gatherResults(calls[:2]) == [1, 2]

    @inline
    async def test_taken_mail_is_deleted_from_the_file(self) -> None:
        store = await self.started()
        await store.deliver(message(1, 2, "read"), 10)
        await store.take_mail(2)
        await store.deliver(message(1, 2, "unread"), 10)
        await store.stop()
        again = await self.started()
        assert [m.text for m in await again.take_mail(2)] == ["unread"]

    @inline
    async def test_a_rolled_back_delete_goes_again_with_the_next_batch(self) -> None:
        store = await self.started()
        await store.deliver(message(1, 2, "read"), 10)
        assert [m.text for m in await store.take_mail(2)] == ["read"]
        broken = store.reserve_ids(1)
        store._writer.write(Write(failing, ()))  # same turn: rolls it all back
        self.assertFailure(broken, StoreError)
        await broken
        await store.deliver(message(1, 3, "later"), 10)  # the retry rides here
        await store.stop()
        again = await self.started()
        assert await again.take_mail(2) == []
        assert [m.text for m in await again.take_mail(3)] == ["later"]

    @inline
    async def test_a_rolled_back_delivery_is_neither_counted_nor_read(self) -> None:
        store = await self.started()
        lost = store.deliver(message(1, 2, "lost"), 1)
        store._writer.write(Write(failing, ()))
        self.assertFailure(lost, StoreError)
        await lost
        assert await store.unread(2) == 0
        assert await store.deliver(message(1, 2, "kept"), 1) == 1
        assert [m.text for m in await store.take_mail(2)] == ["kept"]

    @inline
    async def test_dropping_takes_the_deliveries_asked_before_it(self) -> None:
        store = await self.started()
        store.deliver(message(1, 2, "first"), 10)
        delivering = store.deliver(message(1, 2, "second"), 10)
        dropped = await store.drop_mail(2)
        assert delivering.called
        assert [m.text for m in dropped] == ["first", "second"]
        assert await store.unread(2) == 0

    @inline
    async def test_deliveries_after_another_write_of_the_turn_come_after_it(
        self,
    ) -> None:
        store = await self.started()
        before = store.transactions
        first = store.deliver(message(1, 2, "first"), 10)
        dropped = store.drop_mail(2)
        later = [store.deliver(message(1, 2, f"later {n}"), 10) for n in range(2)]
        assert await gatherResults([first, *later]) == [1, 1, 2]
        assert [m.text for m in await dropped] == ["first"]
        assert store.transactions == before + 1
        await store.stop()
        again = await self.started()
        assert [m.text for m in await again.take_mail(2)] == ["later 0", "later 1"]

    @inline
    async def test_mail_stays_in_order_across_a_restart(self) -> None:
        store = await self.started()
        await store.deliver(message(1, 2, "before"), 10)
        await store.deliver(message(1, 3, "taken"), 10)
        await store.take_mail(3)
        await store.stop()
        again = await self.started()
        await again.deliver(message(1, 2, "after"), 10)
        assert [m.text for m in await again.take_mail(2)] == ["before", "after"]

    @inline
    async def test_a_turns_many_deliveries_and_deletes_are_all_written(self) -> None:
        # 101 rows: statements of 64 and 37 rows, in one transaction.
        store = await self.started()
        before = store.transactions
        texts = [f"m{n}" for n in range(101)]
        sent = [store.deliver(message(1, 2, text), 200) for text in texts]
        sent += [store.deliver(message(1, 3, text), 200) for text in texts[:77]]
        assert await gatherResults(sent) == [*range(1, 102), *range(1, 78)]
        assert store.transactions == before + 1
        assert [m.text for m in await store.take_mail(3)] == texts[:77]
        await store.deliver(message(1, 3, "last"), 200)  # the deletes ride here
        await store.stop()
        again = await self.started()
        assert [m.text for m in await again.take_mail(2)] == texts
        assert [m.text for m in await again.take_mail(3)] == ["last"]

    @inline
    async def test_a_second_account_for_a_name_being_created_is_refused(self) -> None:
        store = await self.started()
        first = store.create_account(account(7, "Nina"))
        second = store.create_account(account(8, "nina"))
        same_id = store.create_account(account(7, "Other"))
        for refused in (second, same_id):
            assert refused.called
            self.assertFailure(refused, NameTaken)
            await refused
        await first
        assert await store.find_account("nina") == account(7, "Nina")

    @inline
    async def test_a_refused_account_frees_its_claim(self) -> None:
        store = await self.started()
        creating = store.create_account(account(7, "Nina"))
        store._writer.write(Write(failing, ()))
        self.assertFailure(creating, StoreError)
        await creating
        assert await store.find_account("nina") is None
        await store.create_account(account(7, "Nina"))
        assert await store.account_by_id(7) == account(7, "Nina")

    @inline
    async def test_a_password_change_and_a_deletion_show_once_committed(
        self,
    ) -> None:
        store = await self.started()
        await store.create_account(account(7, "Nina"))
        await store.deliver(message(1, 7, "for nina"), 10)
        changing = store.set_password(7, "new")
        assert (await store.find_account("nina")) == account(7, "Nina")
        await changing
        assert (await store.find_account("nina")) == account(7, "Nina", "new")
        await store.delete_account(7)
        assert await store.find_account("nina") is None
        assert await store.account_by_id(7) is None
        assert await store.unread(7) == 0

    @inline
    async def test_a_store_stopped_while_opening_stops(self) -> None:
        store = SQLiteStore(str(self.path), reactor)
        opening = store.start()
        await store.stop()
        await opening
        with self.assertRaises(StoreError):
            await store.unread(2)


class SQLiteTimingTests(TestCase):
    """Behind the metrics, the store times the calls its thread answers."""

    def setUp(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="menuchat-sqlite-"))
        self.addCleanup(shutil.rmtree, self.dir, True)
        self.clock = Clock()
        self.metrics = ServerMetrics()
        self.store = SQLiteStore(str(self.dir / "menuchat.sqlite3"), reactor)
        self.timed = timed_store(self.store, self.clock, self.metrics)

    def latencies(self) -> dict[str, tuple[list[int], float]]:
        counts = self.metrics.store_latency
        return {
            call: (counts._counts[call], counts._sums[call]) for call in counts._counts
        }

    @inline
    async def test_a_call_answered_by_the_thread_is_timed_until_its_answer(
        self,
    ) -> None:
        await self.store.start()
        self.addCleanup(self.store.stop)
        delivering = self.timed.deliver(message(1, 2, "hi"), 10)
        reserving = self.timed.reserve_ids(2)
        self.clock.advance(0.003)  # the answers cannot be in before this
        assert await delivering == 1
        assert await reserving == range(1, 3)
        self.timed.unread(2)  # answered at once: timed as nil
        self.timed.take_mail(2)  # its delete, answered to no one, is not timed
        await self.timed.reserve_ids(1)
        seen = self.latencies()
        assert set(seen) == {"deliver", "reserve_ids", "unread", "take_mail"}
        # One call each in the bucket up to 5 ms (the fifth bound), 3 ms each.
        assert seen["deliver"] == ([0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0], 0.003)
        reserve_counts, reserve_sum = seen["reserve_ids"]
        assert reserve_counts == [1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0]
        assert reserve_sum == 0.003
        assert seen["unread"] == ([1] + [0] * 10, 0.0)

    @inline
    async def test_the_store_is_not_wrapped_and_times_its_refusals(self) -> None:
        # Its calls are its own (no wrapper on the private message's path),
        # and a delivery refused at once is timed as nil, by the store.
        assert self.timed is self.store
        await self.store.start()
        self.addCleanup(self.store.stop)
        refusals: list[Any] = []

        class Told:
            def callback(self, unread: int) -> None:
                refusals.append(unread)

            def errback(self, failure: Any) -> None:
                refusals.append(failure.value)

        assert await self.store.deliver(message(1, 2, "one"), 1) == 1
        self.clock.advance(0.001)
        self.store.deliver_to(message(1, 2, "two"), 1, Told())
        assert [type(error) for error in refusals] == [MailboxFull]
        await self.store.stop()
        self.store.deliver_to(message(1, 3, "closed"), 5, Told())
        assert [type(error) for error in refusals] == [MailboxFull, StoreError]
        counts, total = self.latencies()["deliver"]
        assert counts == [3] + [0] * 10  # the first answered in the same turn
        assert total == 0.0

    @inline
    async def test_a_turns_calls_of_a_kind_are_observed_together(self) -> None:
        seen: list[tuple[str, float, int]] = []
        store = SQLiteStore(str(self.dir / "other.sqlite3"), reactor)
        store.time_calls(lambda *call: seen.append(call), self.clock.seconds)
        await store.start()
        self.addCleanup(store.stop)
        answers = [store.deliver(message(1, 2, f"m{n}"), 10) for n in range(5)]
        self.clock.advance(0.001)
        assert await gatherResults(answers) == [1, 2, 3, 4, 5]
        self.clock.advance(0.001)
        assert await store.deliver(message(1, 2, "next turn"), 10) == 6
        assert seen == [("deliver", 0.001, 5), ("deliver", 0.0, 1)]

    @inline
    async def test_a_failed_transaction_is_timed_too(self) -> None:
        await self.store.start()
        self.addCleanup(self.store.stop)
        answer: Deferred[None] = Deferred()
        self.store._writer.write(Write(failing, (), answer))
        delivering = self.timed.deliver(message(1, 2, "lost"), 10)
        self.clock.advance(0.0002)
        self.assertFailure(delivering, StoreError)
        await delivering
        self.assertFailure(answer, StoreError)
        await answer
        assert self.latencies() == {
            "deliver": ([0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0], 0.0002)
        }
