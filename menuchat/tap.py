"""The twistd plugin: command-line options and the service they build.

``twistd -n menuchat`` listens on tcp:12000; ``--port`` takes any Twisted
server endpoint description and may be given more than once.
"""

from __future__ import annotations

import math
import os
import socket
import sys
from collections.abc import Callable, Sequence
from typing import NoReturn

import attrs
from twisted.application.service import IService
from twisted.internet.endpoints import serverFromString
from twisted.python import usage

from menuchat.config import Limits
from menuchat.frontends.irc.base import Gateway
from menuchat.net.listening import (
    DEFAULT_BACKLOG,
    CannotListen,
    endpoint_problem,
    with_backlog,
)
from menuchat.service import ChatService
from menuchat.store import Store
from menuchat.store.memory import MemoryStore
from menuchat.store.redis import RedisStore, parse_redis_url
from menuchat.store.redis_cluster import RedisCluster
from menuchat.store.sqlite import MEMORY, SQLiteStore, StoreError, check

__all__ = ["Options", "makeService", "make_store", "with_backlog"]

DEFAULT_PORT = "tcp:12000"
PASSWORD_TRANSPORTS = ("tls", "any")
DEFAULT_DB = "menuchat.sqlite3"
DEFAULT_NODE_TTL = 10.0

_DEFAULTS = Limits()


def _count(text: str) -> int:
    """A whole number of at least 1."""
    try:
        value = int(text)
    except ValueError:
        raise ValueError(f"must be a whole number, not {text!r}") from None
    if value < 1:
        raise ValueError(f"must be at least 1, not {value}")
    return value


def _node_ttl(text: str) -> float:
    """A finite number of seconds, more than 0."""
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"must be a number, not {text!r}") from None
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"must be a number of seconds above 0, not {text}")
    return value


def _non_negative(text: str) -> float:
    """A finite number, 0 or more."""
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"must be a number, not {text!r}") from None
    if not (math.isfinite(value) and value >= 0):
        raise ValueError(f"must be a number, 0 or more, not {text}")
    return value


def _whole(text: str) -> int:
    """A whole number, 0 or more."""
    try:
        value = int(text)
    except ValueError:
        raise ValueError(f"must be a whole number, not {text!r}") from None
    if value < 0:
        raise ValueError(f"must be 0 or more, not {value}")
    return value


def _limit(
    name: str, description: str, convert: Callable[[str], float]
) -> list[object]:
    """An optParameters row for the limit C{name}: converted in postOptions,
    where a bad value's error can name the option."""
    default = getattr(_DEFAULTS, name.replace("-", "_"))
    rule = "At least 1." if convert is _count else "0 or more."
    _CONVERTERS[name] = convert
    return [name, None, default, f"{description} {rule}"]


_CONVERTERS: dict[str, Callable[[str], float]] = {}


