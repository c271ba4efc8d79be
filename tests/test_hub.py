"""The hub's rules, driven directly with fake members: no I/O, no Twisted."""

import pytest

from menuchat.core import errors as hub
from menuchat.core.events import CloseReason
from menuchat.core.hub import Hub
from menuchat.store.memory import MemoryStore
from tests.support import resolved


class FakeMember:
    """Records every event the hub sends, as tuples."""

    def __init__(self):
        self.events = []

    def room_line(self, event):
        self.events.append(("line", event.room, event.speaker, event.text))

    def member_joined(self, event):
        self.events.append(("joined", event.room, event.name))

    def member_left(self, event):
        self.events.append(("left", event.room, event.name))

    def room_closed(self, event):
        self.events.append(("closed", event.room, event.reason))

    def message_waiting(self, event):
        self.events.append(("waiting", event.message.text, event.unread))

    def message_unread(self, event):
        message = event.message
        self.events.append(("unread", message.recipient_name, message.text))


@pytest.fixture
def chat():
    now = [1565027100.0]
    return Hub(
        MemoryStore(),
        now=lambda: now[0],
        mailbox_size=3,
        max_rooms=2,
        max_room_members=3,
    )


def login(chat, name):
    member = FakeMember()
    return resolved(chat.login(name, member)), member


def test_login_gives_increasing_unique_ids(chat):
    nina, _ = login(chat, "Nina")
    jose, _ = login(chat, "Jose")
    assert (nina.id, jose.id) == (1, 2)
    assert [u.name for u in chat.users()] == ["Nina", "Jose"]


def test_ids_are_never_reused_after_logout(chat):
    seen = set()
    for _ in range(5):
        user, _ = login(chat, "Same")
        assert user.id not in seen
        seen.add(user.id)
        chat.logout(user)
    assert chat.users() == []


def test_names_are_unique_case_insensitively(chat):
    login(chat, "Nina")
    with pytest.raises(hub.NameTaken):
        login(chat, "nINA")
    assert len(chat.users()) == 1


def test_names_spelled_differently_in_unicode_are_the_same_name(chat):
    login(chat, "Jos\u00e9")  # precomposed é
    with pytest.raises(hub.NameTaken):
        login(chat, "Jose\u0301")  # e and a combining acute accent
    with pytest.raises(hub.NameTaken):
        login(chat, "\uff2a\uff4f\uff53\u00e9")  # fullwidth letters


def test_a_name_is_free_again_after_logout(chat):
    nina, _ = login(chat, "Nina")
    chat.logout(nina)
    again, _ = login(chat, "nina")
    assert again.id != nina.id


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("", "empty"),
        ("x" * 33, "too long"),
        ("a b", "space"),
        ("bell\x07", "control character"),
        ("esc\x1b[2J", "control character"),
        ("rtl\u202eevil", "control character"),
        ("tab\tname", "control character"),
        ("a:b", "punctuation"),
        ("a,b", "punctuation"),
    ],
)
def test_bad_names_are_refused_with_a_reason(chat, name, reason):
    with pytest.raises(hub.InvalidName) as caught:
        login(chat, name)
    assert caught.value.problem.value == reason
    assert chat.users() == []


def test_names_may_be_any_printable_unicode(chat):
    user, _ = login(chat, "Zoë🙂")
    assert user.name == "Zoë🙂"
    assert login(chat, "x" * 32)[0].name == "x" * 32


def test_message_goes_to_the_mailbox_and_the_recipient_is_told(chat):
    nina, _ = login(chat, "Nina")
    jose, jose_member = login(chat, "Jose")
    message = resolved(chat.send_message(nina, jose.id, "Hello World!"))
    assert (message.sender_name, message.recipient_name) == ("Nina", "Jose")
    assert message.sent_at == 1565027100.0
    assert jose_member.events == [("waiting", "Hello World!", 1)]
    assert resolved(chat.read_messages(jose)) == [message]


def test_reading_empties_the_mailbox_oldest_first(chat):
    nina, _ = login(chat, "Nina")
    jose, _ = login(chat, "Jose")
    for text in ["one", "two", "three"]:
        resolved(chat.send_message(nina, jose.id, text))
    assert [m.text for m in resolved(chat.read_messages(jose))] == [
        "one",
        "two",
        "three",
    ]
    assert resolved(chat.read_messages(jose)) == []


