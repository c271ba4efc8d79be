"""What the SQLite store's process runs: reading the file at start, and
each kind of write, as module functions with their arguments (so a write
costs no closure), and the statements that write many rows at once.

Used by L{menuchat.store.sqlite}; the schema is in
L{menuchat.store.sqlite_schema}.
"""

from __future__ import annotations

import sqlite3
from typing import Any

import attrs

from menuchat.core.errors import NameTaken
from menuchat.core.events import HistoryLine, Message
from menuchat.store import Account, SavedRoom
from menuchat.store.sqlite_child import Run

__all__ = [
    "CALLS",
    "Loaded",
    "append_history",
    "delete_account",
    "delete_mail",
    "delete_mail_ids",
    "delete_room",
    "history",
    "insert_account",
    "insert_mails",
    "load",
    "reserve",
    "save_room",
    "saved_rooms",
    "set_password",
]

_MAIL_COLUMNS = "sender_id, sender_name, recipient_id, recipient_name, text, sent_at"
_ACCOUNT_COLUMNS = "user_id, name, key, password_hash, created_at"


@attrs.frozen
class Loaded:
    """What the file holds at start: accounts, mail, the last mail id."""

    accounts: list[Account]
    mail: list[tuple[int, Message]]
    last_mail_id: int


def load(conn: sqlite3.Connection) -> Loaded:
    """In the store's process, once the file is open: what it holds."""
    accounts = [
        Account(*row)
        for row in conn.execute(f"SELECT {_ACCOUNT_COLUMNS} FROM accounts")
    ]
    mail = [
        (row[0], Message(*row[1:]))
        for row in conn.execute(f"SELECT id, {_MAIL_COLUMNS} FROM mail ORDER BY id")
    ]
    row = conn.execute("SELECT seq FROM sqlite_sequence WHERE name = 'mail'").fetchone()
    last = max(int(row[0]) if row else 0, mail[-1][0] if mail else 0)
    return Loaded(accounts, mail, last)


def insert_mails(cursor: sqlite3.Cursor, values: list[Any]) -> None:
    """Insert messages: C{values} holds each row's values (its id, the
    sender's id and name, the recipient's id and name, the text, the time
    it was sent), one row after the other."""
    _in_pieces(cursor, _INSERTS, values, 7)


def delete_mail_ids(cursor: sqlite3.Cursor, ids: list[int]) -> None:
    """Delete the messages of these ids (rows the store already forgot)."""
    _in_pieces(cursor, _DELETES, ids, 1)


#: The most rows one statement inserts or deletes.
_MOST_ROWS = 64

#: The statements, by their number of rows, written once: one of the right
#: size for every batch up to L{_MOST_ROWS} rows, so a batch is one
#: statement, and each is prepared once (the connection keeps them all:
#: L{menuchat.store.sqlite_schema.STATEMENT_CACHE}).
_INSERTS = {
    size: f"INSERT INTO mail (id, {_MAIL_COLUMNS}) VALUES "
    + ", ".join(["(?, ?, ?, ?, ?, ?, ?)"] * size)
    for size in range(1, _MOST_ROWS + 1)
}
_DELETES = {
    size: "DELETE FROM mail WHERE id IN (" + ", ".join(["?"] * size) + ")"
    for size in range(1, _MOST_ROWS + 1)
}


def _in_pieces(
    cursor: sqlite3.Cursor,
    statements: dict[int, str],
    values: list[Any] | tuple[Any, ...],
    width: int,
) -> None:
    """Run C{statements} over C{values}, C{width} of them a row: one
    statement for every L{_MOST_ROWS} rows, and one for the rest.

    Each statement is a round through Python and SQLite's setup of its
    own: a batch is one statement, not one for each power of two in its
    size.
    """
    rows = len(values) // width
    if rows <= _MOST_ROWS:
        if rows:
            cursor.execute(statements[rows], values)
        return
    at = 0
    while rows:
        size = min(rows, _MOST_ROWS)
        end = at + size * width
        cursor.execute(statements[size], values[at:end])
        at = end
        rows -= size


