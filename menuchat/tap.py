"""The twistd plugin: command-line options and the service they build.

``twistd -n menuchat`` listens on tcp:12000; ``--port`` takes any Twisted
server endpoint description and may be given more than once. What lasts is
kept in the SQLite file ``--db`` (menuchat.sqlite3 in the working directory);
``--db :memory:`` keeps nothing.
"""

from __future__ import annotations

import math

import attrs
from twisted.application.service import IService
from twisted.internet.endpoints import serverFromString
from twisted.python import usage

from menuchat.config import Limits
from menuchat.service import ChatService
from menuchat.store import Store
from menuchat.store.memory import MemoryStore
from menuchat.store.sqlite import MEMORY, SQLiteStore, StoreError, check

__all__ = ["Options", "makeService", "make_store", "with_backlog"]

DEFAULT_PORT = "tcp:12000"
DEFAULT_DB = "menuchat.sqlite3"

# Twisted listens with a backlog of 50; a login storm of hundreds overflows
# it, and a connection whose handshake the kernel then drops hangs. TCP ports
# get a deep queue (Linux caps it at net.core.somaxconn) unless their
# description sets backlog= itself.
DEFAULT_BACKLOG = 4096
_DEFAULTS = Limits()


def _count(text: str) -> int:
    """A whole number of at least 1."""
    value = int(text)
    if value < 1:
        raise ValueError(f"must be at least 1, not {value}")
    return value


def _non_negative(text: str) -> float:
    """A finite number, 0 or more."""
    value = float(text)
    if not (math.isfinite(value) and value >= 0):
        raise ValueError(f"must be a number, 0 or more, not {text}")
    return value


_count.coerceDoc = "At least 1."  # type: ignore[attr-defined]
_non_negative.coerceDoc = "0 or more."  # type: ignore[attr-defined]


class Options(usage.Options):
    """Options of ``twistd menuchat``; every limit of the server is one."""

    synopsis = "[--port ENDPOINT ...] [--db PATH] [limits]"
    longdesc = (
        "A menu-driven chat server for telnet, nc and the menuchat client. "
        f"Listens on {DEFAULT_PORT} unless --port is given; --port takes any "
        "Twisted server endpoint (tcp:5000:interface=127.0.0.1, "
        "ssl:6697:privateKey=key.pem:certKey=cert.pem, unix:/path) and may be "
        "repeated to listen on several. TCP ports listen with a backlog of "
        f"{DEFAULT_BACKLOG} unless the description sets backlog=."
    )

    optParameters = [
        ["db", None, DEFAULT_DB,
         "SQLite file for ids, accounts and mail, created if missing "
         f"({MEMORY}: keep nothing, in memory)."],
        ["max-line-length", None, _DEFAULTS.max_line_length,
         "Longest line in bytes; longer ones are discarded with an error.", _count],
        ["line-rate", None, _DEFAULTS.line_rate,
         "Lines a second a connection may send before its reading is paused "
         "(0: no limit).", _non_negative],
        ["line-burst", None, _DEFAULTS.line_burst,
         "Lines a connection may send at once before the rate applies.", _count],
        ["max-output", None, _DEFAULTS.max_output,
         "Bytes of unsent output a connection may have before it is dropped "
         "as a slow reader.", _count],
        ["login-timeout", None, _DEFAULTS.login_timeout,
         "Seconds to give a name before the connection is closed (0: never).",
         _non_negative],
        ["idle-timeout", None, _DEFAULTS.idle_timeout,
         "Seconds without a line before a logged-in user is disconnected "
         "(0: never).", _non_negative],
        ["close-timeout", None, _DEFAULTS.close_timeout,
         "Seconds a closing connection (goodbye, timeout, shutdown) may take "
         "to read what it was sent before it is cut off (0: no limit).",
         _non_negative],
        ["max-clients", None, _DEFAULTS.max_clients,
         "Connections the server holds at once.", _count],
        ["max-per-address", None, _DEFAULTS.max_per_address,
         "Connections from one IP address at once.", _count],
        ["max-rooms", None, _DEFAULTS.max_rooms,
         "Chat rooms open at once.", _count],
        ["max-room-members", None, _DEFAULTS.max_room_members,
         "Members of one chat room, its owner included.", _count],
        ["mailbox-size", None, _DEFAULTS.mailbox_size,
         "Unread messages a mailbox holds; a sender to a full one is told.",
         _count],
    ]  # fmt: skip

    def __init__(self) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self["ports"] = []

    def opt_port(self, description: str) -> None:
        """Listen on this endpoint (default tcp:12000); repeat for several."""
        self["ports"].append(description)

    opt_p = opt_port

    def postOptions(self) -> None:
        try:
            self._check()
        except usage.UsageError:
            self.refused = True
            raise

    def getUsage(self, width: int | None = None) -> str:
        """The full help; only the synopsis after a refused command line,
        which twistd prints above the one line saying what is wrong."""
        if getattr(self, "refused", False):
            return f"       menuchat {self.synopsis} (--help: every option)"
        return super().getUsage(width)

    def _check(self) -> None:
        if not self["ports"]:
            self["ports"] = [DEFAULT_PORT]
        from twisted.internet import reactor

        for description in self["ports"]:
            try:
                serverFromString(reactor, with_backlog(description))
            except Exception as e:
                raise usage.UsageError(f"--port {description}: {e}") from e
        try:
            check(self["db"])
        except StoreError as e:
            raise usage.UsageError(f"--db {e}") from e

    def limits(self) -> Limits:
        """The server's limits as given on the command line."""
        return Limits(
            **{
                field.name: self[field.name.replace("_", "-")]
                for field in attrs.fields(Limits)
            }
        )


def with_backlog(description: str) -> str:
    """C{description} with a deep backlog added to a TCP port lacking one."""
    kind = description.split(":", 1)[0].lower()
    if kind in ("tcp", "tcp6") and "backlog=" not in description:
        return f"{description}:backlog={DEFAULT_BACKLOG}"
    return description


def make_store(path: str, reactor: object) -> Store:
    """The store of C{--db path}.

    C{:memory:} is the memory store: it keeps nothing either way, and
    answers without a trip through the SQLite thread.
    """
    if path == MEMORY:
        return MemoryStore()
    return SQLiteStore(path, reactor)


def makeService(options: Options) -> IService:
    """The server: one hub, listening on every ``--port``."""
    from twisted.internet import reactor

    return ChatService(
        make_store(options["db"], reactor),
        reactor,
        options.limits(),
        [with_backlog(description) for description in options["ports"]],
    )