def test_unknown_recipient_stores_nothing(chat):
    nina, _ = login(chat, "Nina")
    with pytest.raises(hub.UnknownUser):
        resolved(chat.send_message(nina, 99, "hello"))
    assert resolved(chat.read_messages(nina)) == []


def test_a_departed_users_id_reaches_no_one(chat):
    nina, _ = login(chat, "Nina")
    jose, _ = login(chat, "Jose")
    chat.logout(jose)
    newcomer, newcomer_member = login(chat, "Jose")
    with pytest.raises(hub.UnknownUser):
        resolved(chat.send_message(nina, jose.id, "for the old Jose"))
    assert newcomer_member.events == []
    assert resolved(chat.read_messages(newcomer)) == []


def test_empty_message_stores_nothing(chat):
    nina, _ = login(chat, "Nina")
    jose, jose_member = login(chat, "Jose")
    with pytest.raises(hub.EmptyMessage):
        resolved(chat.send_message(nina, jose.id, "   "))
    assert jose_member.events == []
    assert resolved(chat.read_messages(jose)) == []


def test_full_mailbox_refuses_and_keeps_what_it_has(chat):
    nina, _ = login(chat, "Nina")
    jose, _ = login(chat, "Jose")
    for n in range(3):
        resolved(chat.send_message(nina, jose.id, f"m{n}"))
    with pytest.raises(hub.MailboxFull):
        resolved(chat.send_message(nina, jose.id, "one too many"))
    assert [m.text for m in resolved(chat.read_messages(jose))] == ["m0", "m1", "m2"]


def test_unread_mail_of_a_departing_user_is_reported_to_senders(chat):
    nina, nina_member = login(chat, "Nina")
    jose, _ = login(chat, "Jose")
    resolved(chat.send_message(nina, jose.id, "are you there?"))
    chat.logout(jose)
    assert nina_member.events == [("unread", "Jose", "are you there?")]
    assert chat.user(jose.id) is None


def test_create_room_puts_the_owner_in_it(chat):
    nina, _ = login(chat, "Nina")
    room = chat.create_room(nina, "lobby")
    assert room.owner is nina
    assert room.members == (nina,)
    assert nina.room is room
    assert chat.room("LOBBY") is room


def test_room_ids_are_unique_case_insensitively(chat):
    nina, _ = login(chat, "Nina")
    jose, _ = login(chat, "Jose")
    chat.create_room(nina, "lobby")
    with pytest.raises(hub.RoomTaken):
        chat.create_room(jose, "Lobby")
    assert jose.room is None


def test_room_cap(chat):
    users = [login(chat, f"u{n}")[0] for n in range(3)]
    chat.create_room(users[0], "a")
    chat.create_room(users[1], "b")
    with pytest.raises(hub.TooManyRooms):
        chat.create_room(users[2], "c")
    assert [r.id for r in chat.rooms()] == ["a", "b"]


def test_bad_room_id_is_refused(chat):
    nina, _ = login(chat, "Nina")
    with pytest.raises(hub.InvalidRoomId):
        chat.create_room(nina, "two words")
    assert chat.rooms() == []


def test_join_tells_the_joiner_first_then_the_others(chat):
    nina, nina_member = login(chat, "Nina")
    jose, jose_member = login(chat, "Jose")
    room = chat.create_room(nina, "lobby")
    chat.join_room(jose, "lobby")
    assert room.members == (nina, jose)
    assert jose_member.events == [("joined", "lobby", "Jose")]
    assert nina_member.events == [("joined", "lobby", "Jose")]


def test_join_unknown_room(chat):
    nina, _ = login(chat, "Nina")
    with pytest.raises(hub.UnknownRoom):
        chat.join_room(nina, "nowhere")
    assert nina.room is None


def test_room_member_cap(chat):
    owner, _ = login(chat, "Owner")
    chat.create_room(owner, "r")
    chat.join_room(login(chat, "a")[0], "r")
    chat.join_room(login(chat, "b")[0], "r")
    late, _ = login(chat, "late")
    with pytest.raises(hub.RoomFull):
        chat.join_room(late, "r")
    assert late.room is None
    assert len(chat.room("r").members) == 3


