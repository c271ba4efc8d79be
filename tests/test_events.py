"""Events are frozen values; the wire cache takes no part in their equality."""

import attrs
from twisted.trial.unittest import SynchronousTestCase

from menuchat.core.events import (
    CloseReason,
    LeaveReason,
    MemberJoined,
    MemberLeft,
    Message,
    MessageUnread,
    MessageWaiting,
    RoomClosed,
    RoomLine,
)

MESSAGE = Message(1, "Nina", 2, "Jose", "hi", 1565027100.0)


def events():
    """One event of each kind that carries a wire cache, freshly built."""
    return [
        RoomLine("den", "Nina", 1, "hello"),
        MemberJoined("den", "Jose", 2, ("Nina", "Jose")),
        MemberLeft("den", "Jose", 2, LeaveReason.LEFT),
        RoomClosed("den", "Nina", CloseReason.OWNER_CLOSED),
    ]


EVENTS = events()


class EventTests(SynchronousTestCase):
    def test_equality_ignores_the_wire_cache(self):
        for event, twin in zip(events(), events(), strict=True):
            event.wire["menu"] = b"rendered\r\n"
            assert event == twin, event
            assert hash(event) == hash(twin), event
            assert twin.wire == {}, event

    def test_each_event_has_its_own_cache(self):
        first, second = RoomLine("den", "a", 1, "x"), RoomLine("den", "a", 1, "x")
        first.wire["menu"] = b"x"
        assert second.wire == {}

    def test_the_cache_is_not_in_the_repr(self):
        event = RoomLine("den", "Nina", 1, "hello")
        event.wire["menu"] = b"secret bytes"
        assert "secret bytes" not in repr(event)

    def test_events_are_frozen(self):
        for event in [*EVENTS, MESSAGE, MessageWaiting(MESSAGE, 1)]:
            field = attrs.fields(type(event))[0].name
            with self.assertRaises(attrs.exceptions.FrozenInstanceError):
                setattr(event, field, "changed")

    def test_the_cache_cannot_be_replaced(self):
        event = RoomLine("den", "Nina", 1, "hello")
        with self.assertRaises(attrs.exceptions.FrozenInstanceError):
            event.wire = {}

    def test_events_differ_by_their_fields(self):
        assert RoomLine("den", "Nina", 1, "a") != RoomLine("den", "Nina", 1, "b")
        assert MemberLeft("den", "Jose", 2, LeaveReason.LEFT) != MemberLeft(
            "den", "Jose", 2, LeaveReason.DROPPED
        )

    def test_messages_and_notices_are_values(self):
        twin = Message(1, "Nina", 2, "Jose", "hi", 1565027100.0)
        assert twin == MESSAGE
        assert MessageWaiting(MESSAGE, 1) == MessageWaiting(twin, 1)
        assert MessageUnread(MESSAGE) == MessageUnread(twin)
        assert len({MESSAGE, twin}) == 1

    def test_events_have_slots(self):
        for event in EVENTS:
            assert not hasattr(event, "__dict__"), event
