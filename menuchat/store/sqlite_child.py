"""The SQLite store's own process: it owns the file and runs every write.

L{menuchat.store.sqlite_process.StoreProcess} starts it as C{python -m
menuchat.store.sqlite_child PATH}. Its standard input and output carry
frames, each a 4-byte length and a pickle (both ends are this program):

  - in: first the function that reads the file at start, then batches,
    each C{(writes, later)}: C{writes} a list of C{(run, args)} and
    C{later} the late deletes, C{{run: values}} (see L{transaction});
  - out: first C{("opened", loaded)} or C{("failed", message)}; then one
    C{(batches, outcome)} a transaction: how many batches it ran, and each
    write's result in order (a refusal as its L{ChatError}), or the one-line
    message of a transaction that failed and was rolled back.

Every batch waiting when a transaction starts joins it: while one commits,
the next ones queue in the pipe and share the next commit. At the end of
its input it closes the file and exits. It ignores the signals that stop a
server (a terminal's Ctrl-C reaches its whole process group): it ends when
the server does, once the server has handed over its last writes.
"""

from __future__ import annotations

import os
import pickle
import select
import signal
import sqlite3
import struct
import sys
from collections.abc import Callable
from typing import Any

from menuchat.core.errors import ChatError
from menuchat.store.sqlite_schema import StoreError, open_database

__all__ = ["HEADER", "Frames", "frame", "main", "reopened", "serve", "transaction"]

#: A frame's length, before its pickle.
HEADER = struct.Struct("!I")

#: The most bytes one read takes from the pipe.
_READ_SIZE = 1 << 20


def frame(value: Any) -> bytes:
    """C{value} as one frame."""
    data = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
    return HEADER.pack(len(data)) + data


class Frames:
    """Frames from a stream of bytes, however it is cut."""

    def __init__(self) -> None:
        self._buffer = bytearray()

    def feed(self, data: bytes) -> list[Any]:
        """Add C{data}; return the values of the frames it completes."""
        buffer = self._buffer
        buffer += data
        found = []
        at = 0
        size = HEADER.size
        while len(buffer) - at >= size:
            (length,) = HEADER.unpack_from(buffer, at)
            end = at + size + length
            if len(buffer) < end:
                break
            found.append(pickle.loads(buffer[at + size : end]))
            at = end
        del buffer[:at]
        return found


class _Input:
    """The frames read from a file descriptor: all that wait, at once."""

    def __init__(self, fd: int) -> None:
        self._fd = fd
        self._frames = Frames()
        self._open = True
        os.set_blocking(fd, False)

    def next(self) -> list[Any]:
        """Every complete frame there is to read, waiting for one if there
        is none yet; empty at the end of the input."""
        while True:
            found = self._read_all()
            if found or not self._open:
                return found
            select.select([self._fd], [], [])

    def _read_all(self) -> list[Any]:
        found: list[Any] = []
        while self._open:
            try:
                data = os.read(self._fd, _READ_SIZE)
            except BlockingIOError:
                break
            if not data:
                self._open = False
                break
            found += self._frames.feed(data)
        return found


def reopened(conn: sqlite3.Connection) -> None:
    """What the store's process reads at start when it is started again:
    nothing (the server holds what the file holds)."""


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


#: A write for the store's process: what it runs, given a cursor and C{args}.
Run = Callable[..., Any]


def transaction(
    conn: sqlite3.Connection,
    writes: list[tuple[Run, tuple[Any, ...]]],
    later: dict[Run, list[Any]],
) -> list[Any]:
    """Every write, then the late deletes, then one commit.

    A refusal (a L{ChatError}, raised by a write before it changes
    anything) is that write's result; any other error rolls the whole
    transaction back and is raised.
    """
    cursor = conn.cursor()
    cursor.execute("BEGIN IMMEDIATE")
    try:
        results: list[Any] = []
        append = results.append
        for run, args in writes:
            try:
                append(run(cursor, *args))
            except ChatError as refusal:
                append(refusal)
        for run, values in later.items():
            run(cursor, values)
        cursor.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.rollback()
        raise
    return results


def _message(path: str, error: BaseException) -> str:
    """A one-line reason for C{error}, naming the file."""
    if isinstance(error, StoreError):
        return str(error)  # it names the file already
    lines = f"{type(error).__name__}: {error}".splitlines()
    return f"{path}: {lines[0] if lines else ''}"


def serve(path: str, inp: int, out: int) -> int:
    """Open C{path} and run the batches read from C{inp}, answering on
    C{out}, until C{inp} ends; the exit status."""
    source = _Input(inp)
    first = source.next()
    if not first:
        return 0
    load, waiting = first[0], first[1:]
    try:
        conn = open_database(path)
    except Exception as e:
        _write_all(out, frame(("failed", _message(path, e))))
        return 1
    try:
        loaded = load(conn)
    except Exception as e:
        conn.close()
        _write_all(out, frame(("failed", _message(path, e))))
        return 1
    _write_all(out, frame(("opened", loaded)))
    del loaded  # the server keeps it: not a second copy here for its life
    while True:
        jobs = waiting or source.next()
        waiting = []
        if not jobs:
            break
        writes: list[tuple[Run, tuple[Any, ...]]] = []
        later: dict[Run, list[Any]] = {}
        for job_writes, job_later in jobs:
            writes += job_writes
            for run, values in job_later.items():
                if run in later:
                    later[run] += values
                else:
                    later[run] = values
        outcome: list[Any] | str
        try:
            outcome = transaction(conn, writes, later)
        except Exception as e:
            outcome = _message(path, e)
        _write_all(out, frame((len(jobs), outcome)))
    conn.close()
    return 0


def main(argv: list[str]) -> int:
    for name in ("SIGINT", "SIGTERM", "SIGHUP"):
        signal.signal(getattr(signal, name), signal.SIG_IGN)
    # Frames go out on a descriptor of their own: anything printed goes to
    # the standard error, never into a frame.
    out = os.dup(1)
    os.dup2(2, 1)
    return serve(argv[1], 0, out)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
