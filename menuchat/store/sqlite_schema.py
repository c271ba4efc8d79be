"""The SQLite file's schema: its migrations, and the checks a file must pass.

A file belongs to menuchat when its C{application_id} is L{APPLICATION_ID};
its C{user_version} is the schema version, brought up to L{SCHEMA_VERSION}
by L{open_database}. An empty or missing file is made into a new database.
A file that is not an SQLite database, an SQLite database of another
program (any other application_id, or tables without menuchat's id), one
from a newer menuchat, a missing or read-only directory: L{StoreError}
with a one-line reason, and the file is left as it was. L{check} tells the
same without writing anything, before the reactor runs.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable

from menuchat.store import StoreError

__all__ = [
    "APPLICATION_ID",
    "MEMORY",
    "SCHEMA_VERSION",
    "StoreError",
    "check",
    "open_database",
]

#: C{PRAGMA application_id} of a menuchat database: "mcht".
APPLICATION_ID = 0x6D636874
MEMORY = ":memory:"

#: How many prepared statements the store's connection keeps (C{sqlite3}'s
#: C{cached_statements}, 128 by default): the mail statements of every
#: size (L{menuchat.store.sqlite_sql}) and the others, with room to spare.
STATEMENT_CACHE = 256
_HEADER = b"SQLite format 3\x00"


def _migrate_to_1(cursor: sqlite3.Cursor) -> None:
    cursor.execute(f"PRAGMA application_id = {APPLICATION_ID}")
    cursor.execute(
        "CREATE TABLE sequence (name TEXT PRIMARY KEY, next INTEGER NOT NULL)"
    )
    cursor.execute("INSERT INTO sequence VALUES ('user_id', 1)")
    cursor.execute(
        "CREATE TABLE accounts ("
        " user_id INTEGER PRIMARY KEY,"
        " name TEXT NOT NULL,"
        " key TEXT NOT NULL UNIQUE,"
        " password_hash TEXT NOT NULL,"
        " created_at REAL NOT NULL)"
    )
    cursor.execute(
        "CREATE TABLE mail ("
        " id INTEGER PRIMARY KEY AUTOINCREMENT,"
        " recipient_id INTEGER NOT NULL,"
        " recipient_name TEXT NOT NULL,"
        " sender_id INTEGER NOT NULL,"
        " sender_name TEXT NOT NULL,"
        " text TEXT NOT NULL,"
        " sent_at REAL NOT NULL)"
    )
    cursor.execute("CREATE INDEX mail_by_recipient ON mail (recipient_id, id)")


def _migrate_to_2(cursor: sqlite3.Cursor) -> None:
    """Kept rooms and their history."""
    cursor.execute(
        "CREATE TABLE rooms ("
        " key TEXT PRIMARY KEY,"
        " room_id TEXT NOT NULL,"
        " owner_id INTEGER NOT NULL,"
        " owner_name TEXT NOT NULL,"
        " topic TEXT NOT NULL,"
        " created_at REAL NOT NULL)"
    )
    cursor.execute(
        "CREATE TABLE history ("
        " id INTEGER PRIMARY KEY AUTOINCREMENT,"
        " room_key TEXT NOT NULL,"
        " speaker TEXT NOT NULL,"
        " text TEXT NOT NULL,"
        " said_at REAL NOT NULL)"
    )
    cursor.execute("CREATE INDEX history_by_room ON history (room_key, id)")


#: MIGRATIONS[n] takes a database from schema version n to n + 1.
MIGRATIONS: list[Callable[[sqlite3.Cursor], None]] = [_migrate_to_1, _migrate_to_2]
SCHEMA_VERSION = len(MIGRATIONS)


def _check_place(path: str) -> None:
    """Refuse a path whose directory is missing or read-only, or that is
    not an SQLite file; reads at most the file's first bytes."""
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise StoreError(f"{path}: directory {directory} does not exist")
    if not os.access(directory, os.W_OK | os.X_OK):
        raise StoreError(f"{path}: directory {directory} is not writable")
    if os.path.isdir(path):
        raise StoreError(f"{path}: is a directory")
    if not os.path.exists(path):
        return
    if not os.access(path, os.R_OK | os.W_OK):
        raise StoreError(f"{path}: not readable and writable")
    try:
        with open(path, "rb") as f:
            header = f.read(len(_HEADER))
    except OSError as e:
        raise StoreError(f"{path}: {e.strerror}") from e
    if header and header != _HEADER:
        raise StoreError(f"{path}: not an SQLite database")


def _check_schema(path: str, cursor: sqlite3.Cursor) -> int:
    """The schema version of an open database; L{StoreError} if it is not
    menuchat's or is newer than this code. Reads only."""
    try:
        (app_id,) = cursor.execute("PRAGMA application_id").fetchone()
        (version,) = cursor.execute("PRAGMA user_version").fetchone()
        (tables,) = cursor.execute(
            "SELECT count(*) FROM sqlite_master WHERE name NOT LIKE 'sqlite_%'"
        ).fetchone()
    except sqlite3.DatabaseError as e:
        raise StoreError(f"{path}: not a usable SQLite database ({e})") from e
    if app_id == 0 and version == 0 and tables == 0:
        return 0
    if app_id != APPLICATION_ID:
        raise StoreError(f"{path}: not a menuchat database")
    if version > SCHEMA_VERSION:
        raise StoreError(
            f"{path}: made by a newer menuchat (schema {version}; "
            f"this one knows up to {SCHEMA_VERSION})"
        )
    return int(version)


def check(path: str) -> None:
    """Raise L{StoreError} if the store at C{path} could not be opened.

    Synchronous and read-only: it creates no file and changes none, so a
    command line can be checked before the reactor runs.
    """
    if path == MEMORY:
        return
    _check_place(path)
    if not os.path.exists(path) or os.path.getsize(path) == 0:
        return
    try:
        conn = sqlite3.connect(f"file:{os.path.abspath(path)}?mode=ro", uri=True)
    except sqlite3.Error as e:
        raise StoreError(f"{path}: cannot open ({e})") from e
    try:
        _check_schema(path, conn.cursor())
    finally:
        conn.close()


def open_database(path: str) -> sqlite3.Connection:
    """Open, check and migrate the database at C{path}, in the store's process."""
    if path != MEMORY:
        _check_place(path)
    try:
        conn = sqlite3.connect(
            path,
            isolation_level=None,
            cached_statements=STATEMENT_CACHE,
        )
    except sqlite3.Error as e:
        raise StoreError(f"{path}: cannot open ({e})") from e
    try:
        cursor = conn.cursor()
        version = _check_schema(path, cursor)
        if path != MEMORY:
            (mode,) = cursor.execute("PRAGMA journal_mode = WAL").fetchone()
            if mode != "wal":
                raise StoreError(f"{path}: cannot use WAL mode (got {mode})")
        cursor.execute("PRAGMA synchronous = NORMAL")
        for step in range(version, SCHEMA_VERSION):
            cursor.execute("BEGIN IMMEDIATE")
            try:
                MIGRATIONS[step](cursor)
                cursor.execute(f"PRAGMA user_version = {step + 1}")
            except BaseException:
                cursor.execute("ROLLBACK")
                raise
            cursor.execute("COMMIT")
    except sqlite3.Error as e:
        conn.close()
        raise StoreError(f"{path}: {e}") from e
    except BaseException:
        conn.close()
        raise
    return conn