def delete_mail(cursor: sqlite3.Cursor, user_id: int) -> None:
    cursor.execute("DELETE FROM mail WHERE recipient_id = ?", (user_id,))


def reserve(cursor: sqlite3.Cursor, count: int) -> range:
    (first,) = cursor.execute(
        "UPDATE sequence SET next = next + ? WHERE name = 'user_id' RETURNING next - ?",
        (count, count),
    ).fetchone()
    return range(first, first + count)


def insert_account(cursor: sqlite3.Cursor, account: Account) -> None:
    try:
        cursor.execute(
            f"INSERT INTO accounts ({_ACCOUNT_COLUMNS}) VALUES (?, ?, ?, ?, ?)",
            attrs.astuple(account),
        )
    except sqlite3.IntegrityError:
        # The statement changed nothing; the transaction goes on.
        raise NameTaken(account.name) from None


def set_password(cursor: sqlite3.Cursor, user_id: int, password_hash: str) -> None:
    cursor.execute(
        "UPDATE accounts SET password_hash = ? WHERE user_id = ?",
        (password_hash, user_id),
    )


def delete_account(cursor: sqlite3.Cursor, user_id: int) -> None:
    cursor.execute("DELETE FROM accounts WHERE user_id = ?", (user_id,))
    cursor.execute("DELETE FROM mail WHERE recipient_id = ?", (user_id,))


def save_room(cursor: sqlite3.Cursor, room: SavedRoom) -> None:
    cursor.execute(
        "INSERT OR REPLACE INTO rooms"
        " (key, room_id, owner_id, owner_name, topic, created_at)"
        " VALUES (?, ?, ?, ?, ?, ?)",
        attrs.astuple(room),
    )


def delete_room(cursor: sqlite3.Cursor, key: str) -> None:
    cursor.execute("DELETE FROM rooms WHERE key = ?", (key,))
    cursor.execute("DELETE FROM history WHERE room_key = ?", (key,))


def saved_rooms(cursor: sqlite3.Cursor) -> list[SavedRoom]:
    rows = cursor.execute(
        "SELECT key, room_id, owner_id, owner_name, topic, created_at"
        " FROM rooms ORDER BY created_at, key"
    ).fetchall()
    return [SavedRoom(*row) for row in rows]


def append_history(
    cursor: sqlite3.Cursor, key: str, line: HistoryLine, keep: int
) -> None:
    cursor.execute(
        "INSERT INTO history (room_key, speaker, text, said_at) VALUES (?, ?, ?, ?)",
        (key, line.speaker, line.text, line.said_at),
    )
    # Keep the last `keep` lines: drop those at or before the line `keep`
    # places from the end.
    cursor.execute(
        "DELETE FROM history WHERE room_key = ? AND id <= ("
        " SELECT id FROM history WHERE room_key = ?"
        " ORDER BY id DESC LIMIT 1 OFFSET ?)",
        (key, key, keep),
    )


def history(cursor: sqlite3.Cursor, key: str, count: int) -> list[HistoryLine]:
    rows = cursor.execute(
        "SELECT speaker, text, said_at FROM history WHERE room_key = ?"
        " ORDER BY id DESC LIMIT ?",
        (key, count),
    ).fetchall()
    return [HistoryLine(*row) for row in reversed(rows)]


#: The store call each kind of write answers, for its timing.
CALLS: dict[Run, str] = {
    reserve: "reserve_ids",
    insert_mails: "deliver",
    delete_mail: "drop_mail",
    insert_account: "create_account",
    set_password: "set_password",
    delete_account: "delete_account",
    save_room: "save_room",
    delete_room: "delete_room",
    saved_rooms: "saved_rooms",
    append_history: "append_history",
    history: "history",
}
