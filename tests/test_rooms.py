"""Rooms and their rules (core/rooms.py): fan-out, history, kept rooms.
Driven with fake members."""

from twisted.internet.defer import fail
from twisted.logger import capturedLogs
from twisted.trial.unittest import SynchronousTestCase

from menuchat.core import errors as hub
from menuchat.core.events import CloseReason
from menuchat.core.hub import Hub
from menuchat.store import Account
from menuchat.store.memory import MemoryStore
from tests.support import FakeMember, resolved


def login(chat, name):
    member = FakeMember()
    return resolved(chat.login(name, member)), member


def registered(chat, store, name, user_id):
    """A registered user logged in: its account is in the store."""
    account = Account(user_id, name, name.casefold(), "hash", 1.0)
    resolved(store.create_account(account))
    member = FakeMember()
    return resolved(chat.login(name, member, account)), member


class HubCase(SynchronousTestCase):
    """A hub with small caps on a memory store and a clock the test moves."""

    def setUp(self):
        self.now = [1565027100.0]
        self.store = MemoryStore()
        self.chat = self.make_hub(self.store)

    def make_hub(self, store, **kwargs):
        settings = dict(
            now=lambda: self.now[0],
            mailbox_size=3,
            max_rooms=2,
            max_room_members=3,
            history_size=3,
            operators=frozenset({"Olga"}),
        )
        settings.update(kwargs)
        return Hub(store, **settings)


