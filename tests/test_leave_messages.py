"""A leaver's last word: the message of a leave, a drop or a kick reaches
the room's members (IRC shows it in PART, QUIT and KICK)."""

from twisted.trial.unittest import SynchronousTestCase

from menuchat.core.events import LeaveReason
from menuchat.core.hub import Hub
from menuchat.store.memory import MemoryStore
from tests.support import resolved


class Listener:
    def __init__(self):
        self.left = []

    def member_joined(self, event):
        pass

    def member_left(self, event):
        self.left.append(event)


class LeaveMessageTests(SynchronousTestCase):
    def setUp(self):
        self.chat = Hub(MemoryStore(), now=lambda: 0.0)
        self.owner_member = Listener()
        self.owner = resolved(self.chat.login("Owner", self.owner_member))
        self.guest = resolved(self.chat.login("Guest", Listener()))
        self.chat.create_room(self.owner, "r")
        self.chat.join_room(self.guest, "r")

    def test_leaving_with_a_message(self):
        self.chat.leave_room(self.guest, "see you")
        (event,) = self.owner_member.left
        assert (event.reason, event.message) == (LeaveReason.LEFT, "see you")

    def test_a_logout_with_a_message(self):
        self.chat.logout(self.guest, "Quit: bed")
        (event,) = self.owner_member.left
        assert (event.reason, event.message) == (LeaveReason.DROPPED, "Quit: bed")

    def test_a_kick_with_a_reason(self):
        self.chat.kick(self.owner, "guest", "spam")
        (event,) = self.owner_member.left
        assert (event.reason, event.by, event.message) == (
            LeaveReason.KICKED,
            "Owner",
            "spam",
        )

    def test_without_a_message_it_is_empty(self):
        self.chat.leave_room(self.guest)
        assert self.owner_member.left[0].message == ""

    def test_online_finds_a_connected_user_by_any_spelling(self):
        assert self.chat.online("GUEST") is self.guest
        assert self.chat.online("nobody") is None
