"""Two (or three) nodes in one process, each a hub with its own Redis store
and RedisCluster, against one real redis-server: presence, names, rooms,
mail and failures across nodes. Each wait is on a cluster event arriving
at a node, never on time."""

from __future__ import annotations

import json
from typing import Any

from twisted.internet.defer import Deferred, DeferredList
from twisted.internet.task import deferLater
from twisted.trial.unittest import TestCase

from menuchat.config import Limits
from menuchat.core.errors import NameTaken, RoomTaken
from menuchat.core.events import CloseReason
from menuchat.core.hub import Hub, User
from menuchat.service import make_hub
from menuchat.store import StoreError
from menuchat.store.redis import RedisStore
from menuchat.store.redis_bus import decode
from menuchat.store.redis_cluster import (
    LOST,
    RESTORED,
    RedisCluster,
)
from tests.redisserver import RedisServer
from tests.support import FakeMember
from tests.test_store_contract import inline

TTL = 1.0


class WatchedCluster(RedisCluster):
    """A RedisCluster whose tests can wait for an event to be taken in."""

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.waiters: list[tuple[str, int | None, Deferred[None]]] = []
        self.sweeps: list[Deferred[None]] = []

    def _received(self, text: str) -> None:
        super()._received(text)
        for event in decode(text):
            if event.node == self.node:
                continue
            ready = [
                w
                for w in self.waiters
                if w[0] == event.op and w[1] in (None, event.user)
            ]
            for waiter in ready:
                self.waiters.remove(waiter)
                waiter[2].callback(None)

    async def _sweep(self) -> None:
        await super()._sweep()
        sweeps, self.sweeps = self.sweeps, []
        for waiting in sweeps:
            waiting.callback(None)

    def swept(self) -> Deferred[None]:
        """Fires when the next sweep for dead nodes is over."""
        waiting: Deferred[None] = Deferred()
        self.sweeps.append(waiting)
        return waiting

    def seen(self, op: str, user_id: int | None = None) -> Deferred[None]:
        """Fires when the next C{op} event (of C{user_id}) has been taken in."""
        waiting: Deferred[None] = Deferred()
        self.waiters.append((op, user_id, waiting))
        return waiting


def one_winner(results: list[tuple[bool, Any]], refusal: type[Exception]) -> None:
    """Of two racing requests, one won and the other was refused so."""
    assert sorted(ok for ok, _ in results) == [False, True], results
    for ok, value in results:
        if not ok:
            value.trap(refusal)


class Node:
    def __init__(self, hub: Hub, cluster: WatchedCluster, store: RedisStore) -> None:
        self.hub = hub
        self.cluster = cluster
        self.store = store

    async def login(self, name: str) -> tuple[User, FakeMember]:
        member = FakeMember()
        user = await self.hub.login(name, member)
        return user, member


class Nodes(TestCase):
    """Nodes in this process against one redis-server of the test's own."""

    def setUp(self) -> None:
        self.redis = RedisServer().start()
        self.addCleanup(self.redis.close)

    async def node(self, name: str) -> Node:
        from twisted.internet import reactor

        store = RedisStore(self.redis.url, reactor)
        await store.start()
        self.addCleanup(store.stop)
        hub = make_hub(store, reactor, Limits())
        await hub.restore_rooms()
        cluster = WatchedCluster(store, name, TTL, reactor)
        await cluster.start(hub)

        async def stop() -> None:
            for user in hub.users():
                if not user.node:
                    await hub.logout(user)
            await cluster.stop()

        self.addCleanup(lambda: Deferred.fromCoroutine(stop()))
        return Node(hub, cluster, store)

    async def pair(self) -> tuple[Node, Node]:
        return await self.node("a"), await self.node("b")


