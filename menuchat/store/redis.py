"""The store that several menuchat processes share: one Redis server.

Every key starts with C{menuchat:}, so a Redis database can hold other
things too. What must be atomic across processes is one Redis command or
one Lua script (which Redis runs without interleaving anything else): the
id sequence (C{INCRBY}), a mailbox's limit, an account's unique key and
id. Values are JSON, which keeps text and float times exact.

The client is txredisapi: it speaks Twisted natively (every command
returns a Deferred, nothing needs another event loop) and reconnects by
itself. It reads the global reactor when it is imported, so it is
imported only when a store is started.
"""

from __future__ import annotations

import json
from typing import Any, Protocol
from urllib.parse import parse_qs, unquote, urlsplit

import attrs
from twisted.internet.defer import Deferred
from twisted.internet.endpoints import HostnameEndpoint, wrapClientTLS
from twisted.internet.interfaces import IStreamClientEndpoint
from twisted.internet.protocol import Factory
from twisted.internet.protocol import Protocol as TCPProtocol
from twisted.internet.ssl import Certificate, optionsForClientTLS

from menuchat.core.errors import MailboxFull, NameTaken
from menuchat.core.events import Message
from menuchat.store import Account, HistoryLine, SavedRoom, StoreError

__all__ = ["RedisAddress", "RedisStore", "parse_redis_url"]

PREFIX = "menuchat:"
DEFAULT_PORT = 6379
#: Seconds to connect (and to log in and select the database) at start.
CONNECT_TIMEOUT = 10.0


@attrs.frozen
class RedisAddress:
    """Where a Redis server is, from a C{redis://} or C{rediss://} URL."""

    host: str
    port: int
    db: int
    tls: bool = False
    username: str | None = None
    password: str | None = attrs.field(default=None, repr=False)
    #: A PEM file of the certificate authority to trust instead of the
    #: system's (a Redis with a private CA).
    ca: str | None = None

    def __str__(self) -> str:
        scheme = "rediss" if self.tls else "redis"
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{scheme}://{host}:{self.port}/{self.db}"

    def endpoint(self, reactor: Any) -> IStreamClientEndpoint:
        """A client endpoint to the server, TLS (hostname checked) for rediss."""
        plain = HostnameEndpoint(reactor, self.host, self.port, timeout=CONNECT_TIMEOUT)
        if not self.tls:
            return plain
        trust = None
        if self.ca is not None:
            with open(self.ca, "rb") as pem:
                trust = Certificate.loadPEM(pem.read())
        return wrapClientTLS(optionsForClientTLS(self.host, trust), plain)


def parse_redis_url(url: str) -> RedisAddress:
    """C{redis://[[USER]:PASSWORD@]HOST[:PORT][/DB]}, or C{rediss://} for TLS
    (the server's certificate checked against the system's authorities, or
    the one in C{?ca=PEMFILE}).

    @raise ValueError: with a sentence saying what is wrong.
    """
    parts = urlsplit(url)
    if parts.scheme not in ("redis", "rediss"):
        raise ValueError(f"{url!r} is not a redis:// or rediss:// URL")
    try:
        port = parts.port or DEFAULT_PORT
    except ValueError:
        raise ValueError(f"{url!r} has a bad port number") from None
    if not parts.hostname:
        raise ValueError(f"{url!r} names no host")
    path = parts.path.strip("/") or "0"
    if not (path.isascii() and path.isdigit()):
        raise ValueError(f"{url!r}: the database must be a number, not {path!r}")
    query = parse_qs(parts.query, keep_blank_values=True)
    ca = query.pop("ca", [None])[-1]
    if query or parts.fragment:
        raise ValueError(f"{url!r}: only ?ca=PEMFILE is understood after the path")
    if ca is not None and parts.scheme != "rediss":
        raise ValueError(f"{url!r}: ?ca= is for rediss:// (TLS) URLs")
    return RedisAddress(
        parts.hostname,
        port,
        int(path),
        tls=parts.scheme == "rediss",
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password is not None else None,
        ca=ca,
    )


class RedisCommands(Protocol):
    """The part of txredisapi's connection handler used here."""

    def execute_command(self, *args: object) -> Deferred[Any]: ...

    def eval(
        self, script: str, keys: list[str] = ..., args: list[object] = ...
    ) -> Deferred[Any]: ...


