"""The cluster's keys, scripts and messages in Redis, and its bus connection.

Keys (all under C{menuchat:}): C{nodes}, the set of node names;
C{node:NAME}, a node's heartbeat (its process's token, expiring after the
TTL); C{presence:NAME}, a hash of the node's users (id to JSON name,
registered, name key); C{rooms:NAME}, a hash of the room ids the node
claimed (room key to claim token); C{claim:name:KEY} (value: the node) and
C{claim:room:KEY} (value: the room's token, its creation time), claimed
with C{SET NX} so that two nodes racing for one get one winner.

The bus is one pub/sub channel. A node publishes at most one message a
reactor turn: a batch of the events of that turn, in order, as JSON
C{{"node": NAME, "events": [[op, user id, args], ...]}}.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import attrs
from twisted.internet.defer import Deferred

from menuchat.core.events import (
    Broadcast,
    Member,
    MemberJoined,
    MemberLeft,
    Message,
    MessageUnread,
    MessageWaiting,
    RoomChanged,
    RoomClosed,
    RoomLine,
)
from menuchat.core.names import token_key
from menuchat.store.redis import PREFIX

if TYPE_CHECKING:
    from menuchat.core.hub import User

__all__ = [
    "BEAT",
    "BUS",
    "NAME_CLAIM",
    "NODES",
    "RECLAIM",
    "RELEASE",
    "RELEASE_ROOM",
    "ROOM_CLAIM",
    "SWEEP",
    "Event",
    "RemoteMember",
    "beat_key",
    "decode",
    "encode",
    "listing",
    "pairs",
    "presence_key",
    "rooms_key",
    "subscriber_protocol",
    "told",
]

BUS = PREFIX + "bus"
NODES = PREFIX + "nodes"
NAME_CLAIM = PREFIX + "claim:name:"
ROOM_CLAIM = PREFIX + "claim:room:"


def beat_key(node: str) -> str:
    return f"{PREFIX}node:{node}"


def presence_key(node: str) -> str:
    return f"{PREFIX}presence:{node}"


def rooms_key(node: str) -> str:
    return f"{PREFIX}rooms:{node}"


def listing(user: User) -> str:
    """A user's entry in its node's presence hash."""
    return json.dumps([user.name, user.registered, token_key(user.name)])


# KEYS: the claim; ARGV: its value. Gives a claim back only if it is that.
RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
return 1
"""
# KEYS: the claim, the node's room hash; ARGV: the token, the room key.
# A room's claim given back, and forgotten by the node that made it.
RELEASE_ROOM = """
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
if redis.call('HGET', KEYS[2], ARGV[2]) == ARGV[1] then
    redis.call('HDEL', KEYS[2], ARGV[2])
end
return 1
"""
# KEYS: the claim; ARGV: its value. A claim held already, or a new one.
RECLAIM = """
local held = redis.call('GET', KEYS[1])
if held == false then redis.call('SET', KEYS[1], ARGV[1]) return 1 end
if held == ARGV[1] then return 1 end
return 0
"""
# KEYS: the heartbeat; ARGV: its value, its life in ms. Was it still there?
BEAT = """
local was = redis.call('GET', KEYS[1])
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return was
"""
# KEYS: the node's heartbeat, presence, room hash, and the node set.
# ARGV: the node, then the keys of rooms the sweeping node keeps open.
# If the heartbeat has run out, all at once: the node's name claims and
# room claims given back (but those of rooms kept open elsewhere), its
# hashes deleted, and the node forgotten. 1 if it was swept, 0 if alive.
SWEEP = (
    """
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
local kept = {}
for i = 2, #ARGV do kept[ARGV[i]] = true end
for _, entry in ipairs(redis.call('HVALS', KEYS[2])) do
    local claim = '"""
    + NAME_CLAIM
    + """' .. cjson.decode(entry)[3]
    if redis.call('GET', claim) == ARGV[1] then redis.call('DEL', claim) end
end
local rooms = redis.call('HGETALL', KEYS[3])
for i = 1, #rooms, 2 do
    if not kept[rooms[i]] then
        local claim = '"""
    + ROOM_CLAIM
    + """' .. rooms[i]
        if redis.call('GET', claim) == rooms[i + 1] then redis.call('DEL', claim) end
    end
end
redis.call('DEL', KEYS[2], KEYS[3])
redis.call('SREM', KEYS[4], ARGV[1])
return 1
"""
)


