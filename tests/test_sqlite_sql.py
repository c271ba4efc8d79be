"""Tests for menuchat.store.sqlite_sql: what the SQLite store's thread runs,
on a database of the current schema in memory."""

from __future__ import annotations

import sqlite3
from unittest import SkipTest

from twisted.trial.unittest import SynchronousTestCase

from menuchat.core.errors import NameTaken
from menuchat.core.events import HistoryLine, Message
from menuchat.store import Account, SavedRoom
from menuchat.store import sqlite_sql as sql
from menuchat.store.sqlite_schema import MEMORY, STATEMENT_CACHE, open_database


def mail_row(mail_id: int, text: str, recipient: int = 2) -> tuple[object, ...]:
    return (mail_id, 1, "Nina", recipient, "Jose", text, 1000.0 + mail_id)


class StatementTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.conn = open_database(MEMORY)
        self.addCleanup(self.conn.close)
        self.cursor = self.conn.cursor()

    def statements(self) -> list[str]:
        """The statements run on the connection from now on, as run."""
        run: list[str] = []
        self.conn.set_trace_callback(run.append)
        self.addCleanup(self.conn.set_trace_callback, None)
        return run

    def mail_ids(self) -> list[int]:
        return [row[0] for row in self.conn.execute("SELECT id FROM mail ORDER BY id")]

    def test_a_new_file_holds_nothing(self) -> None:
        loaded = sql.load(self.conn)
        self.assertEqual(
            (loaded.accounts, loaded.mail, loaded.last_mail_id), ([], [], 0)
        )

    def test_mail_inserted_one_and_many_at_a_time_is_loaded_in_order(self) -> None:
        sql.insert_mails(self.cursor, [*mail_row(1, "one")])
        run = self.statements()
        # 101 rows: a statement of 64, then one of 37.
        rows = [mail_row(i, f"m{i}") for i in range(2, 103)]
        sql.insert_mails(self.cursor, [v for row in rows for v in row])
        self.assertEqual([statement.count("), (") + 1 for statement in run], [64, 37])
        loaded = sql.load(self.conn)
        self.assertEqual([mail_id for mail_id, _ in loaded.mail], list(range(1, 103)))
        self.assertEqual(
            loaded.mail[0][1], Message(1, "Nina", 2, "Jose", "one", 1001.0)
        )
        self.assertEqual(loaded.mail[-1][1].text, "m102")
        self.assertEqual(loaded.last_mail_id, 102)

    def test_mail_deleted_by_id_one_and_many_at_a_time(self) -> None:
        rows = [mail_row(i, "x") for i in range(1, 81)]
        sql.insert_mails(self.cursor, [v for row in rows for v in row])
        sql.delete_mail_ids(self.cursor, [1, 2])
        run = self.statements()
        # Runs of ids from several takes, 77 in all: 64, then 13.
        sql.delete_mail_ids(self.cursor, [*range(3, 40), *range(40, 80)])
        self.assertEqual([statement.count(",") + 1 for statement in run], [64, 13])
        self.assertEqual(self.mail_ids(), [80])

    def test_a_batch_of_any_size_is_one_statement_up_to_the_most_rows(self) -> None:
        run = self.statements()
        for size in (1, 2, 3, 15, 63, 64):
            start = len(run)
            first = 1000 * size
            rows = [mail_row(first + i, "x") for i in range(size)]
            sql.insert_mails(self.cursor, [v for row in rows for v in row])
            sql.delete_mail_ids(self.cursor, [row[0] for row in rows])
            self.assertEqual(len(run) - start, 2, size)
        self.assertEqual(self.mail_ids(), [])

    def test_the_connection_keeps_every_mail_statement_prepared(self) -> None:
        try:
            self.conn.execute("SELECT count(*) FROM sqlite_stmt")
        except sqlite3.OperationalError:
            raise SkipTest("this SQLite has no sqlite_stmt table") from None
        for size in range(1, 65):
            rows = [mail_row(i, "x") for i in range(1, size + 1)]
            sql.insert_mails(self.cursor, [v for row in rows for v in row])
            sql.delete_mail_ids(self.cursor, [row[0] for row in rows])
        sql.load(self.conn)
        # Every size of insert and delete is still prepared, the rest beside.
        (kept,) = self.conn.execute(
            "SELECT count(*) FROM sqlite_stmt WHERE sql LIKE 'INSERT INTO mail%'"
            " OR sql LIKE 'DELETE FROM mail WHERE id IN%'"
        ).fetchone()
        self.assertEqual(kept, 128)
        self.assertGreater(STATEMENT_CACHE, 128)

    def test_the_last_mail_id_outlives_the_mail(self) -> None:
        sql.insert_mails(self.cursor, [*mail_row(7, "gone")])
        sql.delete_mail_ids(self.cursor, [7])
        self.assertEqual(sql.load(self.conn).last_mail_id, 7)  # never reused

    def test_a_recipients_mail_is_dropped_and_no_one_elses(self) -> None:
        sql.insert_mails(self.cursor, [*mail_row(1, "to jose", recipient=2)])
        sql.insert_mails(self.cursor, [*mail_row(2, "to kim", recipient=3)])
        sql.delete_mail(self.cursor, 2)
        self.assertEqual(self.mail_ids(), [2])

    def test_ids_are_reserved_in_blocks_that_never_overlap(self) -> None:
        first = sql.reserve(self.cursor, 1000)
        second = sql.reserve(self.cursor, 10)
        self.assertEqual(len(first), 1000)
        self.assertEqual(second.start, first.stop)
        self.assertEqual(len(second), 10)

    def test_accounts_are_created_changed_and_deleted_with_their_mail(self) -> None:
        nina = Account(5, "Nina", "nina", "hash1", 1.0)
        sql.insert_account(self.cursor, nina)
        with self.assertRaises(NameTaken):
            sql.insert_account(self.cursor, Account(6, "NINA", "nina", "h", 2.0))
        sql.set_password(self.cursor, 5, "hash2")
        self.assertEqual(
            sql.load(self.conn).accounts, [Account(5, "Nina", "nina", "hash2", 1.0)]
        )
        sql.insert_mails(self.cursor, [*mail_row(1, "for nina", recipient=5)])
        sql.insert_mails(self.cursor, [*mail_row(2, "for jose", recipient=2)])
        sql.delete_account(self.cursor, 5)
        self.assertEqual(sql.load(self.conn).accounts, [])
        self.assertEqual(self.mail_ids(), [2])

    def test_rooms_are_saved_replaced_and_deleted_with_their_history(self) -> None:
        den = SavedRoom("den", "Den", 5, "Nina", "", 2.0)
        sql.save_room(self.cursor, SavedRoom("attic", "Attic", 5, "Nina", "", 1.0))
        sql.save_room(self.cursor, den)
        sql.save_room(self.cursor, SavedRoom("den", "Den", 6, "Jose", "news", 2.0))
        self.assertEqual(
            [(r.key, r.owner_name, r.topic) for r in sql.saved_rooms(self.cursor)],
            [("attic", "Nina", ""), ("den", "Jose", "news")],
        )
        sql.append_history(self.cursor, "den", HistoryLine("Nina", "hi", 3.0), 10)
        sql.delete_room(self.cursor, "den")
        self.assertEqual([r.key for r in sql.saved_rooms(self.cursor)], ["attic"])
        self.assertEqual(sql.history(self.cursor, "den", 10), [])

    def test_history_keeps_the_last_lines_of_each_room(self) -> None:
        for i in range(6):
            line = HistoryLine("Nina", f"line {i}", float(i))
            sql.append_history(self.cursor, "den", line, 4)
        sql.append_history(self.cursor, "attic", HistoryLine("Jose", "up", 9.0), 4)
        self.assertEqual(
            [line.text for line in sql.history(self.cursor, "den", 10)],
            ["line 2", "line 3", "line 4", "line 5"],
        )
        self.assertEqual(
            [line.text for line in sql.history(self.cursor, "den", 2)],
            ["line 4", "line 5"],
        )
        self.assertEqual(
            sql.history(self.cursor, "attic", 10), [HistoryLine("Jose", "up", 9.0)]
        )

    def test_every_write_names_the_store_call_it_answers(self) -> None:
        self.assertEqual(sql.CALLS[sql.insert_mails], "deliver")
        self.assertEqual(sql.CALLS[sql.reserve], "reserve_ids")
        self.assertNotIn(sql.delete_mail_ids, sql.CALLS)  # a take's late delete