async def connect(
    address: RedisAddress, reactor: Any, max_retry_delay: float = 10.0
) -> tuple[RedisCommands, Any]:
    """A reconnecting txredisapi connection to C{address}, and its factory,
    which waits at most C{max_retry_delay} seconds between two attempts.

    @raise StoreError: the server cannot be reached, refuses the login or
        the database, or does not answer within L{CONNECT_TIMEOUT}.
    """
    import txredisapi

    endpoint = address.endpoint(reactor)
    try:
        # One plain attempt first: txredisapi would retry for ever.
        probe = await endpoint.connect(Factory.forProtocol(TCPProtocol))
    except Exception as e:
        raise StoreError(f"cannot reach Redis at {address}: {_why(e)}") from None
    probe.transport.loseConnection()  # type: ignore[attr-defined]
    factory = txredisapi.RedisFactory(
        f"{address.host}:{address.port}",
        address.db,
        1,
        False,
        txredisapi.ConnectionHandler,
        "utf-8",
        address.password,
        None,
        False,
        address.username,
    )
    factory.maxDelay = max_retry_delay
    factory.startConnecting(endpoint)
    ready: Deferred[RedisCommands] = factory.deferred
    timer = reactor.callLater(CONNECT_TIMEOUT, ready.cancel)
    try:
        handler = await ready
        await handler.execute_command("PING")
    except Exception as e:
        await factory.disconnect()
        raise StoreError(f"Redis at {address} did not let us in: {_why(e)}") from None
    finally:
        if timer.active():
            timer.cancel()
    return handler, factory


def _why(error: BaseException) -> str:
    text = str(error).strip().rstrip(".")
    return text.splitlines()[0] if text else type(error).__name__