class ClusterTests(Nodes):
    """Two nodes as one server."""

    @inline
    async def test_presence_spans_nodes_and_names_are_one(self) -> None:
        a, b = await self.pair()
        seen = b.cluster.seen("login")
        nina, _ = await a.login("Nina")
        await seen
        self.assertEqual([(u.name, u.id, u.node) for u in b.hub.users()],
                         [("Nina", nina.id, "a")])  # fmt: skip
        with self.assertRaises(NameTaken):
            await b.login("nina")
        seen = b.cluster.seen("logout", nina.id)
        await a.hub.logout(nina)
        await seen
        self.assertEqual(b.hub.users(), [])
        nina_b, _ = await b.login("NINA")
        self.assertEqual(nina_b.node, "")

    @inline
    async def test_a_name_race_has_one_winner(self) -> None:
        a, b = await self.pair()
        for n in range(10):
            results = await DeferredList(
                [
                    Deferred.fromCoroutine(a.login(f"racer{n}")),
                    Deferred.fromCoroutine(b.login(f"RACER{n}")),
                ],
                consumeErrors=True,
            )
            one_winner(results, NameTaken)

    @inline
    async def test_a_room_race_has_one_winner(self) -> None:
        a, b = await self.pair()
        seen = a.cluster.seen("login")
        nina, _ = await a.login("Nina")
        jose, _ = await b.login("Jose")
        await seen
        results = await DeferredList(
            [a.hub.open_room(nina, "lobby"), b.hub.open_room(jose, "LOBBY")],
            consumeErrors=True,
        )
        one_winner(results, RoomTaken)

    @inline
    async def test_a_room_spans_nodes(self) -> None:
        a, b = await self.pair()
        seen = b.cluster.seen("login")
        nina, nina_hears = await a.login("Nina")
        await seen
        jose, jose_hears = await b.login("Jose")
        created = b.cluster.seen("create_room")
        await a.hub.open_room(nina, "lobby")
        await created
        joined = a.cluster.seen("join_room")
        b.hub.join_room(jose, "lobby")
        await joined
        self.assertEqual(nina_hears.events, [("joined", "lobby", "Jose")])
        self.assertEqual(jose_hears.events, [("joined", "lobby", "Jose")])
        self.assertEqual(
            [m.name for m in a.hub.room("lobby").members], ["Nina", "Jose"]
        )

        said = a.cluster.seen("say")
        b.hub.say(jose, "hello from b")
        await said
        said = b.cluster.seen("say")
        a.hub.say(nina, "hi from a")
        await said
        line_a = ("line", "lobby", "Jose", "hello from b")
        line_b = ("line", "lobby", "Nina", "hi from a")
        self.assertEqual(nina_hears.events[1:], [line_a, line_b])
        self.assertEqual(jose_hears.events[1:], [line_a, line_b])

        # Moderation by the owner reaches the member on the other node.
        muted = b.cluster.seen("mute")
        a.hub.mute(nina, "Jose")
        await muted
        self.assertEqual(jose_hears.events[-1][:2], ("changed", "lobby"))
        self.assertIn(jose.id, b.hub.room("lobby").muted)

        # The owner leaves: the room closes on both nodes.
        closed = b.cluster.seen("logout", nina.id)
        await a.hub.logout(nina)
        await closed
        self.assertEqual(
            jose_hears.events[-1], ("closed", "lobby", CloseReason.OWNER_LEFT)
        )
        self.assertIsNone(b.hub.room("lobby"))
        self.assertIsNone(jose.room)
        # Its id is free again, for a room on either node.
        room = await b.hub.open_room(jose, "lobby")
        self.assertEqual(room.owner_name, "Jose")

    @inline
    async def test_mail_across_nodes_is_told_at_once(self) -> None:
        a, b = await self.pair()
        seen = b.cluster.seen("login")
        nina, _ = await a.login("Nina")
        await seen
        seen = a.cluster.seen("login")
        jose, jose_hears = await b.login("Jose")
        await seen
        told = b.cluster.seen("tell", jose.id)
        await a.hub.send_to(nina, "Jose", "mail to b")
        await told
        self.assertEqual(jose_hears.events, [("waiting", "mail to b", 1)])
        [message] = await b.hub.read_messages(jose)
        self.assertEqual((message.sender_name, message.text), ("Nina", "mail to b"))

        # A guest leaving with mail unread: its sender, on the other node, is told.
        await b.hub.send_to(jose, str(nina.id), "unread")
        told = b.cluster.seen("tell", jose.id)
        await a.hub.logout(nina)
        await told
        self.assertEqual(jose_hears.events[-1], ("unread", "Nina", "unread"))

    @inline
    async def test_a_starting_node_learns_users_and_rooms(self) -> None:
        a = await self.node("a")
        nina, _ = await a.login("Nina")
        olga, _ = await a.login("Olga")
        await a.hub.open_room(nina, "lobby")
        a.hub.set_topic(nina, "welcome")
        a.hub.join_room(olga, "lobby")
        a.hub.mute(nina, "Olga")

        b = await self.node("b")
        self.assertEqual(
            [(u.name, u.node) for u in b.hub.users()], [("Nina", "a"), ("Olga", "a")]
        )
        room = b.hub.room("lobby")
        self.assertEqual(
            (room.owner_name, room.topic, [m.name for m in room.members], room.muted),
            ("Nina", "welcome", ["Nina", "Olga"], {olga.id}),
        )
        jose, jose_hears = await b.login("Jose")
        b.hub.join_room(jose, "lobby")
        said = b.cluster.seen("say")
        a.hub.say(nina, "hello")
        await said
        self.assertEqual(jose_hears.events[-1], ("line", "lobby", "Nina", "hello"))

    @inline
    async def test_a_silent_node_is_dropped_within_the_ttl(self) -> None:
        a, b = await self.pair()
        seen = a.cluster.seen("login")
        jose, _ = await b.login("Jose")
        await seen
        nina, nina_hears = await a.login("Nina")
        created = a.cluster.seen("create_room")
        await b.hub.open_room(jose, "guests")
        await created
        joined = b.cluster.seen("join_room")
        a.hub.join_room(nina, "guests")
        await joined
        # Node b stops beating and listening, as if killed.
        b.cluster._beat.stop()
        await b.cluster._subscriber.disconnect()
        from twisted.internet import reactor

        dropped: Deferred[None] = Deferred()
        original = nina_hears.room_closed

        def closed(event: Any) -> None:
            original(event)
            reactor.callLater(0, dropped.callback, None)  # once the sweep is done

        nina_hears.room_closed = closed  # type: ignore[method-assign]
        await dropped.addTimeout(TTL * 5, reactor)
        self.assertEqual(
            nina_hears.events[-1], ("closed", "guests", CloseReason.OWNER_LEFT)
        )
        self.assertEqual([u.name for u in a.hub.users()], ["Nina"])
        again, _ = await a.login("Jose")
        self.assertEqual(again.node, "")

    @inline
    async def test_redis_lost_and_back(self) -> None:
        from twisted.internet import reactor

        a, b = await self.pair()
        seen = b.cluster.seen("login")
        _, nina_hears = await a.login("Nina")
        await seen
        heard: list[Deferred[None]] = [Deferred(), Deferred()]
        original = nina_hears.broadcast

        def broadcast(event: Any) -> None:
            original(event)
            waiting = heard.pop(0)
            reactor.callLater(0, waiting.callback, None)

        nina_hears.broadcast = broadcast  # type: ignore[method-assign]
        lost, back = heard
        # Every connection to Redis is cut (as by a restart that keeps the
        # data, or a network fault): the nodes reconnect by themselves,
        # claim their users' names again and say who they are.
        killer = RedisStore(self.redis.url, reactor)
        await killer.start()
        self.addCleanup(killer.stop)
        for kind in ("pubsub", "normal"):
            await killer.redis.execute_command("CLIENT", "KILL", "TYPE", kind)
        await lost.addTimeout(10, reactor)
        self.assertEqual(nina_hears.events, [("broadcast", "server", LOST)])
        await back.addTimeout(20, reactor)
        self.assertEqual(nina_hears.events[-1], ("broadcast", "server", RESTORED))
        self.assertEqual(len(nina_hears.events), 2)  # told once each way
        with self.assertRaises(NameTaken):
            await b.login("Nina")
        seen = a.cluster.seen("login")
        await b.login("Jose")
        await seen
        self.assertEqual([u.name for u in a.hub.users()], ["Nina", "Jose"])

    @inline
    async def test_back_in_touch_a_node_claims_its_users_again(self) -> None:
        from twisted.internet import reactor

        a = await self.node("a")
        users = {name: await a.login(name) for name in ("Nina", "Jose", "Ana")}
        nina_hears = users["Nina"][1]
        back: Deferred[None] = Deferred()
        original = nina_hears.broadcast

        def broadcast(event: Any) -> None:
            original(event)
            if event.text == RESTORED:
                reactor.callLater(0, back.callback, None)

        nina_hears.broadcast = broadcast  # type: ignore[method-assign]
        jose, jose_hears = users["Jose"]
        told = jose_hears.disconnected

        def disconnected(by: str) -> None:  # as a connection does: it closes
            told(by)
            a.hub.logout(jose)

        jose_hears.disconnected = disconnected  # type: ignore[method-assign]
        # While node a is out of touch: Nina's claim is gone (Redis lost
        # it), Jose's name is taken by another node, and a presence entry
        # of a user node a no longer has (Ghost) was left with its claim.
        redis = RedisStore(self.redis.url, reactor)
        await redis.start()
        self.addCleanup(redis.stop)
        run = redis.redis.execute_command
        await run("DEL", "menuchat:claim:name:nina")
        await run("SET", "menuchat:claim:name:jose", "c")
        await run("SET", "menuchat:claim:name:ghost", "a")
        await run("HSET", "menuchat:presence:a", "999", '["Ghost", false, "ghost"]')
        await run("CLIENT", "KILL", "TYPE", "pubsub")
        await run("CLIENT", "KILL", "TYPE", "normal")
        await back.addTimeout(20, reactor)
        self.assertEqual(jose_hears.events, [
            ("broadcast", "server", LOST),
            ("disconnected", "the server"),
        ])  # fmt: skip
        self.assertEqual(users["Ana"][1].events[-1], ("broadcast", "server", RESTORED))
        self.assertEqual(sorted(u.name for u in a.hub.users()), ["Ana", "Nina"])
        run = a.store.redis.execute_command  # in touch again, unlike ``redis``
        for name, held in (("nina", "a"), ("ana", "a"), ("jose", "c"), ("ghost", None)):
            self.assertEqual(await run("GET", f"menuchat:claim:name:{name}"), held)
        listed = await run("HGETALL", "menuchat:presence:a")
        entries = sorted(json.loads(v)[0] for v in listed[1::2])
        self.assertEqual(entries, ["Ana", "Nina"])

    @inline
    async def test_a_second_process_under_a_live_node_name_is_refused(self) -> None:
        await self.node("a")
        with self.assertRaises(StoreError) as raised:
            await self.node("a")
        self.assertIn("another process is node 'a'", str(raised.exception))

    @inline
    async def test_a_node_restarted_under_its_name_replaces_the_dead_one(self) -> None:
        a, b = await self.pair()
        seen = a.cluster.seen("login")
        jose, _ = await b.login("Jose")
        await seen
        # Node b dies without a word; a new process starts as b at once.
        b.cluster._beat.stop()
        await b.cluster._subscriber.disconnect()
        b.hub._users.clear()  # the old process's users are gone with it
        b.hub._names.clear()
        states = a.cluster.seen("state")
        again = await self.node("b")
        await states  # its state says it holds no one: a drops Jose now
        self.assertEqual(a.hub.users(), [])
        self.assertEqual(again.hub.users(), [])
        jose_again, _ = await again.login("Jose")
        self.assertNotEqual(jose_again.id, jose.id)

    @inline
    async def test_a_stalled_node_taken_for_dead_announces_itself_again(self) -> None:
        from twisted.internet import reactor

        a, b = await self.pair()
        seen = a.cluster.seen("login")
        jose, _ = await b.login("Jose")
        await seen
        # Node b stalls past its TTL: node a drops its users...
        b.cluster._beat.stop()
        dropped: Deferred[None] = Deferred()
        original = a.hub.logout

        def logout(user: User, message: str = "") -> Deferred[None]:
            done = original(user, message)
            if user is not None and user.name == "Jose" and not dropped.called:
                reactor.callLater(0, dropped.callback, None)
            return done

        a.hub.logout = logout  # type: ignore[method-assign]
        await dropped.addTimeout(TTL * 5, reactor)
        self.assertEqual(a.hub.users(), [])
        # ...and once b beats again, it says who its users are.
        seen = a.cluster.seen("state")
        b.cluster._beat.start(TTL / 3)
        await seen.addTimeout(TTL * 5, reactor)
        self.assertEqual([(u.name, u.id, u.node) for u in a.hub.users()],
                         [("Jose", jose.id, "b")])  # fmt: skip
        with self.assertRaises(NameTaken):
            await a.login("Jose")

    @inline
    async def test_moderation_across_nodes(self) -> None:
        a, b = await self.pair()
        seen = b.cluster.seen("login")
        nina, nina_hears = await a.login("Nina")
        await seen
        jose, jose_hears = await b.login("Jose")
        created = b.cluster.seen("create_room")
        await a.hub.open_room(nina, "lobby")
        await created

        async def on_b(op: str, act: Any) -> None:
            seen = b.cluster.seen(op)
            act()
            await seen

        async def on_a(op: str, act: Any) -> None:
            seen = a.cluster.seen(op)
            act()
            await seen

        await on_a("join_room", lambda: b.hub.join_room(jose, "lobby"))
        # The owner on a kicks the member on b: b puts Jose out and tells him.
        await on_b("kick", lambda: a.hub.kick(nina, "Jose", "too loud"))
        self.assertEqual(jose_hears.events[-1], ("left", "lobby", "Jose"))
        self.assertIsNone(jose.room)
        self.assertEqual([m.name for m in b.hub.room("lobby").members], ["Nina"])

        await on_a("join_room", lambda: b.hub.join_room(jose, "lobby"))
        await on_b("set_topic", lambda: a.hub.set_topic(nina, "quiet please"))
        self.assertEqual(b.hub.room("lobby").topic, "quiet please")
        self.assertEqual(jose_hears.events[-1][:2], ("changed", "lobby"))

        # The room changes hands across nodes; the new owner's word counts.
        await on_b("give_room", lambda: a.hub.give_room(nina, "Jose"))
        for hub in (a.hub, b.hub):
            self.assertEqual(hub.room("lobby").owner_name, "Jose")
        await on_a("mute", lambda: b.hub.mute(jose, "Nina"))
        self.assertIn(nina.id, a.hub.room("lobby").muted)

        # The new owner closes it: Nina, on a, is put out.
        await on_a("close_room", lambda: b.hub.close_room(jose))
        self.assertEqual(
            nina_hears.events[-1], ("closed", "lobby", CloseReason.OWNER_CLOSED)
        )
        self.assertIsNone(a.hub.room("lobby"))
        self.assertIsNone(nina.room)


