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
    room_line,
)

MESSAGE = Message(1, "Nina", 2, "Jose", "hi", 1565027100.0)


def events():
    """One event of each kind that carries a wire cache, freshly built."""
    return [
        room_line("Nina", "hello", 1.0, "den", 1),
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
        first, second = (
            room_line("a", "x", 1.0, "den", 1),
            room_line("a", "x", 1.0, "den", 1),
        )
        first.wire["menu"] = b"x"
        assert second.wire == {}

    def test_the_cache_is_not_in_the_repr(self):
        event = room_line("Nina", "hello", 1.0, "den", 1)
        event.wire["menu"] = b"secret bytes"
        assert "secret bytes" not in repr(event)

    def test_events_are_frozen(self):
        for event in [*EVENTS, MESSAGE, MessageWaiting(MESSAGE, 1)]:
            fields = getattr(event, "_fields", None)
            field = fields[0] if fields else attrs.fields(type(event))[0].name
            # attrs' FrozenInstanceError is an AttributeError, as a tuple's is.
            with self.assertRaises(AttributeError):
                setattr(event, field, "changed")

    def test_the_cache_cannot_be_replaced(self):
        event = room_line("Nina", "hello", 1.0, "den", 1)
        with self.assertRaises(AttributeError):
            event.wire = {}

    def test_events_differ_by_their_fields(self):
        assert room_line("Nina", "a", 1.0, "den", 1) != room_line(
            "Nina", "b", 1.0, "den", 1
        )
        assert MemberLeft("den", "Jose", 2, LeaveReason.LEFT) != MemberLeft(
            "den", "Jose", 2, LeaveReason.DROPPED
        )

    def test_messages_and_notices_are_values(self):
        twin = Message(1, "Nina", 2, "Jose", "hi", 1565027100.0)
        assert twin == MESSAGE
        assert MessageWaiting(MESSAGE, 1) == MessageWaiting(twin, 1)
        assert MessageUnread(MESSAGE) == MessageUnread(twin)
        assert len({MESSAGE, twin}) == 1

    def test_a_message_equals_only_messages(self):
        message, plain = MESSAGE, tuple(MESSAGE)
        assert message != plain
        assert plain != message
        other = MESSAGE._replace(text="other")
        assert message != other
        assert message.__ne__(Message(*MESSAGE)) is False

    def test_events_have_slots(self):
        for event in EVENTS:
            assert not hasattr(event, "__dict__"), event