# KEYS[1] the mailbox; ARGV[1] the message, ARGV[2] the limit.
_DELIVER = """
if redis.call('LLEN', KEYS[1]) >= tonumber(ARGV[2]) then return -1 end
return redis.call('RPUSH', KEYS[1], ARGV[1])
"""
_TAKE = """
local mail = redis.call('LRANGE', KEYS[1], 0, -1)
redis.call('DEL', KEYS[1])
return mail
"""
# KEYS: the name's key, the account; ARGV: the id, the account.
_CREATE_ACCOUNT = """
if redis.call('EXISTS', KEYS[1]) == 1 or redis.call('EXISTS', KEYS[2]) == 1 then
    return 0
end
redis.call('SET', KEYS[1], ARGV[1])
redis.call('SET', KEYS[2], ARGV[2])
return 1
"""
# KEYS: the account, the mailbox; ARGV: the prefix of name keys.
_DELETE_ACCOUNT = """
local found = redis.call('GET', KEYS[1])
if found then
    redis.call('DEL', ARGV[1] .. cjson.decode(found)['key'])
end
redis.call('DEL', KEYS[1], KEYS[2])
return 1
"""
# KEYS: the account, ARGV: the account as it is now, the account changed.
# Compare and set: the JSON is rewritten in Python (cjson rounds floats).
_REPLACE = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[2])
return 1
"""
# KEYS: the history; ARGV: the line, how many to keep.
_APPEND = """
redis.call('RPUSH', KEYS[1], ARGV[1])
redis.call('LTRIM', KEYS[1], -tonumber(ARGV[2]), -1)
return 1
"""


def _message_json(message: Message) -> str:
    return json.dumps(message)


def _account_json(account: Account) -> str:
    return json.dumps(attrs.asdict(account))


class RedisStore:
    """A L{menuchat.store.Store} in Redis, shared by every node of a cluster.

    @param url: C{redis://HOST:PORT/DB} or C{rediss://...} (TLS).
    @param reactor: connects to Redis.
    """

    def __init__(self, url: str, reactor: Any) -> None:
        self.address = parse_redis_url(url)
        self._reactor = reactor
        self._redis: RedisCommands | None = None
        self._factory: Any = None
        self.max_retry_delay = 10.0

    def retry_within(self, seconds: float) -> None:
        """Reconnect within C{seconds} after Redis was lost, not the default
        10 (a cluster wants it well under its TTL)."""
        self.max_retry_delay = seconds
        if self._factory is not None:
            self._factory.maxDelay = seconds

    @property
    def redis(self) -> RedisCommands:
        """The connection, for those (the cluster) that share it."""
        if self._redis is None:
            raise StoreError(f"the store at {self.address} is not started")
        return self._redis

    def start(self) -> Deferred[None]:
        async def start() -> None:
            self._redis, self._factory = await connect(
                self.address, self._reactor, self.max_retry_delay
            )

        return Deferred.fromCoroutine(start())

    def stop(self) -> Deferred[None]:
        factory, self._factory, self._redis = self._factory, None, None

        async def stop() -> None:
            if factory is not None:
                await factory.disconnect()

        return Deferred.fromCoroutine(stop())

    def _do(self, *command: object) -> Deferred[Any]:
        return self.redis.execute_command(*command)

    def _eval(self, script: str, keys: list[str], args: list[object]) -> Deferred[Any]:
        return self.redis.eval(script, keys, args)

    # Ids

    def reserve_ids(self, count: int) -> Deferred[range]:
        def reserved(last: int) -> range:
            return range(last - count + 1, last + 1)

        return self._do("INCRBY", PREFIX + "ids", count).addCallback(reserved)

    # Mail

    def deliver(self, message: Message, limit: int) -> Deferred[int]:
        def counted(unread: int) -> int:
            if unread < 0:
                raise MailboxFull(message.recipient_id)
            return unread

        box = f"{PREFIX}mail:{message.recipient_id}"
        sent = self._eval(_DELIVER, [box], [_message_json(message), limit])
        return sent.addCallback(counted)

    def take_mail(self, user_id: int) -> Deferred[list[Message]]:
        taken = self._eval(_TAKE, [f"{PREFIX}mail:{user_id}"], [])
        return taken.addCallback(lambda mail: [Message(*json.loads(m)) for m in mail])

    drop_mail = take_mail

    def unread(self, user_id: int) -> Deferred[int]:
        return self._do("LLEN", f"{PREFIX}mail:{user_id}")

    # Accounts

    def create_account(self, account: Account) -> Deferred[None]:
        def created(done: int) -> None:
            if not done:
                raise NameTaken(account.name)

        keys = [f"{PREFIX}name:{account.key}", f"{PREFIX}account:{account.user_id}"]
        made = self._eval(
            _CREATE_ACCOUNT, keys, [account.user_id, _account_json(account)]
        )
        return made.addCallback(created)

    def find_account(self, key: str) -> Deferred[Account | None]:
        async def find() -> Account | None:
            user_id = await self._do("GET", f"{PREFIX}name:{key}")
            if user_id is None:
                return None
            return await self.account_by_id(int(user_id))

        return Deferred.fromCoroutine(find())

    def account_by_id(self, user_id: int) -> Deferred[Account | None]:
        def found(text: str | None) -> Account | None:
            return None if text is None else Account(**json.loads(text))

        return self._do("GET", f"{PREFIX}account:{user_id}").addCallback(found)

    def set_password(self, user_id: int, password_hash: str) -> Deferred[None]:
        key = f"{PREFIX}account:{user_id}"

        async def change() -> None:
            while True:
                text = await self._do("GET", key)
                if text is None:
                    return
                changed = attrs.evolve(
                    Account(**json.loads(text)), password_hash=password_hash
                )
                if await self._eval(_REPLACE, [key], [text, _account_json(changed)]):
                    return

        return Deferred.fromCoroutine(change())

    def delete_account(self, user_id: int) -> Deferred[None]:
        keys = [f"{PREFIX}account:{user_id}", f"{PREFIX}mail:{user_id}"]
        deleted = self._eval(_DELETE_ACCOUNT, keys, [f"{PREFIX}name:"])
        return deleted.addCallback(lambda _: None)

    # Kept rooms

    def save_room(self, room: SavedRoom) -> Deferred[None]:
        saved = self._do(
            "HSET", PREFIX + "rooms", room.key, json.dumps(attrs.asdict(room))
        )
        return saved.addCallback(lambda _: None)

    def delete_room(self, key: str) -> Deferred[None]:
        async def delete() -> None:
            await self._do("HDEL", PREFIX + "rooms", key)
            await self._do("DEL", f"{PREFIX}history:{key}")

        return Deferred.fromCoroutine(delete())

    def saved_rooms(self) -> Deferred[list[SavedRoom]]:
        def rooms(found: list[str]) -> list[SavedRoom]:
            kept = [SavedRoom(**json.loads(text)) for text in found]
            return sorted(kept, key=lambda room: room.created_at)

        return self._do("HVALS", PREFIX + "rooms").addCallback(rooms)

    def append_history(self, key: str, line: HistoryLine, keep: int) -> Deferred[None]:
        if keep <= 0:
            return self._do("DEL", f"{PREFIX}history:{key}").addCallback(lambda _: None)
        text = json.dumps(attrs.astuple(line))
        added = self._eval(_APPEND, [f"{PREFIX}history:{key}"], [text, keep])
        return added.addCallback(lambda _: None)

    def history(self, key: str, count: int) -> Deferred[list[HistoryLine]]:
        if count <= 0:
            return Deferred.fromCoroutine(_nothing())
        found = self._do("LRANGE", f"{PREFIX}history:{key}", -count, -1)
        return found.addCallback(
            lambda lines: [HistoryLine(*json.loads(text)) for text in lines]
        )


async def _nothing() -> list[HistoryLine]:
    return []