class PasswordTests(TestCase):
    """A Redis that asks for a password: the bus logs in as the store does."""

    @inline
    async def test_two_nodes_through_a_password(self) -> None:
        from twisted.internet import reactor

        redis = RedisServer().start(extra=["--requirepass", "s3cret"])
        self.addCleanup(redis.close)
        url = f"redis://:s3cret@127.0.0.1:{redis.port}/1"
        nodes = []
        for name in ("a", "b"):
            store = RedisStore(url, reactor)
            await store.start()
            self.addCleanup(store.stop)
            hub = make_hub(store, reactor, Limits())
            cluster = WatchedCluster(store, name, TTL, reactor)
            await cluster.start(hub)
            self.addCleanup(cluster.stop)
            nodes.append((hub, cluster))
        (hub_a, _), (hub_b, cluster_b) = nodes
        seen = cluster_b.seen("login")
        nina = await hub_a.login("Nina", FakeMember())
        await seen
        self.assertEqual([(u.name, u.node) for u in hub_b.users()], [("Nina", "a")])
        await hub_a.logout(nina)


async def _silenced(node: Node) -> None:
    """The node stops beating and listening, as if SIGKILLed."""
    node.cluster._beat.stop()
    await node.cluster._subscriber.disconnect()


class FailureTests(Nodes):
    """What a dead node leaves, and what a registration changes, everywhere."""

    @inline
    async def test_a_room_of_a_dead_node_is_free_again_with_no_mirror(self) -> None:
        from twisted.internet import reactor

        # Every node dies while a guest's room is open: a node started later
        # can open that room id again once it has swept the dead one.
        a = await self.node("a")
        nina, _ = await a.login("Nina")
        await a.hub.open_room(nina, "lobby")
        await _silenced(a)
        c = await self.node("c")
        while await c.store.redis.execute_command("SISMEMBER", "menuchat:nodes", "a"):
            await c.cluster.swept().addTimeout(TTL * 5, reactor)
        olga, _ = await c.login("Nina")
        room = await c.hub.open_room(olga, "lobby")
        self.assertEqual(room.owner_name, "Nina")

    @inline
    async def test_a_guest_registering_keeps_its_rooms_on_every_node(self) -> None:
        a, b = await self.pair()
        seen = b.cluster.seen("login")
        nina, _ = await a.login("Nina")
        await seen
        jose, jose_hears = await b.login("Jose")
        registered = b.cluster.seen("set_registered")
        a.hub.set_registered(nina, True)  # as option 8 does, once registered
        await registered
        self.assertTrue(b.hub.user(nina.id).registered)
        created = b.cluster.seen("create_room")
        room = await a.hub.open_room(nina, "club")
        await created
        self.assertTrue(room.persistent and b.hub.room("club").persistent)
        joined = a.cluster.seen("join_room")
        b.hub.join_room(jose, "club")
        await joined
        gone = b.cluster.seen("logout", nina.id)
        await a.hub.logout(nina)
        await gone
        # Kept on both nodes: Jose, on b, is still in it.
        self.assertIsNotNone(a.hub.room("club"))
        self.assertIs(jose.room, b.hub.room("club"))
        self.assertEqual([e for e in jose_hears.events if e[0] == "closed"], [])