class RoomTests(HubCase):
    """Rooms, their caps and their fan-out."""

    def test_create_room_puts_the_owner_in_it(self):
        nina, _ = login(self.chat, "Nina")
        room = self.chat.create_room(nina, "lobby")
        assert (room.owner_id, room.owner_name) == (nina.id, "Nina")
        assert room.members == (nina,)
        assert nina.room is room
        assert self.chat.room("LOBBY") is room

    def test_room_ids_are_unique_case_insensitively(self):
        nina, _ = login(self.chat, "Nina")
        jose, _ = login(self.chat, "Jose")
        self.chat.create_room(nina, "lobby")
        with self.assertRaises(hub.RoomTaken):
            self.chat.create_room(jose, "Lobby")
        assert jose.room is None

    def test_room_cap(self):
        users = [login(self.chat, f"u{n}")[0] for n in range(3)]
        self.chat.create_room(users[0], "a")
        self.chat.create_room(users[1], "b")
        with self.assertRaises(hub.TooManyRooms):
            self.chat.create_room(users[2], "c")
        assert [r.id for r in self.chat.rooms()] == ["a", "b"]

    def test_bad_room_id_is_refused(self):
        nina, _ = login(self.chat, "Nina")
        with self.assertRaises(hub.InvalidRoomId):
            self.chat.create_room(nina, "two words")
        assert self.chat.rooms() == []

    def test_join_tells_the_joiner_first_then_the_others(self):
        nina, nina_member = login(self.chat, "Nina")
        jose, jose_member = login(self.chat, "Jose")
        room = self.chat.create_room(nina, "lobby")
        self.chat.join_room(jose, "lobby")
        assert room.members == (nina, jose)
        assert jose_member.events == [("joined", "lobby", "Jose")]
        assert nina_member.events == [("joined", "lobby", "Jose")]

    def test_join_unknown_room(self):
        nina, _ = login(self.chat, "Nina")
        with self.assertRaises(hub.UnknownRoom):
            self.chat.join_room(nina, "nowhere")
        assert nina.room is None

    def test_room_member_cap(self):
        owner, _ = login(self.chat, "Owner")
        self.chat.create_room(owner, "r")
        self.chat.join_room(login(self.chat, "a")[0], "r")
        self.chat.join_room(login(self.chat, "b")[0], "r")
        late, _ = login(self.chat, "late")
        with self.assertRaises(hub.RoomFull):
            self.chat.join_room(late, "r")
        assert late.room is None
        assert len(self.chat.room("r").members) == 3

    def test_one_room_at_a_time(self):
        nina, _ = login(self.chat, "Nina")
        jose, _ = login(self.chat, "Jose")
        self.chat.create_room(nina, "a")
        self.chat.create_room(jose, "b")
        with self.assertRaises(hub.AlreadyInRoom):
            self.chat.join_room(jose, "a")
        with self.assertRaises(hub.AlreadyInRoom):
            self.chat.create_room(nina, "c")

    def test_say_reaches_every_member_and_only_them(self):
        nina, nina_member = login(self.chat, "Nina")
        jose, jose_member = login(self.chat, "Jose")
        _, outsider = login(self.chat, "Out")
        self.chat.create_room(nina, "lobby")
        self.chat.join_room(jose, "lobby")
        self.chat.say(jose, "Hello")
        assert nina_member.events[-1] == ("line", "lobby", "Jose", "Hello")
        assert jose_member.events[-1] == ("line", "lobby", "Jose", "Hello")
        assert outsider.events == []

    def test_deliveries_count_every_member_reached(self):
        nina, _ = login(self.chat, "Nina")
        jose, _ = login(self.chat, "Jose")
        self.chat.create_room(nina, "den")
        self.chat.join_room(jose, "den")
        self.chat.say(nina, "one")
        self.chat.say(jose, "two")
        assert self.chat.deliveries == 4

    def test_say_outside_a_room_is_refused(self):
        nina, _ = login(self.chat, "Nina")
        with self.assertRaises(hub.NotInRoom):
            self.chat.say(nina, "anyone?")

    def test_member_leaves_and_the_others_are_told(self):
        nina, nina_member = login(self.chat, "Nina")
        jose, jose_member = login(self.chat, "Jose")
        room = self.chat.create_room(nina, "lobby")
        self.chat.join_room(jose, "lobby")
        self.chat.leave_room(jose)
        assert room.members == (nina,)
        assert jose.room is None
        assert nina_member.events[-1] == ("left", "lobby", "Jose")
        assert ("left", "lobby", "Jose") not in jose_member.events

    def test_the_owner_cannot_leave_only_close(self):
        nina, _ = login(self.chat, "Nina")
        self.chat.create_room(nina, "lobby")
        with self.assertRaises(hub.NotOwner):
            self.chat.leave_room(nina)

    def test_only_the_owner_closes(self):
        nina, _ = login(self.chat, "Nina")
        jose, _ = login(self.chat, "Jose")
        self.chat.create_room(nina, "lobby")
        self.chat.join_room(jose, "lobby")
        with self.assertRaises(hub.NotOwner):
            self.chat.close_room(jose)
        assert self.chat.room("lobby") is not None

    def test_closing_puts_every_member_out(self):
        nina, nina_member = login(self.chat, "Nina")
        jose, jose_member = login(self.chat, "Jose")
        ana, ana_member = login(self.chat, "Ana")
        room = self.chat.create_room(nina, "lobby")
        self.chat.join_room(jose, "lobby")
        self.chat.join_room(ana, "lobby")
        self.chat.close_room(nina)
        assert self.chat.rooms() == []
        assert room.members == ()
        assert (nina.room, jose.room, ana.room) == (None, None, None)
        assert jose_member.events[-1] == ("closed", "lobby", CloseReason.OWNER_CLOSED)
        assert ana_member.events[-1] == ("closed", "lobby", CloseReason.OWNER_CLOSED)
        assert not any(e[0] == "closed" for e in nina_member.events)

    def test_owner_logout_closes_the_room(self):
        nina, nina_member = login(self.chat, "Nina")
        jose, jose_member = login(self.chat, "Jose")
        self.chat.create_room(nina, "lobby")
        self.chat.join_room(jose, "lobby")
        self.chat.logout(nina)
        assert self.chat.rooms() == []
        assert jose.room is None
        assert jose_member.events[-1] == ("closed", "lobby", CloseReason.OWNER_LEFT)
        assert not any(e[0] == "closed" for e in nina_member.events)  # gone
        # The id of the room is free again.
        self.chat.create_room(jose, "lobby")

    def test_member_logout_leaves_the_room(self):
        nina, nina_member = login(self.chat, "Nina")
        jose, _ = login(self.chat, "Jose")
        room = self.chat.create_room(nina, "lobby")
        self.chat.join_room(jose, "lobby")
        self.chat.logout(jose)
        assert room.members == (nina,)
        assert nina_member.events[-1] == ("left", "lobby", "Jose")
        assert [u.name for u in self.chat.users()] == ["Nina"]

    def test_a_member_dropping_while_a_line_is_delivered_breaks_nothing(self):
        chat = self.chat
        owner, _ = login(chat, "Owner")
        chat.create_room(owner, "r")

        class Dropper(FakeMember):
            def room_line(self, event):
                super().room_line(event)
                chat.logout(dropper)

        dropper = resolved(chat.login("Dropper", Dropper()))
        chat.join_room(dropper, "r")
        last, last_member = login(chat, "Last")
        chat.join_room(last, "r")
        chat.say(owner, "hi")
        assert last_member.events[-1] == ("line", "r", "Owner", "hi")
        assert [m.name for m in chat.room("r").members] == ["Owner", "Last"]


