"""What happens in the hub, as frozen values, and the interface that hears it.

The hub builds one event per happening and hands the same object to every
member concerned. A front-end renders an event into its wire format once,
on first use, and keeps the bytes in the event's C{wire} cache under its
format's name, so a room line reaching R members of one front-end is
rendered and encoded once, not R times, and nothing is kept in a module
global. The cache is the one mutable part of an event and takes no part in
its equality.
"""

from __future__ import annotations

from enum import Enum
from typing import TYPE_CHECKING, NamedTuple, Protocol

import attrs

if TYPE_CHECKING:
    from menuchat.core.hub import User

__all__ = [
    "Audience",
    "Broadcast",
    "Change",
    "CloseReason",
    "HistoryLine",
    "LeaveReason",
    "Listeners",
    "MailReader",
    "Member",
    "MemberJoined",
    "MemberLeft",
    "Message",
    "MessageUnread",
    "MessageWaiting",
    "RoomChanged",
    "RoomClosed",
    "RoomLine",
    "room_line",
]


class CloseReason(Enum):
    """Why a room closed."""

    OWNER_CLOSED = "owner closed"
    OWNER_LEFT = "owner left"


class LeaveReason(Enum):
    """How a member came to leave a room."""

    LEFT = "left"
    DROPPED = "dropped"
    KICKED = "kicked"


class Change(Enum):
    """What changed in a room."""

    TOPIC = "topic"
    OWNER = "owner"
    MUTED = "muted"
    UNMUTED = "unmuted"


def _wire() -> dict[str, bytes]:
    return {}


_CACHE = attrs.field(factory=_wire, eq=False, repr=False, hash=False)


class Message(NamedTuple):
    """A private message, immutable once sent.

    Made for every private message sent: a tuple, as L{RoomLine} is, made
    in a third of a frozen attrs class's time. It equals another message
    of the same fields, and nothing else (not a plain tuple).
    """

    sender_id: int
    sender_name: str
    recipient_id: int
    recipient_name: str
    text: str
    sent_at: float
    #: Sent as a notice: a reader that tells notices apart (an IRC client)
    #: shows it as one, which nothing answers automatically. Only mail
    #: handed over on arrival keeps it; a mailbox keeps the text.
    notice: bool = False

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Message) and tuple.__eq__(self, other)

    def __ne__(self, other: object) -> bool:
        return not self == other

    def __hash__(self) -> int:
        return tuple.__hash__(self)


@attrs.frozen(slots=True)
class HistoryLine:
    """A line said in a room, kept for those who join later."""

    speaker: str
    text: str
    said_at: float


class RoomLine(NamedTuple):
    """C{speaker} said C{text} in C{room}; every member hears it, the speaker too.

    A room keeps its recent lines as they were said: the event is its own
    history entry, as good as a L{HistoryLine}. It is the one event made
    for every line said, so it is a tuple, not an attrs class: as frozen,
    and made in a third of the time (a frozen attrs class sets each field
    through object.__setattr__). Make it with L{room_line}, which gives it
    a cache of its own; equality and hashing leave the cache out.
    """

    speaker: str
    text: str
    said_at: float
    room: str
    speaker_id: int
    wire: dict[str, bytes]

    def __eq__(self, other: object) -> bool:
        return isinstance(other, RoomLine) and self[:5] == other[:5]

    def __ne__(self, other: object) -> bool:
        return not self == other

    def __hash__(self) -> int:
        return hash(self[:5])

    def __repr__(self) -> str:
        return (
            f"RoomLine(speaker={self.speaker!r}, text={self.text!r}, "
            f"said_at={self.said_at!r}, room={self.room!r}, "
            f"speaker_id={self.speaker_id!r})"
        )


def room_line(
    speaker: str, text: str, said_at: float, room: str, speaker_id: int
) -> RoomLine:
    """A new L{RoomLine} with an empty wire cache of its own."""
    return RoomLine(speaker, text, said_at, room, speaker_id, {})