class Options(usage.Options):
    """Options of ``twistd menuchat``; every limit of the server is one."""

    synopsis = "[--port ENDPOINT ...] [limits]"
    longdesc = (
        "A menu-driven chat server for telnet, nc and the menuchat client. "
        f"Listens on {DEFAULT_PORT} unless --port is given; --port takes any "
        "Twisted server endpoint (tcp:5000:interface=127.0.0.1, "
        "ssl:6697:privateKey=key.pem:certKey=cert.pem, unix:/path) and may be "
        "repeated to listen on several. TCP ports listen with a backlog of "
        f"{DEFAULT_BACKLOG} unless the description sets backlog=. SIGHUP "
        "reloads the key and certificate of every ssl: port."
    )

    optParameters = [
        ["db", None, DEFAULT_DB,
         "SQLite file for ids, accounts, mail and kept rooms, created if "
         f"missing ({MEMORY}: keep nothing, in memory)."],
        ["redis", None, None,
         "Keep ids, accounts, mail and kept rooms in this Redis instead of "
         "--db, and act as one server with every process using it: "
         "redis://[[USER]:PASSWORD@]HOST[:PORT][/DB], or rediss://... for TLS "
         "(?ca=PEMFILE to trust a private authority)."],
        ["node", None, None,
         "This process's name among those sharing the Redis (default: "
         "HOST:PID)."],
        ["node-ttl", None, DEFAULT_NODE_TTL,
         "Seconds after which the other processes take a silent one for dead "
         "and drop its users (with --redis; more than 0)."],
        _limit("max-line-length",
         "Longest line in bytes; longer ones are discarded with an error.", _count),
        _limit("line-rate",
         "Lines a second a connection may send before its reading is paused "
         "(0: no limit).", _non_negative),
        _limit("line-burst",
         "Lines a connection may send at once before the rate applies.", _count),
        _limit("max-output",
         "Bytes of unsent output a connection may have before it is dropped "
         "as a slow reader.", _count),
        _limit("login-timeout",
         "Seconds to give a name before the connection is closed (0: never).",
         _non_negative),
        _limit("idle-timeout",
         "Seconds without a line before a logged-in user is disconnected "
         "(0: never).", _non_negative),
        _limit("close-timeout",
         "Seconds a closing connection (goodbye, timeout, shutdown) may take "
         "to read what it was sent before it is cut off (0: no limit).",
         _non_negative),
        _limit("max-clients",
         "Connections the server holds at once.", _count),
        _limit("max-per-address",
         "Connections from one IP address at once.", _count),
        _limit("max-rooms",
         "Chat rooms open at once.", _count),
        _limit("max-room-members",
         "Members of one chat room, its owner included.", _count),
        _limit("mailbox-size",
         "Unread messages a mailbox holds; a sender to a full one is told.",
         _count),
        _limit("room-history",
         "Lines of a room shown, with their time, to those who join (0: none).",
         _whole),
        ["irc-name", None, "menuchat",
         "The IRC gateway's server name, the source of its replies."],
        ["irc-ping-interval", None, 120.0,
         "Seconds of silence before the IRC gateway pings a client, and then "
         "before it closes the connection (0: never).", _non_negative],
        ["password-transport", None, "any",
         "Where registered users may type their password: 'tls' (only over "
         "TLS, or from loopback and UNIX sockets) or 'any' (also on plain "
         "ports, logged as a warning at start)."],
    ]  # fmt: skip

    def __init__(self) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self["ports"] = []
        self["metrics"] = None
        self["operators"] = []
        self["irc_ports"] = []

    def opt_irc_port(self, description: str) -> None:
        """Listen for IRC clients on this endpoint (default: off), e.g.
        tcp:6667 or ssl:6697:privateKey=key.pem:certKey=cert.pem; repeat
        for several."""
        self["irc_ports"].append(description)

    def opt_operator(self, name: str) -> None:
        """A registered account that moderates every room and the server;
        repeat for several."""
        self["operators"].append(name)

    def opt_metrics(self, description: str) -> None:
        """Serve Prometheus metrics over HTTP on this endpoint (default: off),
        e.g. tcp:9102:interface=127.0.0.1."""
        self["metrics"] = description

    def opt_port(self, description: str) -> None:
        """Listen on this endpoint (default tcp:12000); repeat for several."""
        self["ports"].append(description)

    opt_p = opt_port

    def parseOptions(self, options: Sequence[str] | None = None) -> None:
        """Parse, and under twistd turn a usage error into one line and exit 1.

        twistd would print its whole usage text above the error; the one
        line names the option and the problem.
        """
        try:
            super().parseOptions(options)  # type: ignore[no-untyped-call]
        except usage.UsageError as e:
            if self.parent is None:
                raise
            raise SystemExit(
                f"menuchat: {e} (twistd menuchat --help lists the options)"
            ) from None

    def postOptions(self) -> None:
        for name, convert in _CONVERTERS.items():
            value = self[name]
            if isinstance(value, str):
                try:
                    self[name] = convert(value)
                except ValueError as e:
                    raise usage.UsageError(f"--{name} {e}") from None
        if self["password-transport"] not in PASSWORD_TRANSPORTS:
            raise usage.UsageError(
                "--password-transport must be tls or any,"
                f" not {self['password-transport']!r}"
            )
        if not self["ports"]:
            self["ports"] = [DEFAULT_PORT]
        name = self["irc-name"]
        if not name or not name.isascii() or not name.isprintable() or " " in name:
            raise usage.UsageError(f"--irc-name {name!r}: one word of ASCII, please")
        from twisted.internet import reactor

        endpoints = [("--port", description) for description in self["ports"]]
        endpoints += [("--irc-port", description) for description in self["irc_ports"]]
        if self["metrics"] is not None:
            endpoints.append(("--metrics", self["metrics"]))
        for option, description in endpoints:
            try:
                serverFromString(reactor, with_backlog(description))
            except Exception as e:
                raise usage.UsageError(
                    f"{option} {description}: {endpoint_problem(e)}"
                ) from e
        if self["redis"] is not None:
            self._check_cluster()
            return
        try:
            check(self["db"])
        except StoreError as e:
            raise usage.UsageError(f"--db {e}") from e

    def _check_cluster(self) -> None:
        """--redis and --node, checked, and --node given its default."""
        try:
            parse_redis_url(self["redis"])
        except ValueError as e:
            raise usage.UsageError(f"--redis: {e}") from None
        ttl = self["node-ttl"]
        if isinstance(ttl, str):
            try:
                self["node-ttl"] = _node_ttl(ttl)
            except ValueError as e:
                raise usage.UsageError(f"--node-ttl {e}") from None
        node = self["node"]
        if node is None:
            self["node"] = f"{socket.gethostname()}:{os.getpid()}"
        elif not node or not node.isprintable() or " " in node:
            raise usage.UsageError(f"--node {node!r}: one printable word, please")

    def limits(self) -> Limits:
        """The server's limits as given on the command line."""
        return Limits(
            **{
                field.name: self[field.name.replace("_", "-")]
                for field in attrs.fields(Limits)
            }
        )