def pairs(reply: Any) -> list[tuple[Any, Any]]:
    """HGETALL's answer, a flat list or a dict, as pairs."""
    if isinstance(reply, dict):
        return list(reply.items())
    return list(zip(reply[::2], reply[1::2], strict=True))


@attrs.frozen
class Event:
    """One thing a node says on the bus: C{op} by (or for) user C{user}."""

    node: str
    op: str
    user: int
    args: list[Any]


def encode(node: str, events: list[list[Any]]) -> str:
    """One bus message: the events [op, user id, args] of a node's turn."""
    return json.dumps({"node": node, "events": events})


def decode(text: str) -> list[Event]:
    """The events of one bus message, in order.

    @raise ValueError: it is not one.
    """
    try:
        message = json.loads(text)
        node = message["node"]
        return [
            Event(node, str(op), int(user), list(args))
            for op, user, args in message["events"]
        ]
    except (KeyError, TypeError, ValueError) as e:
        raise ValueError(f"not a cluster message: {text[:200]!r}") from e


def message_fields(message: Message) -> list[Any]:
    return list(message)


def subscriber_protocol() -> type[Any]:
    """The protocol of a node's connection to the bus, which tells the
    cluster of its factory (C{factory.cluster}) what it hears.

    Every message of a read is taken in during that reactor turn, so the
    room lines of a busy bus reach each member of this node in one write per
    turn, as the lines of its own users do. (txredisapi's own parser, used
    without hiredis, stops reading after each bulk string and goes on with
    the rest of the read a turn later: a node heard one room line a turn,
    wrote it to each member on its own, and fell ever further behind a
    room it could otherwise serve.)
    """
    import txredisapi

    class Subscriber(txredisapi.SubscriberProtocol):  # type: ignore[misc]
        #: What follows a bulk string in the read being parsed.
        _rest: bytes | None = None

        def connectionMade(self) -> Any:
            made: Deferred[None] = super().connectionMade()
            made.addCallback(lambda _: self.factory.cluster._subscribed(self))
            return made

        def connectionLost(self, reason: Any) -> None:
            super().connectionLost(reason)
            self.factory.cluster._unsubscribed()

        def messageReceived(self, pattern: Any, channel: Any, text: Any) -> None:
            self.factory.cluster._received(text)

        def setLineMode(self, extra: bytes = b"") -> None:
            self.line_mode = 1
            if extra:
                self._rest = extra

        def dataReceived(self, data: bytes, unpause: bool = False) -> None:
            super().dataReceived(data, unpause)
            while self._rest is not None and not self.transport.disconnecting:
                rest, self._rest = self._rest, None
                super().dataReceived(rest)

    return Subscriber


class _Elsewhere:
    """The users of other nodes in a room: their own nodes tell them the
    room's lines, so here a line costs them nothing at all."""

    def listeners(self, members: tuple[User, ...]) -> _Elsewhere:
        return self

    def room_line(self, event: RoomLine, speaker: User) -> None:
        pass


class RemoteMember:
    """A user of another node, as this node's hub sees it: its own node
    delivers room events to it; what only that user is told is published
    for its node through C{tell(user id, what, *args)}."""

    #: Every stand-in shares one audience, which hears nothing.
    audience = _Elsewhere()

    def __init__(self, tell: Callable[..., None], user_id: int) -> None:
        self._tell = tell
        self._user_id = user_id

    def room_line(self, event: RoomLine) -> None:
        pass

    def member_joined(self, event: MemberJoined) -> None:
        pass

    def member_left(self, event: MemberLeft) -> None:
        pass

    def room_changed(self, event: RoomChanged) -> None:
        pass

    def broadcast(self, event: Broadcast) -> None:
        pass

    def room_closed(self, event: RoomClosed) -> None:
        pass

    def disconnected(self, by: str) -> None:
        self._tell(self._user_id, "disconnected", by)

    def message_waiting(self, event: MessageWaiting) -> None:
        fields = message_fields(event.message)
        self._tell(self._user_id, "waiting", fields, event.unread)

    def message_unread(self, event: MessageUnread) -> None:
        self._tell(self._user_id, "unread", message_fields(event.message))


def told(member: Member, args: list[Any]) -> None:
    """Tell C{member}, a user of this node, what another node said for it."""
    what = args[0]
    if what == "waiting":
        member.message_waiting(MessageWaiting(Message(*args[1]), args[2]))
    elif what == "unread":
        member.message_unread(MessageUnread(Message(*args[1])))
    elif what == "disconnected":
        member.disconnected(args[1])