class OutageTests(Nodes):
    """Redis away for longer than the TTL, then back with its data: no
    process died, so no one loses anything."""

    def setUp(self) -> None:
        self.redis = RedisServer().start(extra=("--appendonly", "yes"))
        self.addCleanup(self.redis.close)

    @inline
    async def test_an_outage_longer_than_the_ttl_costs_no_one_their_room(self) -> None:
        from twisted.internet import reactor

        a, b = await self.pair()
        seen = a.cluster.seen("login")
        jose, _ = await b.login("Jose")
        await seen
        seen = b.cluster.seen("login")
        nina, nina_hears = await a.login("Nina")
        await seen
        created = a.cluster.seen("create_room")
        await b.hub.open_room(jose, "guests")
        await created
        joined = b.cluster.seen("join_room")
        a.hub.join_room(nina, "guests")
        await joined
        back = {name: Deferred() for name in ("a", "b")}
        for node, name in ((a, "a"), (b, "b")):
            tell = node.cluster._tell_everyone

            def told(text: str, tell: Any = tell, name: str = name) -> None:
                tell(text)
                if text == RESTORED:
                    reactor.callLater(0, back[name].callback, None)

            node.cluster._tell_everyone = told  # type: ignore[method-assign]
        self.redis.stop()
        # Three TTLs: every heartbeat key runs out meanwhile.
        await deferLater(reactor, TTL * 3, lambda: None)
        self.redis.start(extra=("--appendonly", "yes"))
        await DeferredList([d.addTimeout(20, reactor) for d in back.values()])
        # Both nodes beat again; each has been in touch for longer than it
        # waits before it counts a node dead, and has swept once since.
        for node in (a, b):
            await node.cluster.swept().addTimeout(TTL * 5, reactor)
            await node.cluster.swept().addTimeout(TTL * 5, reactor)
        self.assertEqual([e for e in nina_hears.events if e[0] == "closed"], [])
        self.assertIs(nina.room, a.hub.room("guests"))
        for node in (a, b):
            self.assertEqual(sorted(u.name for u in node.hub.users()), ["Jose", "Nina"])
            self.assertEqual(
                sorted(m.name for m in node.hub.room("guests").members),
                ["Jose", "Nina"],
            )
        with self.assertRaises(NameTaken):
            await a.login("Jose")
        # The room's id is still claimed, by that room.
        claim = await a.store.redis.execute_command("GET", "menuchat:claim:room:guests")
        self.assertEqual(claim, repr(a.hub.room("guests").created_at))
