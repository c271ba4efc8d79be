"""Several menuchat processes as one server, through one Redis.

Every node keeps a mirror of the whole server's presence and rooms, and
delivers to its own connections only. What must have one winner is decided
in Redis: a name and a room id are claimed with C{SET NX}. Every change a
user of a node makes to a room is published on one pub/sub channel, the
bus, at most one message a reactor turn: a room line crosses to each node
once, whatever the number of members, and each node replays it on its
mirror, delivering to its own members. What one user of another node is
told (mail waiting, mail unread, a disconnection) is published for it.

A node starting, or back in touch after losing Redis, subscribes first,
then says C{hello} with its own state; every node answers with its state
(L{menuchat.core.mirror}), and the mirror is made to agree with those
answers before the events that came after them are replayed. Each node
renews a heartbeat key every quarter TTL, which lives half a TTL; a node
whose key has run out is dead, and the first node to see it gives back its
names and room ids in one script, after which every node drops its users
(closing the rooms its guests owned). The keys are listed in
L{menuchat.store.redis_bus}.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

import attrs
from twisted.internet.defer import CancelledError, Deferred
from twisted.internet.task import LoopingCall
from twisted.logger import Logger
from twisted.python.failure import Failure

from menuchat.core.events import Broadcast
from menuchat.core.mirror import State, agree, state_of
from menuchat.core.names import token_key
from menuchat.store import StoreError
from menuchat.store.redis import CONNECT_TIMEOUT, RedisStore
from menuchat.store.redis_bus import (
    BUS,
    NAME_CLAIM,
    NODES,
    RELEASE,
    RELEASE_ROOM,
    ROOM_CLAIM,
    Event,
    RemoteMember,
    beat_key,
    decode,
    encode,
    listing,
    presence_key,
    rooms_key,
    subscriber_protocol,
    told,
)
from menuchat.store.redis_liveness import Liveness, room_token

if TYPE_CHECKING:
    from menuchat.core.hub import Hub, User

__all__ = ["LOST", "RESTORED", "RedisCluster"]

#: What this node's users are told when Redis goes away, and comes back.
LOST = "the server lost touch with its other processes; retrying"
RESTORED = "the server is in touch with its other processes again"


@attrs.define
class _Sync:
    """A resynchronisation under way: the nodes still to answer, the
    answers, and the events that came meanwhile."""

    waiting: set[str]
    states: dict[str, State] = attrs.field(factory=dict)
    held: list[Event] = attrs.field(factory=list)
    done: Deferred[None] = attrs.field(factory=Deferred)


class RedisCluster(Liveness):
    """The L{menuchat.core.cluster.Cluster} of the nodes sharing C{store}'s Redis.

    @param node: this node's name, unique among the live nodes.
    @param ttl: seconds within which the others drop a silent node's users.
    """

    log = Logger()

    def __init__(self, store: RedisStore, node: str, ttl: float, reactor: Any) -> None:
        self._store = store
        # Back within a quarter TTL after Redis returns: the others wait
        # that long before they count this node's heartbeat missing.
        store.retry_within(max(0.25, ttl / 4))
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
        self._timers: dict[str, Any] = {}
        self._outbox: list[list[Any]] = []
        self._resyncing = False
        self._again = False
        #: Since when this node has been in touch with the others; it
        #: counts no node dead before it has been for half a TTL.
        self._steady_since = float("inf")
        #: This process's heartbeat value: another process under the same
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
        factory.maxDelay = self._store.max_retry_delay
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
        self._beat.start(self.ttl / 4, now=False)

    def stop(self) -> Deferred[None]:
        """Leave the cluster (this node's users have logged out by now)."""
        self._stopping = True
        self._flush()
        if self._beat.running:
            self._beat.stop()
        for timer in self._timers.values():
            if timer.active():
                timer.cancel()
        if self._sync is not None:
            self._sync.done.cancel()

        async def stop() -> None:
            try:
                node = self.node
                await self._do(
                    "DEL", beat_key(node), presence_key(node), rooms_key(node)
                )
                await self._do("SREM", NODES, node)
            except Exception as e:
                self.log.warn("Leaving the cluster: {e}", e=e)
            if self._subscriber is not None:
                await self._subscriber.disconnect()

        return Deferred.fromCoroutine(stop())

    def _do(self, *command: object) -> Deferred[Any]:
        return self._store.redis.execute_command(*command)

    def _eval(self, script: str, keys: list[str], args: list[object]) -> Deferred[Any]:
        return self._store.redis.eval(script, keys, args)

    def _later(self, name: str, delay: float, call: Any, *args: Any) -> None:
        timer = self._timers.get(name)
        if timer is not None and timer.active():
            timer.cancel()
        self._timers[name] = self._reactor.callLater(delay, call, *args)

    # The subscription, lost and found

    def _subscribed(self, subscriber: Any) -> None:
        """The bus connection is (again) up: listen, then resynchronise."""
        if not subscriber.connected or self._stopping:
            return  # refused (txredisapi says why), or leaving
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
        self._steady_since = float("inf")
        if self._stopping or self._lost or self._hub is None:
            return
        self._lost = True
        self.log.warn("Lost the connection to Redis: retrying")
        self._tell_everyone(LOST)

    def _resynchronise(self) -> None:
        """Announce this node and agree with every node's answer; one at a
        time (another is asked for: it follows)."""
        if self._resyncing:
            self._again = True
            return
        self._resyncing = True
        announced = Deferred.fromCoroutine(self._announce())
        announced.addBoth(self._resynchronised)

    def _resynchronised(self, outcome: object) -> None:
        self._resyncing = False
        if self._stopping:
            return
        if isinstance(outcome, Failure):
            # Redis answered the subscription but not the rest (it is still
            # coming back): try again in a second, while connected.
            self.log.warn(
                "Synchronising with the cluster: {problem}", problem=outcome.value
            )
            if self._connected:
                self._later("resync", 1.0, self._resynchronise)
        elif self._again:
            self._again = False
            self._resynchronise()

    async def _announce(self) -> None:
        hub = self._hub
        assert hub is not None
        await self._do(
            "SET", beat_key(self.node), self._instance, "PX", int(self.ttl * 500)
        )
        await self._do("SADD", NODES, self.node)
        await self._claim_again(hub)
        live = set()
        for node in await self._do("SMEMBERS", NODES):
            if node != self.node and await self._do("EXISTS", beat_key(node)):
                live.add(node)
        if self._stopping:
            return
        sync = self._sync
        if sync is None:
            sync = self._sync = _Sync(set())
        sync.waiting = live - set(sync.states)
        self._send("hello", 0, [])
        self._send("state", 0, state_of(hub))
        self._flush()
        if sync.waiting:
            self._later("give up", self.ttl / 2, self._give_up_waiting, sync)
        else:
            self._finish(sync)
        await sync.done
        self._steady_since = self._reactor.seconds()
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
        timer = self._timers.pop("give up", None)
        if timer is not None and timer.active():
            timer.cancel()
        self._sync = None
        assert self._hub is not None
        agree(self._hub, sync.states, self._stand_in)
        for event in sync.held:
            self._apply(event)
        sync.done.callback(None)

    def _stand_in(self, node: str, user_id: int) -> RemoteMember:
        return RemoteMember(self.tell, user_id)

    def _tell_everyone(self, text: str) -> None:
        hub = self._hub
        if hub is None:
            return
        event = Broadcast("server", text)
        for user in hub.users():
            if not user.node:
                user.client.broadcast(event)

    # Cluster: what the hub asks and tells

    def claim_name(self, key: str) -> Deferred[bool]:
        claimed = self._do("SET", NAME_CLAIM + key, self.node, "NX")
        return claimed.addCallback(lambda reply: reply is not None)

    def release_name(self, key: str) -> None:
        self._flush()  # what this node said of its user comes first
        released = self._eval(RELEASE, [NAME_CLAIM + key], [self.node])
        released.addErrback(lambda f: self.log.failure("Giving back a name failed", f))

    def claim_room(self, key: str, created_at: float) -> Deferred[bool]:
        token = room_token(created_at)

        def claimed(reply: object) -> bool:
            if reply is None:
                return False
            self._do("HSET", rooms_key(self.node), key, token).addErrback(
                lambda f: self.log.failure("Listing a room failed", f)
            )
            return True

        return self._do("SET", ROOM_CLAIM + key, token, "NX").addCallback(claimed)

    def release_room(self, key: str, created_at: float) -> None:
        self._flush()  # its closing comes before its id is free
        released = self._eval(
            RELEASE_ROOM,
            [ROOM_CLAIM + key, rooms_key(self.node)],
            [room_token(created_at), key],
        )
        released.addErrback(lambda f: self.log.failure("Giving back a room failed", f))

    def arrived(self, user: User) -> None:
        self._do("HSET", presence_key(self.node), user.id, listing(user)).addErrback(
            lambda f: self.log.failure("Listing {user} failed", f, user=user)
        )
        self._send("login", user.id, [user.name, user.registered])

    def departed(self, user: User, message: str) -> None:
        self._send("logout", user.id, [message])
        self.release_name(token_key(user.name))
        self._do("HDEL", presence_key(self.node), user.id).addErrback(
            lambda f: self.log.failure("Unlisting {user} failed", f, user=user)
        )

    def publish(self, op: str, user: User, *args: object) -> None:
        self._send(op, user.id, list(args))

    def tell(self, user_id: int, what: str, *args: object) -> None:
        """Tell user C{user_id}, of another node, C{what}."""
        self._send("tell", user_id, [what, *args])

    def _send(self, op: str, user_id: int, args: list[Any]) -> None:
        """Publish at the end of this turn, with every other event of it."""
        self._outbox.append([op, user_id, args])
        if len(self._outbox) == 1:
            self._later("flush", 0, self._flush)

    def _flush(self) -> None:
        """Publish the events waiting, in one message."""
        if not self._outbox:
            return
        text, self._outbox = encode(self.node, self._outbox), []
        self._do("PUBLISH", BUS, text).addErrback(
            lambda f: self.log.failure("Publishing to the cluster failed", f)
        )

    # Receiving

    def _received(self, text: str) -> None:
        try:
            events = decode(text)
        except ValueError as e:
            self.log.warn("{problem}", problem=e)
            return
        for event in events:
            if event.node != self.node:
                self._take(event)

    def _take(self, event: Event) -> None:
        hub = self._hub
        assert hub is not None
        sync = self._sync
        if event.op == "hello":
            self._send("state", 0, state_of(hub))
        elif event.op == "state":
            if sync is None:
                agree(hub, {event.node: event.args}, self._stand_in)
                return
            sync.states[event.node] = event.args
            sync.held = [e for e in sync.held if e.node != event.node]
            if event.node in sync.waiting:
                sync.waiting.discard(event.node)
                if not sync.waiting:
                    self._finish(sync)
        elif sync is None:
            self._apply(event)
        elif event.node not in sync.waiting:
            sync.held.append(event)
        # else: its state, still to come, holds it

    def _apply(self, event: Event) -> None:
        hub = self._hub
        assert hub is not None
        try:
            if event.op == "login":
                name, registered = event.args
                stand_in = self._stand_in(event.node, event.user)
                hub.add_remote(event.node, event.user, name, registered, stand_in)
            elif event.op == "tell":
                user = hub.user(event.user)
                if user is not None and not user.node:
                    told(user.client, event.args)
            else:
                hub.replay(event.op, event.user, event.args)
        except Exception:
            self.log.failure("Applying cluster event {event!r}", event=event)