def test_one_room_at_a_time(chat):
    nina, _ = login(chat, "Nina")
    jose, _ = login(chat, "Jose")
    chat.create_room(nina, "a")
    chat.create_room(jose, "b")
    with pytest.raises(hub.AlreadyInRoom):
        chat.join_room(jose, "a")
    with pytest.raises(hub.AlreadyInRoom):
        chat.create_room(nina, "c")


def test_say_reaches_every_member_and_only_them(chat):
    nina, nina_member = login(chat, "Nina")
    jose, jose_member = login(chat, "Jose")
    _, outsider = login(chat, "Out")
    chat.create_room(nina, "lobby")
    chat.join_room(jose, "lobby")
    chat.say(jose, "Hello")
    assert nina_member.events[-1] == ("line", "lobby", "Jose", "Hello")
    assert jose_member.events[-1] == ("line", "lobby", "Jose", "Hello")
    assert outsider.events == []


def test_say_outside_a_room_is_refused(chat):
    nina, _ = login(chat, "Nina")
    with pytest.raises(hub.NotInRoom):
        chat.say(nina, "anyone?")


def test_member_leaves_and_the_others_are_told(chat):
    nina, nina_member = login(chat, "Nina")
    jose, jose_member = login(chat, "Jose")
    room = chat.create_room(nina, "lobby")
    chat.join_room(jose, "lobby")
    chat.leave_room(jose)
    assert room.members == (nina,)
    assert jose.room is None
    assert nina_member.events[-1] == ("left", "lobby", "Jose")
    assert ("left", "lobby", "Jose") not in jose_member.events


def test_the_owner_cannot_leave_only_close(chat):
    nina, _ = login(chat, "Nina")
    chat.create_room(nina, "lobby")
    with pytest.raises(hub.NotOwner):
        chat.leave_room(nina)


def test_only_the_owner_closes(chat):
    nina, _ = login(chat, "Nina")
    jose, _ = login(chat, "Jose")
    chat.create_room(nina, "lobby")
    chat.join_room(jose, "lobby")
    with pytest.raises(hub.NotOwner):
        chat.close_room(jose)
    assert chat.room("lobby") is not None


def test_closing_puts_every_member_out(chat):
    nina, nina_member = login(chat, "Nina")
    jose, jose_member = login(chat, "Jose")
    ana, ana_member = login(chat, "Ana")
    room = chat.create_room(nina, "lobby")
    chat.join_room(jose, "lobby")
    chat.join_room(ana, "lobby")
    chat.close_room(nina)
    assert chat.rooms() == []
    assert room.members == ()
    assert (nina.room, jose.room, ana.room) == (None, None, None)
    assert jose_member.events[-1] == ("closed", "lobby", CloseReason.OWNER_CLOSED)
    assert ana_member.events[-1] == ("closed", "lobby", CloseReason.OWNER_CLOSED)
    assert not any(e[0] == "closed" for e in nina_member.events)


def test_owner_logout_closes_the_room(chat):
    nina, _ = login(chat, "Nina")
    jose, jose_member = login(chat, "Jose")
    chat.create_room(nina, "lobby")
    chat.join_room(jose, "lobby")
    chat.logout(nina)
    assert chat.rooms() == []
    assert jose.room is None
    assert jose_member.events[-1] == ("closed", "lobby", CloseReason.OWNER_LEFT)
    # The id of the room is free again.
    chat.create_room(jose, "lobby")


def test_member_logout_leaves_the_room(chat):
    nina, nina_member = login(chat, "Nina")
    jose, _ = login(chat, "Jose")
    room = chat.create_room(nina, "lobby")
    chat.join_room(jose, "lobby")
    chat.logout(jose)
    assert room.members == (nina,)
    assert nina_member.events[-1] == ("left", "lobby", "Jose")
    assert [u.name for u in chat.users()] == ["Nina"]


def test_logout_twice_is_harmless(chat):
    nina, _ = login(chat, "Nina")
    chat.logout(nina)
    chat.logout(nina)
    assert chat.users() == []


def test_a_member_dropping_while_a_line_is_delivered_breaks_nothing(chat):
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
