"""A cluster node's life in Redis: one process a node, its heartbeat, and
what it claims.

A mixin of L{menuchat.store.redis_cluster.RedisCluster}. A node renews a
heartbeat key every quarter TTL, which lives half a TTL; each renewal
tells whether the key had run out (this node stalled, or Redis was away,
and the others may have dropped its users: it announces itself again). At
each renewal it sweeps: a node whose key has run out is dead, and the
first node to see it gives back its names and room ids in one script,
after which every node drops its users. A node that comes back claims its
users' names and its rooms' ids again.
"""

from __future__ import annotations

import json
from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any

from twisted.internet.defer import (
    Deferred,
    FirstError,
    ensureDeferred,
    gatherResults,
)
from twisted.internet.task import LoopingCall, deferLater
from twisted.logger import Logger
from twisted.python.failure import Failure

from menuchat.core.names import token_key
from menuchat.store import StoreError
from menuchat.store.redis_bus import (
    BEAT,
    NAME_CLAIM,
    NODES,
    RECLAIM,
    RELEASE,
    RELEASE_ROOM,
    ROOM_CLAIM,
    SWEEP,
    beat_key,
    listing,
    pairs,
    presence_key,
    rooms_key,
)

if TYPE_CHECKING:
    from menuchat.core.hub import Hub, User
    from menuchat.core.rooms import Room
    from menuchat.store.redis import RedisStore

__all__ = ["Liveness", "room_token"]


async def _all(steps: list[Coroutine[Any, Any, None]]) -> None:
    """Run C{steps} side by side; once all are done, the first failure
    (as itself: the callers tell a lost connection from the rest)."""
    try:
        await gatherResults(
            [ensureDeferred(step) for step in steps], consumeErrors=True
        )
    except FirstError as e:
        e.subFailure.raiseException()


def room_token(created_at: float) -> str:
    """The value of a room's claim: its creation time, exactly."""
    return repr(created_at)


class Liveness:
    """The heartbeat, the sweep and the claims of a node."""

    log = Logger()

    if TYPE_CHECKING:
        node: str
        ttl: float
        _store: RedisStore
        _reactor: Any
        _hub: Hub | None
        _beat: LoopingCall
        _connected: bool
        _stopping: bool
        _resyncing: bool
        _sync: object | None
        _steady_since: float
        _instance: str

        def _do(self, *command: object) -> Deferred[Any]: ...
        def _eval(
            self, script: str, keys: list[str], args: list[object]
        ) -> Deferred[Any]: ...
        def _resynchronise(self) -> None: ...

    async def _check_alone(self) -> None:
        """Refuse to start as a node that another live process is: its
        heartbeat would be renewed. A heartbeat left by a process that died
        (restarted under the same name) runs out instead: wait for that."""
        key = beat_key(self.node)
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

    async def _claim_again(self, hub: Hub) -> None:
        """Claim again the names and room ids of this node's users, and give
        back those listed for this node that it no longer has (its users
        and rooms when a process before it under this name died). A name
        or room id taken meanwhile by another node (this one was out of
        touch past the TTL) is that node's now: the user here is
        disconnected, the room here closed.

        Each user's and each room's round trips are sent without waiting
        for the others' answers (the connection pipelines them): a node
        with thousands of users is back in a few round trips, not in
        thousands."""
        node = self.node
        mine = {user.id: user for user in hub.users() if not user.node}
        listed = pairs(await self._do("HGETALL", presence_key(node)))

        async def give_back(user_id: str, entry: str) -> None:
            await self._eval(RELEASE, [NAME_CLAIM + _listed_key(entry)], [node])
            await self._do("HDEL", presence_key(node), user_id)

        async def claim(user: User) -> None:
            key = token_key(user.name)
            if not await self._eval(RECLAIM, [NAME_CLAIM + key], [node]):
                self.log.warn("{user}'s name was taken meanwhile", user=user)
                user.client.disconnected("the server")
                return
            await self._do("HSET", presence_key(node), user.id, listing(user))

        await _all(
            [give_back(i, entry) for i, entry in listed if int(i) not in mine]
            + [claim(user) for user in mine.values()]
        )
        rooms = {room.key: room for room in hub.rooms()}
        kept = pairs(await self._do("HGETALL", rooms_key(node)))

        async def give_back_room(key: str, token: str) -> None:
            await self._eval(
                RELEASE_ROOM, [ROOM_CLAIM + key, rooms_key(node)], [token, key]
            )

        async def claim_room(room: Room) -> None:
            token = room_token(room.created_at)
            if await self._eval(RECLAIM, [ROOM_CLAIM + room.key], [token]):
                await self._do("HSET", rooms_key(node), room.key, token)
            else:
                self.log.warn("Room {room} was opened elsewhere meanwhile", room=room)
                hub.drop_room(room)

        def gone(key: str, token: str) -> bool:
            room = rooms.get(key)
            return room is None or room_token(room.created_at) != token

        def claimed_here(room: Room) -> bool:
            owner = hub.user(room.owner_id)
            return owner is not None and not owner.node and not room.persistent

        await _all(
            [give_back_room(key, token) for key, token in kept if gone(key, token)]
            + [claim_room(room) for room in rooms.values() if claimed_here(room)]
        )

    def _heartbeat(self) -> Deferred[None]:
        async def beat() -> None:
            was = await self._eval(
                BEAT, [beat_key(self.node)], [self._instance, int(self.ttl * 500)]
            )
            if was is None and self._sync is None and not self._resyncing:
                # Late (a stalled process, or Redis was away): the others may
                # have taken this node for dead. Say again who its users are.
                self.log.warn("This node's heartbeat had run out: announcing it")
                self._steady_since = float("inf")
                self._resynchronise()
                return
            await self._sweep()

        return Deferred.fromCoroutine(beat()).addErrback(self._beat_failed)

    def _beat_failed(self, reason: Failure) -> None:
        if self._connected and not self._stopping:
            self.log.failure("Heartbeat failed", reason)

    async def _sweep(self) -> None:
        """Forget every node whose heartbeat has run out, and drop its users.

        Not before this node has been in touch for half a TTL: after Redis
        comes back, the others get that long to beat again."""
        hub = self._hub
        assert hub is not None
        if self._reactor.seconds() - self._steady_since < self.ttl / 2:
            return
        nodes = set(await self._do("SMEMBERS", NODES))
        nodes |= {user.node for user in hub.users() if user.node}
        for node in sorted(nodes - {self.node}):
            if await self._do("EXISTS", beat_key(node)):
                continue
            # Its names and room ids, but for the rooms that live on here.
            gone = {user.id for user in hub.users() if user.node == node}
            kept = [
                room.key
                for room in hub.rooms()
                if room.persistent or room.owner_id not in gone
            ]
            keys = [beat_key(node), presence_key(node), rooms_key(node), NODES]
            swept = await self._eval(SWEEP, keys, [node, *kept])
            if not swept:
                continue  # it beat again meanwhile
            dropped = [user for user in hub.users() if user.node == node]
            if dropped:
                self.log.warn(
                    "Node {node} is silent: dropping its {count} users",
                    node=node,
                    count=len(dropped),
                )
            for user in dropped:
                hub.logout(user)


def _listed_key(entry: str) -> str:
    """The name key of an entry of a presence hash (see L{listing})."""
    return str(json.loads(entry)[2])
