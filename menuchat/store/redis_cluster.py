"""Several menuchat processes as one server, through one Redis.

Every node keeps a mirror of the whole server's presence and rooms, and
delivers to its own connections only. What must have one winner is decided
in Redis: a name is claimed with C{SET NX} (value: the node), a room id
likewise (value: the room's creation time, so that only that room's close
gives it back). Every change a user of a node makes to a room is published
once on one pub/sub channel, the bus: a room line crosses to each node once,
whatever the number of members, and each node replays it on its mirror,
delivering to its own members. What one user of another node is told (mail
waiting, mail unread, a disconnection) is published for that node.

A node starting (or back after losing Redis) subscribes first, then says
C{hello}; every live node answers with its C{state} (its users, their rooms,
the rooms they own), and the mirror is made to agree with those answers
before the events that came after them are replayed. Each node keeps a
heartbeat key with a TTL; a node whose key has expired is dead, and every
other node drops its users (closing the rooms its guests owned) and frees
its names.
"""

from __future__ import annotations

import json
import os
from typing import TYPE_CHECKING, Any

import attrs
from twisted.internet.defer import CancelledError, Deferred
from twisted.internet.task import LoopingCall, deferLater
from twisted.logger import Logger
from twisted.python.failure import Failure

from menuchat.core.events import (
    Broadcast,
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
from menuchat.store import StoreError
from menuchat.store.redis import CONNECT_TIMEOUT, PREFIX, RedisStore

if TYPE_CHECKING:
    from menuchat.core.hub import Hub, User

__all__ = ["LOST", "RESTORED", "RedisCluster"]

BUS = PREFIX + "bus"
NODES = PREFIX + "nodes"

#: What this node's users are told when Redis goes away, and comes back.
LOST = "the server lost touch with its other processes; retrying"
RESTORED = "the server is in touch with its other processes again"

# KEYS: the claim; ARGV: its value. Gives a claim back only if it is that.
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
return 1
"""
# KEYS: the heartbeat; ARGV: its value, its life in ms. Was it still there?
_BEAT = """
local was = redis.call('GET', KEYS[1])
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return was
"""
# KEYS: the claim; ARGV: the node. A claim this node holds, or a new one.
_RECLAIM = """
local held = redis.call('GET', KEYS[1])
if held == false then redis.call('SET', KEYS[1], ARGV[1]) return 1 end
if held == ARGV[1] then return 1 end
return 0
"""


def _name_claim(key: str) -> str:
    return f"{PREFIX}claim:name:{key}"


def _room_claim(key: str) -> str:
    return f"{PREFIX}claim:room:{key}"


def _beat_key(node: str) -> str:
    return f"{PREFIX}node:{node}"


def _presence_key(node: str) -> str:
    return f"{PREFIX}presence:{node}"


def _message(fields: list[Any]) -> Message:
    return Message(*fields)


def _fields(message: Message) -> list[Any]:
    return list(attrs.astuple(message))


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


class RemoteMember:
    """A user of another node, as this node's hub sees it: its own node
    delivers room events to it; what only that user is told is published
    for its node."""

    def __init__(self, cluster: RedisCluster, user_id: int) -> None:
        self._cluster = cluster
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
        self._cluster.tell(self._user_id, "disconnected", by)

    def message_waiting(self, event: MessageWaiting) -> None:
        self._cluster.tell(
            self._user_id, "waiting", _fields(event.message), event.unread
        )

    def message_unread(self, event: MessageUnread) -> None:
        self._cluster.tell(self._user_id, "unread", _fields(event.message))


@attrs.define
class _Sync:
    """A resynchronisation under way: the nodes still to answer, the
    answers, and the events that came meanwhile."""

    waiting: set[str]
    states: dict[str, list[Any]] = attrs.field(factory=dict)
    held: list[dict[str, Any]] = attrs.field(factory=list)
    done: Deferred[None] = attrs.field(factory=Deferred)


class RedisCluster:
    """The L{menuchat.core.cluster.Cluster} of the nodes sharing C{store}'s Redis.

    @param node: this node's name, unique among the nodes.
    @param ttl: seconds after which a silent node is taken for dead.
    """

    log = Logger()

    def __init__(self, store: RedisStore, node: str, ttl: float, reactor: Any) -> None:
        self._store = store
        self.node = node
        self.ttl = ttl
        self._reactor = reactor
        self._hub: Hub | None = None
        self._subscriber: Any = None
        self._sync: _Sync | None = None
        self._beat = LoopingCall(self._heartbeat)
        self._beat.clock = reactor
        self._connected = False
        self._lost = False
        self._stopping = False
        self._give_up: Any = None
        #: This process's heartbeat value: another process's under the same
        #: node name is told apart.
        self._instance = os.urandom(8).hex()
        #: Fires once this node has first agreed with the others.
        self._joined: Deferred[None] = Deferred()

    # Life

    def start(self, hub: Hub) -> Deferred[None]:
        """Join the cluster: subscribe, beat, and learn who is online."""
        self._hub = hub
        hub.cluster = self
        return Deferred.fromCoroutine(self._start())

    async def _start(self) -> None:
        import txredisapi

        await self._check_alone()
        address = self._store.address
        factory = txredisapi.SubscriberFactory()
        factory.protocol = subscriber_protocol()
        factory.cluster = self
        factory.password = address.password
        factory.username = address.username
        factory.maxDelay = max(1.0, self.ttl / 2)
        self._subscriber = factory
        factory.startConnecting(address.endpoint(self._reactor))
        timer = self._reactor.callLater(CONNECT_TIMEOUT + self.ttl, self._joined.cancel)
        try:
            await self._joined
        except CancelledError:
            raise StoreError(
                f"no answer on the cluster's channel at Redis {address}"
            ) from None
        finally:
            if timer.active():
                timer.cancel()
        self._beat.start(self.ttl / 3, now=False)

    async def _check_alone(self) -> None:
        """Refuse to start as a node that another live process is: its
        heartbeat would be renewed. A heartbeat left by a process that died
        (restarted under the same name within the TTL) runs out instead:
        wait for that, half a TTL at most."""
        key = _beat_key(self.node)
        left: int = await self._do("PTTL", key)
        if left < 0:
            return  # no heartbeat: no such node
        wait = min(left / 1000, self.ttl / 2)
        await deferLater(self._reactor, wait, lambda: None)
        now: int = await self._do("PTTL", key)
        if now > left - wait * 1000 + 50:
            raise StoreError(
                f"another process is node {self.node!r} at Redis"
                f" {self._store.address}: give this one another --node"
            )

    def stop(self) -> Deferred[None]:
        """Leave the cluster (this node's users have logged out by now)."""
        self._stopping = True

        async def stop() -> None:
            if self._beat.running:
                self._beat.stop()
            if self._give_up is not None and self._give_up.active():
                self._give_up.cancel()
            try:
                await self._do("DEL", _beat_key(self.node), _presence_key(self.node))
                await self._do("SREM", NODES, self.node)
            except Exception as e:
                self.log.warn("Leaving the cluster: {e}", e=e)
            if self._subscriber is not None:
                self._subscriber.continueTrying = False
                await self._subscriber.disconnect()

        return Deferred.fromCoroutine(stop())

    def _do(self, *command: object) -> Deferred[Any]:
        return self._store.redis.execute_command(*command)

    def _eval(self, script: str, keys: list[str], args: list[object]) -> Deferred[Any]:
        return self._store.redis.eval(script, keys, args)

    # The subscription, lost and found

    def _subscribed(self, subscriber: Any) -> None:
        """The bus connection is (again) up: listen, then resynchronise."""
        if not subscriber.connected:
            return  # refused: txredisapi says why
        self._connected = True
        if self._sync is None:
            # Events from now on wait for the answers to this node's hello.
            self._sync = _Sync(set())
        subscribed: Deferred[Any] = subscriber.subscribe(BUS)
        subscribed.addCallback(lambda _: self._resynchronise())
        subscribed.addErrback(
            lambda f: self.log.failure("Subscribing to the cluster failed", f)
        )

    def _unsubscribed(self) -> None:
        self._connected = False
        if self._stopping or self._lost or self._hub is None:
            return
        self._lost = True
        self.log.warn("Lost the connection to Redis: retrying")
        self._tell_everyone(LOST)

    def _resynchronise(self) -> Deferred[None]:
        """Announce this node and agree with every live node's answer."""
        sync = Deferred.fromCoroutine(self._announce())
        return sync.addErrback(self._retry)

    def _retry(self, reason: Failure) -> None:
        """Redis answered the subscription but not the rest (it is still
        coming back): try again in a second, while connected."""
        self.log.warn("Synchronising with the cluster: {problem}", problem=reason.value)
        if self._connected and not self._stopping:
            self._reactor.callLater(1.0, self._resynchronise)

    async def _announce(self) -> None:
        hub = self._hub
        assert hub is not None
        await self._do(
            "SET", _beat_key(self.node), self._instance, "PX", int(self.ttl * 1000)
        )
        await self._do("SADD", NODES, self.node)
        mine = {user.id: user for user in hub.users() if not user.node}
        listed = await self._do("HGETALL", _presence_key(self.node))
        for user_id, info in _pairs(listed):
            if int(user_id) not in mine:
                # Left by a process that was this node before and died.
                name_key = token_key(json.loads(info)[0])
                await self._eval(_RELEASE, [_name_claim(name_key)], [self.node])
                await self._do("HDEL", _presence_key(self.node), user_id)
        for user in mine.values():
            held: int = await self._eval(
                _RECLAIM, [_name_claim(token_key(user.name))], [self.node]
            )
            if not held:
                # Taken elsewhere while this node was out of touch.
                user.client.disconnected("the server")
                continue
            await self._do("HSET", _presence_key(self.node), user.id, _who(user))
        live = set()
        for node in await self._do("SMEMBERS", NODES):
            if node != self.node and await self._do("EXISTS", _beat_key(node)):
                live.add(node)
        sync = self._sync
        if sync is None:
            sync = self._sync = _Sync(set())
        sync.waiting = live - set(sync.states)
        self._send("hello", 0, [])
        self._answer_hello()
        if sync.waiting:
            self._give_up = self._reactor.callLater(
                self.ttl, self._give_up_waiting, sync
            )
        else:
            self._finish(sync)
        await sync.done
        if not self._joined.called:
            self._joined.callback(None)
        if self._lost:
            self._lost = False
            self.log.info("In touch with the cluster again")
            self._tell_everyone(RESTORED)

    def _give_up_waiting(self, sync: _Sync) -> None:
        if sync is self._sync and sync.waiting:
            self.log.warn(
                "No answer from {nodes}: going on without them",
                nodes=", ".join(sorted(sync.waiting)),
            )
            self._finish(sync)

    def _finish(self, sync: _Sync) -> None:
        if self._give_up is not None and self._give_up.active():
            self._give_up.cancel()
        self._give_up = None
        self._sync = None
        assert self._hub is not None
        self._agree(self._hub, sync.states)
        for event in sync.held:
            self._apply(event)
        sync.done.callback(None)

    def _tell_everyone(self, text: str) -> None:
        hub = self._hub
        if hub is None:
            return
        event = Broadcast("server", text)
        for user in hub.users():
            if not user.node:
                user.client.broadcast(event)

    # Cluster

    def claim_name(self, key: str) -> Deferred[bool]:
        claimed = self._do("SET", _name_claim(key), self.node, "NX")
        return claimed.addCallback(lambda reply: reply is not None)

    def release_name(self, key: str) -> None:
        self._eval(_RELEASE, [_name_claim(key)], [self.node]).addErrback(
            lambda f: self.log.failure("Giving back a name failed", f)
        )

    def claim_room(self, key: str, created_at: float) -> Deferred[bool]:
        claimed = self._do("SET", _room_claim(key), repr(created_at), "NX")
        return claimed.addCallback(lambda reply: reply is not None)

    def release_room(self, key: str, created_at: float) -> None:
        released = self._eval(_RELEASE, [_room_claim(key)], [repr(created_at)])
        released.addErrback(lambda f: self.log.failure("Giving back a room failed", f))

    def arrived(self, user: User) -> None:
        self._do("HSET", _presence_key(self.node), user.id, _who(user)).addErrback(
            lambda f: self.log.failure("Listing {user} failed", f, user=user)
        )
        self._send("login", user.id, [user.name, user.registered])

    def departed(self, user: User, message: str) -> None:
        self.release_name(token_key(user.name))
        self._do("HDEL", _presence_key(self.node), user.id).addErrback(
            lambda f: self.log.failure("Unlisting {user} failed", f, user=user)
        )
        self._send("logout", user.id, [message])

    def publish(self, op: str, user: User, *args: object) -> None:
        self._send(op, user.id, list(args))

    def tell(self, user_id: int, what: str, *args: object) -> None:
        """Tell user C{user_id}, of another node, C{what}."""
        self._send("tell", user_id, [what, *args])

    def _send(self, op: str, user_id: int, args: list[object]) -> None:
        text = json.dumps({"node": self.node, "op": op, "user": user_id, "args": args})
        self._do("PUBLISH", BUS, text).addErrback(
            lambda f: self.log.failure("Publishing {op} failed", f, op=op)
        )

    # Receiving

    def _received(self, text: str) -> None:
        try:
            event = json.loads(text)
            node, op = event["node"], event["op"]
            int(event["user"])
            list(event["args"])
        except (ValueError, KeyError, TypeError):
            self.log.warn("Not a cluster event: {text!r}", text=text)
            return
        if node == self.node:
            return
        sync = self._sync
        if op == "hello":
            self._answer_hello()
        elif op == "state":
            if sync is not None:
                sync.states[node] = event["args"]
                sync.held = [e for e in sync.held if e["node"] != node]
                if node in sync.waiting:
                    sync.waiting.discard(node)
                    if not sync.waiting:
                        self._finish(sync)
            else:
                self._agree_with(node, event["args"])
        elif sync is not None:
            if node in sync.waiting:
                return  # its state, still to come, holds it
            sync.held.append(event)
        else:
            self._apply(event)

    def _apply(self, event: dict[str, Any]) -> None:
        hub = self._hub
        assert hub is not None
        node, op, user_id, args = (
            event["node"], event["op"], event["user"], event["args"],
        )  # fmt: skip
        try:
            if op == "login":
                hub.add_remote(
                    node, user_id, args[0], args[1], RemoteMember(self, user_id)
                )
            elif op == "tell":
                self._told(hub, user_id, args)
            else:
                hub.replay(op, user_id, args)
        except Exception:
            self.log.failure("Applying cluster event {event!r}", event=event)

    def _told(self, hub: Hub, user_id: int, args: list[Any]) -> None:
        user = hub.user(user_id)
        if user is None or user.node:
            return
        what = args[0]
        if what == "waiting":
            user.client.message_waiting(MessageWaiting(_message(args[1]), args[2]))
        elif what == "unread":
            user.client.message_unread(MessageUnread(_message(args[1])))
        elif what == "disconnected":
            user.client.disconnected(args[1])

    # States

    def _answer_hello(self) -> None:
        """Tell every node what this one holds: its users and their rooms,
        and the rooms they own."""
        assert self._hub is not None
        self._send("state", 0, self._state_of(self._hub, ""))

    def _agree_with(self, node: str, state: list[Any]) -> None:
        """A node that came back said what it holds: take it in."""
        hub = self._hub
        assert hub is not None
        mine = {n for u in hub.users() if (n := u.node) and n != node}
        states = {n: self._state_of(hub, n) for n in mine}
        states[node] = state
        self._agree(hub, states)

    @staticmethod
    def _state_of(hub: Hub, node: str) -> list[Any]:
        """What this mirror holds of node C{node} ("": this one): its users
        with the key of their room, and the rooms they own."""
        users = [
            [u.id, u.name, u.registered, u.room.key if u.room else None]
            for u in hub.users()
            if u.node == node
        ]
        own = {entry[0] for entry in users}
        rooms = [
            [
                r.id,
                r.owner_id,
                r.owner_name,
                r.topic,
                r.persistent,
                r.created_at,
                sorted(r.muted),
            ]
            for r in hub.rooms()
            if r.owner_id in own
        ]
        return [users, rooms]

    def _agree(self, hub: Hub, states: dict[str, list[Any]]) -> None:
        """Make the mirror of the other nodes what their C{states} say: users
        gone are dropped, rooms closed elsewhere closed, rooms opened
        elsewhere mirrored, members placed."""
        live: dict[int, tuple[str, list[Any]]] = {}
        owned: dict[str, set[str]] = {}
        for node, (users, rooms) in states.items():
            for entry in users:
                live[entry[0]] = (node, entry)
            owned[node] = {token_key(r[0]) for r in rooms}
        for user in hub.users():
            if user.node and live.get(user.id, ("",))[0] != user.node:
                hub.logout(user)
        for room in hub.rooms():
            owner = hub.user(room.owner_id)
            if owner is None or not owner.node or room.persistent:
                continue
            if room.key not in owned.get(owner.node, {room.key}):
                hub.drop_room(room)
        for _, rooms in states.values():
            for room_id, owner_id, owner_name, topic, kept, at, muted in rooms:
                hub.mirror_room(room_id, owner_id, owner_name, topic, kept, at, muted)
        for node, (user_id, name, registered, room_key) in live.values():
            known = hub.user(user_id) or hub.add_remote(
                node, user_id, name, registered, RemoteMember(self, user_id)
            )
            if known is not None and known.node:
                hub.place(known, room_key)

    # Liveness

    def _heartbeat(self) -> Deferred[None]:
        async def beat() -> None:
            was = await self._eval(
                _BEAT, [_beat_key(self.node)], [self._instance, int(self.ttl * 1000)]
            )
            if was is None and self._sync is None:
                # Late (a stalled process): the others took this node for
                # dead and dropped its users. Say again who they are.
                self.log.warn("This node was taken for dead: announcing it again")
                self._resynchronise()
                return
            await self._sweep()

        return Deferred.fromCoroutine(beat()).addErrback(self._beat_failed)

    def _beat_failed(self, reason: Any) -> None:
        if self._connected:
            self.log.failure("Heartbeat failed", reason)

    async def _sweep(self) -> None:
        """Drop the users of every node whose heartbeat has expired."""
        hub = self._hub
        assert hub is not None
        nodes = set(await self._do("SMEMBERS", NODES))
        nodes |= {user.node for user in hub.users() if user.node}
        for node in nodes - {self.node}:
            if await self._do("EXISTS", _beat_key(node)):
                continue
            # Its names are free before its users are seen to go.
            gone = [user for user in hub.users() if user.node == node]
            names = {token_key(user.name) for user in gone}
            found = await self._do("HGETALL", _presence_key(node))
            names.update(token_key(json.loads(info)[0]) for _, info in _pairs(found))
            for key in names:
                await self._eval(_RELEASE, [_name_claim(key)], [node])
            await self._do("DEL", _presence_key(node))
            await self._do("SREM", NODES, node)
            if gone:
                self.log.warn(
                    "Node {node} is silent: dropping its {count} users",
                    node=node,
                    count=len(gone),
                )
            for user in gone:
                if hub.user(user.id) is user:
                    hub.logout(user)


def _who(user: User) -> str:
    return json.dumps([user.name, user.registered])


def _pairs(reply: Any) -> list[tuple[Any, Any]]:
    """HGETALL's answer, a flat list or a dict, as pairs."""
    if isinstance(reply, dict):
        return list(reply.items())
    return list(zip(reply[::2], reply[1::2], strict=True))
