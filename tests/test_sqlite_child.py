"""The SQLite store's process: the frames it reads, the transactions it runs."""

from __future__ import annotations

import os
import shutil
import sqlite3
import tempfile
from pathlib import Path
from typing import Any

from twisted.trial.unittest import SynchronousTestCase

from menuchat.core.errors import NameTaken
from menuchat.store import sqlite_sql as sql
from menuchat.store.sqlite_child import Frames, frame, serve
from tests.test_sqlite import failing
from tests.test_store_contract import account


def opened_count(conn: sqlite3.Connection) -> int:
    """At start, in the store's process: how many accounts the file holds."""
    (count,) = conn.execute("SELECT count(*) FROM accounts").fetchone()
    return int(count)


def broken_load(conn: sqlite3.Connection) -> None:
    raise ValueError("cannot read this\nsecond line")


class ServeTests(SynchronousTestCase):
    """serve() run here, on pipes written in full beforehand: what a batch
    waiting in the pipe becomes, as the store's process would see it."""

    def setUp(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="menuchat-child-"))
        self.addCleanup(shutil.rmtree, self.dir, True)
        self.path = str(self.dir / "menuchat.sqlite3")

    def serve(self, *frames: Any, path: str | None = None) -> tuple[int, list[Any]]:
        """Run serve() on C{frames}, then the end of its input; its exit
        status and the values of the frames it answered."""
        inp_r, inp_w = os.pipe()
        out_r, out_w = os.pipe()
        for fd in (inp_r, out_r):
            self.addCleanup(os.close, fd)
        os.write(inp_w, b"".join(frame(f) for f in frames))
        os.close(inp_w)
        try:
            status = serve(path or self.path, inp_r, out_w)
        finally:
            os.close(out_w)
        data = b""
        while chunk := os.read(out_r, 1 << 16):
            data += chunk
        return status, Frames().feed(data)

    def test_batches_waiting_together_share_one_transaction(self) -> None:
        status, answers = self.serve(
            opened_count,
            ([(sql.reserve, (2,))], {}),
            ([(sql.reserve, (3,)), (sql.insert_account, (account(7, "Nina"),))], {}),
        )
        assert status == 0
        assert answers == [
            ("opened", 0),
            (2, [range(1, 3), range(3, 6), None]),
        ]

    def test_a_refusal_is_that_writes_answer_and_the_rest_commit(self) -> None:
        nina = (sql.insert_account, (account(7, "Nina"),))
        status, answers = self.serve(
            opened_count,
            ([nina, (sql.reserve, (1,))], {}),
            ([nina, (sql.reserve, (1,))], {}),
        )
        assert status == 0
        (count, outcome) = answers[1]
        assert count == 2
        assert outcome[:2] == [None, range(1, 2)]
        assert isinstance(outcome[2], NameTaken)
        assert outcome[3] == range(2, 3)
        status, answers = self.serve(opened_count)
        assert answers == [("opened", 1)]

    def test_a_failed_transaction_is_rolled_back_and_told_in_one_line(
        self,
    ) -> None:
        status, answers = self.serve(
            opened_count,
            ([(sql.insert_account, (account(7, "Nina"),)), (failing, ())], {}),
        )
        assert status == 0
        (count, reason) = answers[1]
        assert count == 1
        assert reason == f"{self.path}: OperationalError: no such table: no_such_table"
        _, answers = self.serve(opened_count)
        assert answers == [("opened", 0)]

    def test_late_deletes_run_after_the_writes_of_their_transaction(self) -> None:
        def mail_row(mail_id: int) -> tuple[Any, ...]:
            return (mail_id, 1, "ann", 2, "bob", f"m{mail_id}", 0.0)

        status, answers = self.serve(
            sql.load,
            ([(sql.insert_mails, ([*mail_row(1), *mail_row(2)],))], {}),
            ([], {sql.delete_mail_ids: [1]}),
            ([(sql.insert_mails, (list(mail_row(3)),))], {sql.delete_mail_ids: [3]}),
        )
        assert status == 0
        assert answers[1] == (3, [None, None])
        _, answers = self.serve(sql.load)
        loaded = answers[0][1]
        assert [mail_id for mail_id, _ in loaded.mail] == [2]

    def test_a_file_it_cannot_open_is_told_in_one_line(self) -> None:
        Path(self.path).write_bytes(b"not a database at all" * 100)
        status, answers = self.serve(opened_count, ([(sql.reserve, (1,))], {}))
        assert status == 1
        assert answers == [("failed", f"{self.path}: not an SQLite database")]

    def test_a_start_that_fails_is_told_in_one_line(self) -> None:
        status, answers = self.serve(broken_load)
        assert status == 1
        assert answers == [("failed", f"{self.path}: ValueError: cannot read this")]

    def test_no_input_opens_nothing(self) -> None:
        status, answers = self.serve()
        assert (status, answers) == (0, [])
        assert not os.path.exists(self.path)


class FramesTests(SynchronousTestCase):
    def test_a_frame_cut_anywhere_is_read_whole_once(self) -> None:
        data = frame(("first", [1, 2])) + frame("second")
        for cut in range(len(data) + 1):
            frames = Frames()
            assert frames.feed(data[:cut]) + frames.feed(data[cut:]) == [
                ("first", [1, 2]),
                "second",
            ]