def make_store(path: str, reactor: object) -> Store:
    """The store of C{--db path}.

    C{:memory:} is the memory store: it keeps nothing either way, and
    answers without a trip to the SQLite store's process.
    """
    if path == MEMORY:
        return MemoryStore()
    return SQLiteStore(path, reactor)


def makeService(options: Options) -> IService:
    """The server: one hub, listening on every ``--port``.

    Under ``twistd -n``, a port that cannot be opened ends twistd with one
    line on standard error and status 1, not a traceback.
    """
    from twisted.internet import reactor

    twistd = options.parent
    foreground = twistd is not None and bool(twistd["nodaemon"])
    cluster = None
    if options["redis"] is None:
        store = make_store(options["db"], reactor)
    else:
        redis = RedisStore(options["redis"], reactor)
        store = redis
        cluster = RedisCluster(redis, options["node"], options["node-ttl"], reactor)
    return ChatService(
        store,
        reactor,
        options.limits(),
        options["ports"],
        cannot_listen=_exit if foreground else None,
        cannot_start=_exit_after_stopping if foreground else None,
        cluster=cluster,
        reload_on_hangup=twistd is not None,
        metrics=options["metrics"],
        operators=options["operators"],
        irc_ports=options["irc_ports"],
        gateway=Gateway(
            server=options["irc-name"],
            ping_interval=options["irc-ping-interval"],
            passwords_need_tls=options["password-transport"] == "tls",
        ),
        passwords_need_tls=options["password-transport"] == "tls",
        tune_collector=twistd is not None,
    )


def _say(error: Exception) -> None:
    stderr = sys.__stderr__
    if stderr is not None:
        stderr.write(f"menuchat: {error}\n")
        stderr.flush()


def _exit(error: CannotListen) -> NoReturn:
    """End twistd: the problem on standard error, exit status 1."""
    _say(error)
    raise SystemExit(1)


def _exit_after_stopping(error: StoreError) -> None:
    """End twistd from inside the running reactor (a Redis store is opened
    once it runs): the problem on standard error, then the reactor stops
    and the process ends with status 1 once the shutdown triggers ran."""
    from twisted.internet import reactor

    _say(error)
    reactor.addSystemEventTrigger("after", "shutdown", os._exit, 1)
    reactor.stop()