@attrs.frozen(slots=True)
class MemberJoined:
    """C{name} joined C{room}, which now holds C{members} (names, oldest first).

    The joiner also gets the room's C{topic}, C{owner} and recent C{history}.
    """

    room: str
    name: str
    user_id: int
    members: tuple[str, ...]
    topic: str = ""
    owner: str = ""
    history: tuple[HistoryLine | RoomLine, ...] = ()
    at: float = 0.0
    wire: dict[str, bytes] = _CACHE


@attrs.frozen(slots=True)
class MemberLeft:
    """C{name} left C{room}: by choice, dropped, or kicked C{by} someone.

    C{message} is what the leaver (or the kicker) said on the way out, if
    anything: a front-end that can show it does (IRC's PART, QUIT and KICK).
    """

    room: str
    name: str
    user_id: int
    reason: LeaveReason
    by: str = ""
    message: str = ""
    wire: dict[str, bytes] = _CACHE


@attrs.frozen(slots=True)
class RoomChanged:
    """C{by} changed C{room}: its topic, owner, or who may speak (C{name})."""

    room: str
    change: Change
    by: str
    name: str = ""
    topic: str = ""
    wire: dict[str, bytes] = _CACHE


@attrs.frozen(slots=True)
class Broadcast:
    """An operator's word to everyone."""

    by: str
    text: str
    wire: dict[str, bytes] = _CACHE


@attrs.frozen(slots=True)
class RoomClosed:
    """C{room} closed; every member but its owner is out of it now."""

    room: str
    owner: str
    reason: CloseReason
    wire: dict[str, bytes] = _CACHE


class MessageWaiting(NamedTuple):
    """C{message} is in its recipient's mailbox, which holds C{unread} now.

    Made for every private message an online recipient is told of: a
    tuple, as L{RoomLine} is, made in a third of a frozen attrs class's time.
    """

    message: Message
    unread: int


@attrs.frozen(slots=True)
class MessageUnread:
    """C{message} was dropped unread: its recipient left. Told to its sender."""

    message: Message


class Listeners(Protocol):
    """Members of one room that a front-end tells of the room's lines at once."""

    def room_line(self, event: RoomLine, speaker: User) -> None:
        """C{speaker} said a line in the room: tell every one of these members."""


class Audience(Protocol):
    """What the sessions of one front-end share to hear room lines together."""

    def listeners(self, members: tuple[User, ...]) -> Listeners:
        """The L{Listeners} for these members of one room (all of this
        audience, in the room's order), until the room's members change."""


class MailReader(Protocol):
    """A member that is shown its mail the moment it comes (an IRC client).

    While its C{reads_mail_at_once} is true, the hub hands a message to it
    with L{message_received} instead of keeping it in the mailbox: it is
    read on arrival, so there is nothing to keep, and no store to wait for.
    """

    reads_mail_at_once: bool

    def message_received(self, message: Message) -> None:
        """C{message} was sent to this member: show it now."""


class Member(Protocol):
    """What the hub tells a connected user; each front-end's session implements it.

    As twisted.words' C{IChatClient}: the hub calls these, and each
    implementation turns the event into its own wire format.

    A member may also have an C{audience} attribute, an L{Audience}: the
    room's lines then reach it through the audience's L{Listeners}, with
    the other members of that audience, instead of through L{room_line};
    and it may be a L{MailReader}.
    """

    def room_line(self, event: RoomLine) -> None:
        """A line was said in this member's room."""

    def member_joined(self, event: MemberJoined) -> None:
        """Someone joined this member's room; the joiner is told as well, first."""

    def member_left(self, event: MemberLeft) -> None:
        """Someone left this member's room; the leaver is no longer told,
        unless it was kicked out: then it is told first, and is out."""

    def room_changed(self, event: RoomChanged) -> None:
        """The topic, owner or a voice of this member's room changed."""

    def broadcast(self, event: Broadcast) -> None:
        """An operator speaks to everyone."""

    def disconnected(self, by: str) -> None:
        """An operator (C{by}) ends this member's connection."""

    def room_closed(self, event: RoomClosed) -> None:
        """This member's room closed with the member in it: it is out now."""

    def message_waiting(self, event: MessageWaiting) -> None:
        """A private message to this member is in its mailbox."""

    def message_unread(self, event: MessageUnread) -> None:
        """A message this member sent was dropped unread."""
