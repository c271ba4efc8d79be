"""Moderation (core/moderation.py): by a room's owner or a server operator,
kicks, voices, handovers, topics, broadcasts and disconnections. Driven
with fake members."""

from twisted.logger import capturedLogs, formatEvent

from menuchat.core import errors as hub
from menuchat.core.events import Change, CloseReason, LeaveReason, MemberLeft
from tests.support import resolved
from tests.test_rooms import HubCase, login, registered


class ModerationTests(HubCase):
    """What owners and operators may do, and to whom."""

    def setUp(self):
        super().setUp()
        self.nina, self.nina_member = login(self.chat, "Nina")
        self.jose, self.jose_member = login(self.chat, "Jose")
        self.ana, self.ana_member = login(self.chat, "Ana")
        self.room = self.chat.create_room(self.nina, "lobby")
        self.chat.join_room(self.jose, "lobby")
        self.chat.join_room(self.ana, "lobby")

    def test_the_owner_kicks_a_member_out_and_everyone_is_told(self):
        self.chat.kick(self.nina, "jose")
        assert self.jose.room is None
        assert self.room.members == (self.nina, self.ana)
        assert self.jose_member.events[-1] == ("left", "lobby", "Jose")
        assert self.ana_member.events[-1] == ("left", "lobby", "Jose")

    def test_a_muted_member_cannot_speak_until_unmuted(self):
        self.chat.mute(self.nina, "Jose")
        assert self.ana_member.events[-1] == ("changed", "lobby", Change.MUTED, "Jose")
        with self.assertRaises(hub.Muted):
            self.chat.say(self.jose, "hello?")
        assert self.ana_member.events[-1][0] == "changed"
        self.chat.mute(self.nina, "Jose", muted=False)
        self.chat.say(self.jose, "back")
        assert self.ana_member.events[-1] == ("line", "lobby", "Jose", "back")

    def test_the_owner_hands_the_room_over(self):
        self.chat.give_room(self.nina, "Jose")
        assert (self.room.owner_id, self.room.owner_name) == (self.jose.id, "Jose")
        assert self.ana_member.events[-1] == ("changed", "lobby", Change.OWNER, "Jose")
        with self.assertRaises(hub.NotAllowed):
            self.chat.kick(self.nina, "Ana")  # no longer the owner
        self.chat.leave_room(self.nina)  # an ordinary member now
        self.chat.kick(self.jose, "Ana")
        assert self.room.members == (self.jose,)

    def test_the_topic_is_set_by_the_owner_only(self):
        with self.assertRaises(hub.NotAllowed):
            self.chat.set_topic(self.jose, "mine now")
        self.chat.set_topic(self.nina, "maths on Monday")
        assert self.room.topic == "maths on Monday"
        assert self.jose_member.events[-1] == ("changed", "lobby", Change.TOPIC, "")
        # A guest's room is not kept: its topic is not written either.
        assert not self.room.persistent
        assert resolved(self.store.saved_rooms()) == []

    def test_members_cannot_moderate_and_no_one_moderates_the_owner(self):
        for action in (self.chat.kick, self.chat.mute, self.chat.give_room):
            with self.assertRaises(hub.NotAllowed):
                action(self.jose, "Ana")
        with self.assertRaises(hub.NotAllowed):
            self.chat.kick(self.nina, "Nina")
        with self.assertRaises(hub.UnknownUser):
            self.chat.kick(self.nina, "Olga")  # not online
        login(self.chat, "Eve")
        with self.assertRaises(hub.NotHere):
            self.chat.kick(self.nina, "Eve")  # online, not in the room
        assert self.room.members == (self.nina, self.jose, self.ana)

    def test_an_operator_moderates_any_room_from_anywhere(self):
        olga, _ = registered(self.chat, self.store, "Olga", 99)
        assert self.chat.is_operator(olga)
        self.chat.mute(olga, "Ana")
        assert self.ana.id in self.room.muted
        self.chat.kick(olga, "Jose")
        assert self.jose.room is None
        with self.assertRaises(hub.NotAllowed):
            self.chat.kick(olga, "Nina")  # the owner stays
        self.chat.close_room(olga, "lobby")
        assert self.chat.room("lobby") is None
        assert self.nina_member.events[-1] == (
            "closed",
            "lobby",
            CloseReason.OWNER_CLOSED,
        )

    def test_a_guest_named_like_an_operator_is_no_operator(self):
        olga, _ = login(self.chat, "olga")
        assert not self.chat.is_operator(olga)
        with self.assertRaises(hub.NotAllowed):
            self.chat.broadcast(olga, "hi")
        with self.assertRaises(hub.NotOwner):
            self.chat.close_room(olga, "lobby")

    def test_an_operator_broadcasts_and_disconnects(self):
        olga, olga_member = registered(self.chat, self.store, "Olga", 99)
        self.chat.broadcast(olga, "maintenance at noon")
        for member in (self.nina_member, self.jose_member, olga_member):
            assert member.events[-1] == ("broadcast", "Olga", "maintenance at noon")
        self.chat.disconnect(olga, "jose")
        assert self.jose_member.events[-1] == ("disconnected", "Olga")
        with self.assertRaises(hub.UnknownUser):
            self.chat.disconnect(olga, "nobody")

    def test_every_moderation_is_logged_in_full(self):
        olga, _ = registered(self.chat, self.store, "Olga", 99)
        with capturedLogs() as events:
            self.chat.mute(self.nina, "Jose")
            self.chat.mute(self.nina, "Jose", muted=False)
            self.chat.set_topic(self.nina, "maths")
            self.chat.kick(self.nina, "Jose")
            self.chat.give_room(self.nina, "Ana")
            self.chat.broadcast(olga, "noon")
            self.chat.disconnect(olga, "jose")
            self.chat.close_room(olga, "lobby")
        assert [formatEvent(e) for e in events] == [
            "Nina muted Jose in lobby",
            "Nina unmuted Jose in lobby",
            "Nina set the topic of lobby: maths",
            "Nina kicked Jose from lobby",
            "Nina gave room lobby to Ana",
            "Olga broadcast: noon",
            "Olga disconnected Jose",
            "Olga closed room lobby",
        ]

    def test_a_kick_says_who_kicked_and_why(self):
        left = []
        self.jose_member.member_left = left.append
        self.chat.kick(self.nina, "Jose")
        self.chat.join_room(self.jose, "lobby")
        self.chat.kick(self.nina, "Jose", "spam")
        assert left == [
            MemberLeft("lobby", "Jose", self.jose.id, LeaveReason.KICKED, "Nina", ""),
            MemberLeft(
                "lobby", "Jose", self.jose.id, LeaveReason.KICKED, "Nina", "spam"
            ),
        ]

    def test_a_kicked_member_comes_back_with_a_voice(self):
        self.chat.mute(self.nina, "Jose")
        self.chat.kick(self.nina, "Jose")
        self.chat.join_room(self.jose, "lobby")
        self.chat.say(self.jose, "back")
        assert self.ana_member.events[-1] == ("line", "lobby", "Jose", "back")

    def test_a_muted_member_given_the_room_has_a_voice(self):
        self.chat.mute(self.nina, "Jose")
        self.chat.give_room(self.nina, "Jose")
        self.chat.say(self.jose, "mine now")
        assert self.ana_member.events[-1] == ("line", "lobby", "Jose", "mine now")

    def test_refusals_name_the_user_asked_for(self):
        olga, _ = registered(self.chat, self.store, "Olga", 99)
        with self.assertRaises(hub.UnknownUser) as caught:
            self.chat.kick(self.nina, "Nobody")
        assert caught.exception.args == ("Nobody",)
        with self.assertRaises(hub.UnknownUser) as caught:
            self.chat.disconnect(olga, "Nobody")
        assert caught.exception.args == ("Nobody",)
        login(self.chat, "Eve")
        with self.assertRaises(hub.NotHere) as caught:
            self.chat.kick(self.nina, "eve")
        assert caught.exception.args == ("eve",)

    def test_joining_and_creating_refusals_name_the_room(self):
        eve, _ = login(self.chat, "Eve")
        with self.assertRaises(hub.RoomTaken) as caught:
            self.chat.create_room(eve, "LOBBY")
        assert caught.exception.args == ("LOBBY",)
        with self.assertRaises(hub.UnknownRoom) as caught:
            self.chat.join_room(eve, "Nowhere")
        assert caught.exception.args == ("Nowhere",)
        with self.assertRaises(hub.RoomFull) as caught:
            self.chat.join_room(eve, "LOBBY")
        assert caught.exception.args == ("lobby",)

    def test_a_joiner_is_told_when_it_joined(self):
        joined = []
        eve, eve_member = login(self.chat, "Eve")
        eve_member.member_joined = joined.append
        self.chat.kick(self.nina, "Ana")
        self.now[0] = 1565027200.0
        self.chat.join_room(eve, "lobby")
        assert [(e.name, e.at) for e in joined] == [("Eve", 1565027200.0)]

    def test_closing_refusals_name_the_room(self):
        olga, _ = registered(self.chat, self.store, "Olga", 99)
        with self.assertRaises(hub.UnknownRoom) as caught:
            self.chat.close_room(olga, "Nowhere")
        assert caught.exception.args == ("Nowhere",)
        with self.assertRaises(hub.NotOwner) as caught:
            self.chat.close_room(self.jose)
        assert caught.exception.args == ("lobby",)

    def test_refusals_name_the_room(self):
        self.chat.mute(self.nina, "Jose")
        with self.assertRaises(hub.Muted) as caught:
            self.chat.say(self.jose, "hello?")
        assert caught.exception.args == ("lobby",)
        ann, _ = login(self.chat, "Ann")
        self.chat.create_room(ann, "den")
        with self.assertRaises(hub.NotOwner) as caught:
            self.chat.leave_room(ann)
        assert caught.exception.args == ("den",)

    def test_an_owner_cannot_reach_into_another_room(self):
        eve, _ = login(self.chat, "Eve")
        self.chat.create_room(eve, "den")
        with self.assertRaises(hub.NotHere):
            self.chat.kick(eve, "Jose")
        assert self.jose.room is self.room
