"""Two hubs as nodes of one cluster, linked in memory: a change made by a
user of one node is replayed on the other, whose members are told; a name
is had by one node at a time. Pure hub logic (the Redis cluster is tested
in test_redis_cluster)."""

from __future__ import annotations

from typing import Any

from twisted.internet.defer import Deferred, succeed
from twisted.logger import capturedLogs, formatEvent
from twisted.trial.unittest import SynchronousTestCase

from menuchat.core import errors
from menuchat.core.accounts import hash_password
from menuchat.core.events import Change, CloseReason, LeaveReason
from menuchat.core.hub import Hub, User
from menuchat.core.names import token_key
from menuchat.store import Account
from menuchat.store.memory import MemoryStore
from tests.support import FakeMember, resolved


class Heard(FakeMember):
    """A member that keeps the events themselves, not only their gist."""

    def __init__(self) -> None:
        super().__init__()
        self.raw: list[Any] = []

    def member_left(self, event: Any) -> None:
        self.raw.append(event)
        super().member_left(event)

    def room_changed(self, event: Any) -> None:
        self.raw.append(event)
        super().room_changed(event)


class Node:
    """One hub's view of the others: what it shares, each replays at once."""

    def __init__(
        self, name: str, hub: Hub, nodes: dict[str, Node], names: dict[str, str]
    ) -> None:
        self.name, self.hub, self.nodes = name, hub, nodes
        self.names = names  # name key -> node that has it, shared by all
        self.published: list[tuple[object, ...]] = []
        self.released: list[str] = []
        self.stand_ins: dict[int, Heard] = {}
        self.refuse_names = False
        self.rooms_released: list[tuple[str, float]] = []
        self.rooms_claimed: list[tuple[str, float]] = []
        self.room_answer: Deferred[bool] | None = None  # None: granted at once
        nodes[name] = self
        hub.cluster = self

    def _others(self) -> list[Node]:
        return [n for n in self.nodes.values() if n is not self]

    def claim_name(self, key: str) -> Deferred[bool]:
        if self.refuse_names or self.names.get(key, self.name) != self.name:
            return succeed(False)
        self.names[key] = self.name
        return succeed(True)

    def release_name(self, key: str) -> None:
        self.released.append(key)
        self.names.pop(key, None)

    def claim_room(self, key: str, created_at: float) -> Deferred[bool]:
        self.rooms_claimed.append((key, created_at))
        if self.room_answer is not None:
            return self.room_answer
        return succeed(True)

    def release_room(self, key: str, created_at: float) -> None:
        self.rooms_released.append((key, created_at))

    def arrived(self, user: User) -> None:
        for other in self._others():
            stand_in = other.stand_ins[user.id] = Heard()
            other.hub.add_remote(
                self.name, user.id, user.name, user.registered, stand_in
            )

    def departed(self, user: User, message: str) -> None:
        self.names.pop(token_key(user.name), None)
        for other in self._others():
            other.hub.replay("logout", user.id, [message])

    def publish(self, op: str, user: User, *args: object) -> None:
        self.published.append((op, user.name, *args))
        for other in self._others():
            other.hub.replay(op, user.id, list(args))


class ClusterSeamTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.store = store = MemoryStore()  # one store: ids are unique across the nodes
        self.nodes: dict[str, Node] = {}
        names: dict[str, str] = {}
        self.now = 1000.0
        self.hub_a = Hub(store, now=lambda: self.now, operators=frozenset({"olga"}))
        self.hub_b = Hub(store, now=lambda: self.now, operators=frozenset({"olga"}))
        self.a = Node("a", self.hub_a, self.nodes, names)
        self.b = Node("b", self.hub_b, self.nodes, names)
        self.nina_hears, self.jose_hears = Heard(), Heard()
        self.nina = resolved(self.hub_a.login("Nina", self.nina_hears))
        self.kim = resolved(self.hub_a.login("Kim", Heard()))
        self.jose = resolved(self.hub_b.login("Jose", self.jose_hears))
        self.hub_a.create_room(self.nina, "Den")
        self.hub_a.join_room(self.kim, "den")
        self.hub_b.join_room(self.jose, "den")
        self.a.published.clear()

    def account(self, name: str, user_id: int = 99) -> Account:
        account = Account(user_id, name, token_key(name), hash_password("pw1"), 0.0)
        resolved(self.store.create_account(account))
        return account

    def test_users_of_the_other_node_are_listed_with_their_node(self):
        jose = self.hub_a.online("Jose")
        assert jose is not None
        assert (jose.id, jose.node, jose.registered) == (self.jose.id, "b", False)
        assert [(u.name, u.node) for u in self.hub_b.users()] == [
            ("Nina", "a"),
            ("Kim", "a"),
            ("Jose", ""),
        ]

    def test_a_name_had_on_one_node_is_refused_on_the_other(self):
        failure = self.failureResultOf(self.hub_b.login("nina", FakeMember()))
        failure.trap(errors.NameTaken)
        assert self.hub_b.login_failures["name_taken"] == 1
        assert self.b.released == []  # not won: nothing to give back
        # Still free to claim once the refused login is done with.
        assert self.hub_b.online("nina").node == "a"

    def test_a_name_the_cluster_refuses_is_free_again_here(self):
        self.b.refuse_names = True
        failure = self.failureResultOf(self.hub_b.login("Ivo", FakeMember()))
        failure.trap(errors.NameTaken)
        assert failure.value.args == ("Ivo",)
        assert self.hub_b.login_failures["name_taken"] == 1
        self.failureResultOf(self.hub_b.login("Ivo", FakeMember()))
        assert self.hub_b.login_failures["name_taken"] == 2
        assert self.b.released == []  # never won: nothing to give back
        self.b.refuse_names = False
        ivo = resolved(self.hub_b.login("Ivo", FakeMember()))
        assert ivo.name == "Ivo"

    def test_a_registered_name_needs_its_password_and_is_given_back(self):
        account = self.account("Reg", 77)
        failure = self.failureResultOf(self.hub_b.login("Reg", FakeMember()))
        failure.trap(errors.PasswordRequired)
        assert failure.value.name == "Reg"
        assert self.b.released == ["reg"]
        assert "reg" not in self.b.names
        reg = resolved(self.hub_b.login("Reg", FakeMember(), account))
        assert (reg.id, reg.registered) == (77, True)
        assert self.hub_a.user(77).registered

    def test_a_registration_and_its_deletion_reach_the_other_node(self):
        self.hub_a.set_registered(self.nina, True)
        assert self.a.published == [("set_registered", "Nina", True)]
        assert self.nina.registered
        assert self.hub_b.user(self.nina.id).registered
        self.hub_a.set_registered(self.nina, False)
        assert not self.nina.registered
        assert not self.hub_b.user(self.nina.id).registered

    def test_each_node_counts_the_deliveries_it_makes(self):
        self.hub_a.say(self.nina, "hello")
        # Nina and Kim here, Jose on node b: each node tells its own users.
        assert (self.hub_a.deliveries, self.hub_b.deliveries) == (2, 1)
        self.hub_b.say(self.jose, "hi")
        assert (self.hub_a.deliveries, self.hub_b.deliveries) == (4, 2)

    def test_a_kick_with_its_reason_reaches_the_other_node(self):
        self.hub_a.kick(self.nina, "Kim", "spam")
        assert self.a.published == [("kick", "Nina", "Kim", "spam")]
        (kicked,) = self.jose_hears.raw[-1:]
        assert (kicked.name, kicked.reason, kicked.by, kicked.message) == (
            "Kim",
            LeaveReason.KICKED,
            "Nina",
            "spam",
        )
        assert [m.name for m in self.hub_b.room("den").members] == ["Nina", "Jose"]

    def test_a_mute_and_unmute_reach_the_other_node(self):
        self.hub_a.mute(self.nina, "Jose")
        assert self.hub_b.room("den").muted == {self.jose.id}
        self.hub_a.mute(self.nina, "Jose", False)
        assert self.a.published == [
            ("mute", "Nina", "Jose", True),
            ("mute", "Nina", "Jose", False),
        ]
        assert self.jose_hears.events[-2:] == [
            ("changed", "Den", Change.MUTED, "Jose"),
            ("changed", "Den", Change.UNMUTED, "Jose"),
        ]
        assert self.hub_b.room("den").muted == set()

    def test_a_room_given_away_and_its_topic_reach_the_other_node(self):
        self.hub_a.set_topic(self.nina, "tea")
        self.hub_a.give_room(self.nina, "Kim")
        assert self.a.published == [
            ("set_topic", "Nina", "tea"),
            ("give_room", "Nina", "Kim"),
        ]
        room = self.hub_b.room("den")
        assert (room.topic, room.owner_name) == ("tea", "Kim")
        assert [e.change for e in self.jose_hears.raw] == [Change.TOPIC, Change.OWNER]

    def test_a_broadcast_reaches_the_users_of_the_other_node(self):
        olga = resolved(self.hub_a.login("Olga", FakeMember(), self.account("Olga")))
        self.a.published.clear()
        self.hub_a.broadcast(olga, "restart")
        assert self.a.published == [("broadcast", "Olga", "restart")]
        assert self.jose_hears.events[-1] == ("broadcast", "Olga", "restart")

    def test_a_user_leaving_is_dropped_on_the_other_node_with_its_words(self):
        resolved(self.hub_b.logout(self.jose, "bye"))
        assert self.hub_a.online("Jose") is None
        (left,) = [e for e in self.nina_hears.raw if e.name == "Jose"]
        assert (left.reason, left.message) == (LeaveReason.DROPPED, "bye")

    def test_replays_of_unknown_users_ops_and_bad_arguments_change_nothing(self):
        jose_id = self.jose.id
        with capturedLogs() as logs:
            self.hub_a.replay("kick", 424242, ["Kim", ""])  # no such user
            self.hub_a.replay("kick", self.nina.id, ["Kim", ""])  # not remote
            self.hub_a.replay("explode", jose_id, [])
            self.hub_a.replay("kick", jose_id, ["Kim", ""])  # not Jose's room
            self.hub_a.replay("set_topic", jose_id, [])  # a missing argument
        said = [formatEvent(e) for e in logs]
        jose = f"<User Jose:{jose_id}>"
        assert said[:2] == [
            "Unknown cluster event explode",
            f"Replaying kick of {jose}: NotAllowed()",
        ]
        assert said[2].startswith(f"Replaying set_topic of {jose}: TypeError(")
        assert [m.name for m in self.hub_a.room("den").members] == [
            "Nina",
            "Kim",
            "Jose",
        ]

    def test_a_logout_replayed_without_words_is_a_plain_drop(self):
        self.hub_a.replay("logout", self.jose.id, [])
        self.hub_a.replay("logout", self.kim.id, ["ignored: Kim is local"])
        (left,) = [e for e in self.nina_hears.raw if e.name == "Jose"]
        assert left.message == ""
        assert self.hub_a.online("Kim") is not None

    def test_a_remote_user_whose_id_or_name_is_here_is_not_added(self):
        assert self.hub_a.add_remote("b", self.kim.id, "Other", False, Heard()) is None
        assert self.hub_a.add_remote("b", 5000, "KIM", False, Heard()) is None
        added = self.hub_a.add_remote("b", 5001, "Zed", True, Heard())
        assert added is not None
        assert (added.node, added.registered) == ("b", True)
        assert self.hub_a.online("zed") is added

    def test_a_line_said_reaches_the_members_of_the_other_node(self):
        self.hub_a.say(self.kim, "hello")
        assert self.a.published == [("say", "Kim", "hello")]
        assert self.jose_hears.events[-1] == ("line", "Den", "Kim", "hello")

    def test_a_member_leaving_with_words_is_told_on_the_other_node(self):
        self.hub_a.leave_room(self.kim, "see you")
        assert self.a.published == [("leave_room", "Kim", "see you")]
        (left,) = [e for e in self.jose_hears.raw if e.name == "Kim"]
        assert (left.reason, left.message) == (LeaveReason.LEFT, "see you")
        assert [m.name for m in self.hub_b.room("den").members] == ["Nina", "Jose"]
        assert self.hub_b.online("Kim").room is None

    def test_a_room_closed_is_closed_on_the_other_node_and_its_id_given_back(self):
        created_at = self.hub_a.room("den").created_at
        self.hub_a.close_room(self.nina)
        assert self.a.published == [("close_room", "Nina", "Den")]
        assert self.jose_hears.events[-1] == ("closed", "Den", CloseReason.OWNER_CLOSED)
        assert self.hub_b.room("den") is None and self.jose.room is None
        # Each node gives back the claim of that very room.
        assert self.a.rooms_released == [("den", created_at)]
        assert self.b.rooms_released == [("den", created_at)]

    def test_a_kept_room_closed_is_deleted_from_the_store_once(self):
        olga = resolved(self.hub_a.login("Olga", Heard(), self.account("Olga")))
        resolved(self.hub_a.open_room(olga, "Hall"))
        assert self.hub_b.room("hall").persistent
        deleted: list[str] = []
        delete_room = self.store.delete_room

        def counted(key: str) -> Deferred[None]:
            deleted.append(key)
            return delete_room(key)

        self.store.delete_room = counted  # type: ignore[method-assign]
        self.hub_a.close_room(olga)
        assert self.hub_b.room("hall") is None
        # The node of the user who closed it deletes it; the other only
        # follows.
        assert deleted == ["hall"]

    def pending_claim(self) -> Deferred[bool]:
        """Node b's next name claim answers when the test says."""
        answer: Deferred[bool] = Deferred()
        self.b.claim_name = lambda key: answer  # type: ignore[method-assign]
        return answer

    def test_a_name_lost_to_another_node_while_claiming_stays_its_users(self):
        answer = self.pending_claim()
        login = self.hub_b.login("Ivo", FakeMember())
        # Node a's Ivo wins the name and is announced before b's claim answers.
        ivo = resolved(self.hub_a.login("Ivo", Heard()))
        answer.callback(False)
        self.failureResultOf(login).trap(errors.NameTaken)
        assert self.hub_b.online("ivo").id == ivo.id
        assert self.b.released == []

    def test_a_name_claimed_while_its_other_holder_came_and_went_is_refused(self):
        answer = self.pending_claim()
        login = self.hub_b.login("Ivo", FakeMember())
        ivo = resolved(self.hub_a.login("Ivo", Heard()))
        resolved(self.hub_a.logout(ivo))
        assert self.hub_b.online("ivo") is None
        answer.callback(False)
        self.failureResultOf(login).trap(errors.NameTaken)
        assert self.hub_b.online("ivo") is None

    def test_a_name_registered_or_unregistered_is_so_on_the_other_node(self):
        self.hub_a.set_registered(self.kim, True)
        assert self.hub_b.online("Kim").registered is True
        self.hub_a.set_registered(self.kim, False)
        assert self.hub_b.online("Kim").registered is False
        assert self.a.published == [
            ("set_registered", "Kim", True),
            ("set_registered", "Kim", False),
        ]

    def test_a_room_opens_once_the_cluster_gives_its_id(self):
        self.a.room_answer = answer = Deferred()
        ivo = resolved(self.hub_a.login("Ivo", Heard()))
        opening = self.hub_a.open_room(ivo, "Hut")
        assert self.a.rooms_claimed == [("hut", 1000.0)]
        assert self.hub_a.room("hut") is None  # not before the answer
        self.now = 1005.0
        answer.callback(True)
        room = self.successResultOf(opening)
        # The room is as old as its claim, on both nodes.
        assert (room.id, room.created_at, ivo.room) == ("Hut", 1000.0, room)
        assert self.hub_b.room("hut").created_at == 1000.0
        assert self.a.rooms_released == []

    def test_a_room_id_the_cluster_refuses_is_taken(self):
        self.a.room_answer = succeed(False)
        ivo = resolved(self.hub_a.login("Ivo", Heard()))
        failure = self.failureResultOf(self.hub_a.open_room(ivo, "Hut"))
        failure.trap(errors.RoomTaken)
        assert failure.value.args == ("Hut",)
        assert self.hub_a.room("hut") is None and ivo.room is None
        assert self.a.rooms_released == []  # not won: nothing to give back

    def test_a_room_refused_after_its_claim_gives_its_id_back(self):
        self.a.room_answer = answer = Deferred()
        ivo = resolved(self.hub_a.login("Ivo", Heard()))
        opening = self.hub_a.open_room(ivo, "Hut")
        self.hub_a.join_room(ivo, "den")  # while the cluster answers
        answer.callback(True)
        self.failureResultOf(opening).trap(errors.AlreadyInRoom)
        assert self.hub_a.room("hut") is None
        assert self.a.rooms_released == [("hut", 1000.0)]

    def test_a_bad_room_id_is_refused_before_the_cluster_is_asked(self):
        ivo = resolved(self.hub_a.login("Ivo", Heard()))
        self.failureResultOf(self.hub_a.open_room(ivo, "two words")).trap(
            errors.InvalidRoomId
        )
        assert self.a.rooms_claimed == []
