"""A node's state, and a mirror made to agree with other nodes' states:
pure hub logic, on the memory store."""

from __future__ import annotations

from twisted.trial.unittest import SynchronousTestCase

from menuchat.core.events import CloseReason
from menuchat.core.hub import Hub
from menuchat.core.mirror import agree, state_of
from menuchat.store.memory import MemoryStore
from tests.support import FakeMember, resolved


class MirrorTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.hub = Hub(MemoryStore(), now=lambda: 1000.0)
        self.stand_ins: dict[int, FakeMember] = {}

    def stand_in(self, node: str, user_id: int) -> FakeMember:
        self.stand_ins[user_id] = member = FakeMember()
        return member

    def test_a_nodes_state_is_its_users_their_rooms_and_the_rooms_they_own(self):
        nina = resolved(self.hub.login("Nina", FakeMember()))
        olga = resolved(self.hub.login("Olga", FakeMember()))
        self.hub.create_room(nina, "Lobby")
        self.hub.set_topic(nina, "hi")
        self.hub.join_room(olga, "lobby")
        self.hub.mute(nina, "Olga")
        self.hub.add_remote("b", 900, "Jose", True, FakeMember())
        self.assertEqual(
            state_of(self.hub),
            [
                [[nina.id, "Nina", False, "lobby"], [olga.id, "Olga", False, "lobby"]],
                [["Lobby", nina.id, "Nina", "hi", False, 1000.0, [olga.id]]],
            ],
        )
        self.assertEqual(state_of(self.hub, "b"), [[[900, "Jose", True, None]], []])

    def test_a_late_mirror_takes_in_users_rooms_and_places(self):
        state = [
            [[900, "Jose", False, "den"], [901, "Kim", True, "den"]],
            [["Den", 900, "Jose", "welcome", False, 5.0, [901]]],
        ]
        agree(self.hub, {"b": state}, self.stand_in)
        room = self.hub.room("den")
        self.assertEqual(
            (room.id, room.owner_name, room.topic, room.muted, room.created_at),
            ("Den", "Jose", "welcome", {901}, 5.0),
        )
        self.assertEqual([(m.name, m.node) for m in room.members],
                         [("Jose", "b"), ("Kim", "b")])  # fmt: skip
        self.assertTrue(self.hub.user(901).registered)
        self.assertEqual(sorted(self.stand_ins), [900, 901])
        # Agreeing again with the same state changes nothing.
        agree(self.hub, {"b": state}, self.stand_in)
        self.assertEqual(len(self.hub.room("den").members), 2)

    def test_what_a_node_no_longer_holds_is_dropped_and_closed(self):
        nina_hears = FakeMember()
        nina = resolved(self.hub.login("Nina", nina_hears))
        state = [[[900, "Jose", False, "den"], [901, "Kim", False, None]],
                 [["den", 900, "Jose", "", False, 5.0, []]]]  # fmt: skip
        agree(self.hub, {"b": state}, self.stand_in)
        self.hub.join_room(nina, "den")
        # Node b now holds Jose only, in no room, owning none: the room he
        # owned closed there; Kim left.
        agree(self.hub, {"b": [[[900, "Jose", False, None]], []]}, self.stand_in)
        self.assertEqual(
            nina_hears.events[-1], ("closed", "den", CloseReason.OWNER_CLOSED)
        )
        self.assertIsNone(self.hub.room("den"))
        self.assertEqual([u.name for u in self.hub.users()], ["Nina", "Jose"])

    def test_nodes_without_a_state_are_left_as_they_are(self):
        agree(self.hub, {"b": [[[900, "Jose", False, None]], []]}, self.stand_in)
        agree(self.hub, {"c": [[], []]}, self.stand_in)
        self.assertEqual([u.name for u in self.hub.users()], ["Jose"])
        agree(self.hub, {"b": [[], []]}, self.stand_in)
        self.assertEqual(self.hub.users(), [])

    def test_stand_ins_are_asked_for_by_node_and_kept_rooms_stay_kept(self):
        asked = []

        def stand_in(node: str, user_id: int) -> FakeMember:
            asked.append((node, user_id))
            return FakeMember()

        state = [[[900, "Jose", True, None]],
                 [["Den", 900, "Jose", "", True, 5.0, []]]]  # fmt: skip
        agree(self.hub, {"b": state}, stand_in)
        self.assertEqual(asked, [("b", 900)])
        self.assertTrue(self.hub.room("den").persistent)
        # A kept room is the store's: not closed when its owner's node no
        # longer lists it.
        agree(self.hub, {"b": [[[900, "Jose", True, None]], []]}, stand_in)
        self.assertIsNotNone(self.hub.room("den"))

    def test_each_stale_room_is_closed_not_only_the_first(self):
        nina = resolved(self.hub.login("Nina", FakeMember()))
        self.hub.create_room(nina, "Mine")  # first in order, and not b's
        state = [[[900, "Jose", False, None], [901, "Kim", False, None]],
                 [["Den", 900, "Jose", "", False, 5.0, []],
                  ["Hut", 901, "Kim", "", False, 6.0, []]]]  # fmt: skip
        agree(self.hub, {"b": state}, self.stand_in)
        state[1] = []
        agree(self.hub, {"b": state}, self.stand_in)
        self.assertEqual([r.id for r in self.hub.rooms()], ["Mine"])

    def test_rooms_of_a_node_without_a_state_stay(self):
        state = [[[900, "Jose", False, "den"]],
                 [["Den", 900, "Jose", "", False, 5.0, []]]]  # fmt: skip
        agree(self.hub, {"b": state}, self.stand_in)
        agree(self.hub, {"c": [[], []]}, self.stand_in)
        self.assertEqual([m.name for m in self.hub.room("den").members], ["Jose"])

    def test_known_users_are_moved_and_updated_and_local_ones_left_alone(self):
        nina = resolved(self.hub.login("Nina", FakeMember()))
        den = [["Den", 900, "Jose", "", False, 5.0, []]]
        agree(self.hub, {"b": [[[900, "Jose", False, "den"],
                                [901, "Kim", False, None]], den]},
              self.stand_in)  # fmt: skip
        # Kim has joined the den and registered; b claims Nina's id too.
        agree(self.hub, {"b": [[[900, "Jose", False, "den"],
                                [901, "Kim", True, "den"],
                                [nina.id, "Nina", True, "den"]], den]},
              self.stand_in)  # fmt: skip
        self.assertEqual(
            [m.name for m in self.hub.room("den").members], ["Jose", "Kim"]
        )
        self.assertTrue(self.hub.user(901).registered)
        self.assertIsNone(nina.room)
        self.assertFalse(nina.registered)

    def test_a_room_whose_owner_is_not_listed_is_left_as_it_is(self):
        # Its owner's state has not come yet: the heartbeat decides.
        state = [[], [["Den", 900, "Jose", "", False, 5.0, []]]]
        agree(self.hub, {"b": state}, self.stand_in)
        agree(self.hub, {"b": [[], []]}, self.stand_in)
        self.assertIsNotNone(self.hub.room("den"))

    def test_a_user_moved_to_another_room_leaves_the_first(self):
        rooms = [["Den", 900, "Jose", "", False, 5.0, []],
                 ["Hut", 901, "Kim", "", False, 6.0, []]]  # fmt: skip
        users = [[900, "Jose", False, "den"], [901, "Kim", False, "den"]]
        agree(self.hub, {"b": [users, rooms]}, self.stand_in)
        users[0][3] = "hut"
        agree(self.hub, {"b": [users, rooms]}, self.stand_in)
        self.assertEqual([m.name for m in self.hub.room("den").members], ["Kim"])
        self.assertEqual([m.name for m in self.hub.room("hut").members], ["Jose"])
        self.assertIs(self.hub.user(900).room, self.hub.room("hut"))

    def test_agreeing_again_keeps_a_rooms_members_here_and_its_history(self):
        hub = self.hub = Hub(MemoryStore(), now=lambda: 1000.0, history_size=2)
        nina = resolved(hub.login("Nina", FakeMember()))
        state = [[[900, "Jose", False, "den"]],
                 [["Den", 900, "Jose", "", False, 5.0, []]]]  # fmt: skip
        agree(hub, {"b": state}, self.stand_in)
        hub.join_room(nina, "den")
        for text in ("one", "two", "three"):
            hub.say(nina, text)
        agree(hub, {"b": state}, self.stand_in)
        room = hub.room("den")
        self.assertEqual([m.name for m in room.members], ["Jose", "Nina"])
        self.assertIs(nina.room, room)
        # The history is the room's, and as short as any room's here.
        self.assertEqual([line.text for line in room.history], ["two", "three"])