class HistoryTests(HubCase):
    """The last lines of a room, appended once per line and bounded."""

    def test_a_joiner_gets_the_last_lines_with_their_times(self):
        nina, _ = login(self.chat, "Nina")
        self.chat.create_room(nina, "lobby")
        for n in range(5):
            self.now[0] += 60
            self.chat.say(nina, f"line {n}")
        jose, jose_member = login(self.chat, "Jose")
        events = []
        jose_member.member_joined = events.append
        self.chat.join_room(jose, "lobby")
        (joined,) = events
        assert [line.text for line in joined.history] == ["line 2", "line 3", "line 4"]
        assert joined.history[-1].said_at == 1565027100.0 + 300
        assert joined.members == ("Nina", "Jose")

    def test_a_closed_rooms_history_is_gone_with_it(self):
        nina, _ = login(self.chat, "Nina")
        self.chat.create_room(nina, "lobby")
        self.chat.say(nina, "old")
        self.chat.close_room(nina)
        room = self.chat.create_room(nina, "lobby")
        assert list(room.history) == []

    def test_a_history_of_zero_keeps_nothing(self):
        chat = self.make_hub(MemoryStore(), history_size=0)
        nina, _ = login(chat, "Nina")
        room = chat.create_room(nina, "lobby")
        chat.say(nina, "gone")
        assert list(room.history) == []


class KeptRoomTests(HubCase):
    """A registered owner's room outlives the owner's connection and a restart."""

    def test_a_registered_owners_room_stays_when_the_owner_leaves(self):
        nina, _ = registered(self.chat, self.store, "Nina", 7)
        jose, jose_member = login(self.chat, "Jose")
        room = self.chat.create_room(nina, "lobby")
        self.chat.join_room(jose, "lobby")
        assert room.persistent
        self.chat.leave_room(nina)  # bye, as the owner
        assert self.chat.room("lobby") is room
        assert jose_member.events[-1] == ("left", "lobby", "Nina")
        resolved(self.chat.logout(jose))
        assert self.chat.room("lobby") is room  # empty, and still open
        self.chat.join_room(nina, "lobby")  # the owner comes back
        self.chat.close_room(nina)  # exit
        assert self.chat.room("lobby") is None
        assert resolved(self.store.saved_rooms()) == []

    def test_a_registered_owner_dropping_leaves_the_room_open(self):
        nina, _ = registered(self.chat, self.store, "Nina", 7)
        self.chat.create_room(nina, "lobby")
        resolved(self.chat.logout(nina))
        assert self.chat.room("lobby") is not None

    def test_a_guest_owners_room_still_closes_when_the_owner_leaves(self):
        ann, _ = login(self.chat, "Ann")
        jose, jose_member = login(self.chat, "Jose")
        self.chat.create_room(ann, "den")
        self.chat.join_room(jose, "den")
        with self.assertRaises(hub.NotOwner):
            self.chat.leave_room(ann)
        resolved(self.chat.logout(ann))
        assert self.chat.room("den") is None
        assert jose_member.events[-1] == ("closed", "den", CloseReason.OWNER_LEFT)

    def test_a_kept_room_handed_over_is_kept_for_its_new_owner_or_dropped(self):
        nina, _ = registered(self.chat, self.store, "Nina", 7)
        paul, _ = registered(self.chat, self.store, "Paul", 8)
        ann, _ = login(self.chat, "Ann")
        self.chat.create_room(nina, "lobby")
        self.chat.join_room(paul, "lobby")
        self.chat.join_room(ann, "lobby")
        self.chat.give_room(nina, "Paul")
        (saved,) = resolved(self.store.saved_rooms())
        assert (saved.key, saved.owner_id, saved.owner_name) == ("lobby", 8, "Paul")
        self.chat.give_room(paul, "Ann")  # a guest's room is not kept
        assert resolved(self.store.saved_rooms()) == []

    def test_a_room_the_store_fails_to_keep_is_logged(self):
        def broken(room):
            return fail(RuntimeError("disk full"))

        self.store.save_room = broken
        nina, _ = registered(self.chat, self.store, "Nina", 7)
        with capturedLogs() as events:
            self.chat.create_room(nina, "lobby")
        (failed,) = events
        assert failed["log_format"] == "Keeping a room failed"
        assert failed["log_failure"].check(RuntimeError)
        assert len(self.flushLoggedErrors(RuntimeError)) == 1
        assert self.chat.room("lobby") is not None

    def test_a_kept_room_and_its_history_come_back_after_a_restart(self):
        nina, _ = registered(self.chat, self.store, "Nina", 7)
        self.chat.create_room(nina, "lobby")
        self.chat.set_topic(nina, "welcome")
        for text in ("one", "two", "three", "four"):
            self.chat.say(nina, text)
        restarted = self.make_hub(self.store)
        resolved(restarted.restore_rooms())
        room = restarted.room("lobby")
        assert room is not None and room.persistent
        assert (room.owner_id, room.owner_name, room.topic) == (7, "Nina", "welcome")
        assert [line.text for line in room.history] == ["two", "three", "four"]
        assert room.members == ()

    def test_a_restored_room_keeps_its_spelling_and_age_and_its_history_cap(self):
        nina, _ = registered(self.chat, self.store, "Nina", 7)
        self.now[0] = 1000.0
        self.chat.create_room(nina, "Lobby")
        self.now[0] = 2000.0
        restarted = self.make_hub(self.store)
        resolved(restarted.restore_rooms())
        room = restarted.room("LOBBY")
        assert (room.id, room.key, room.created_at) == ("Lobby", "lobby", 1000.0)
        ann, _ = login(restarted, "Ann")
        restarted.join_room(ann, "lobby")
        for text in ("one", "two", "three", "four"):
            restarted.say(ann, text)
        assert [line.text for line in room.history] == ["two", "three", "four"]

    def test_a_kept_rooms_lines_are_stored_with_speaker_and_time_up_to_the_cap(self):
        nina, _ = registered(self.chat, self.store, "Nina", 7)
        self.chat.create_room(nina, "lobby")
        for n, text in enumerate(("one", "two", "three", "four")):
            self.now[0] = 1000.0 + n
            self.chat.say(nina, text)
        stored = resolved(self.store.history("lobby", 100))
        assert [(h.speaker, h.text, h.said_at) for h in stored] == [
            ("Nina", "two", 1001.0),
            ("Nina", "three", 1002.0),
            ("Nina", "four", 1003.0),
        ]

    def test_a_guest_room_does_not_come_back(self):
        ann, _ = login(self.chat, "Ann")
        self.chat.create_room(ann, "den")
        restarted = self.make_hub(self.store)
        resolved(restarted.restore_rooms())
        assert restarted.rooms() == []
