"""The chat domain: users and their ids, mailboxes, rooms and their rules.

The hub decides and changes state; it does no I/O and knows no wording. It
reaches a connected user only through the small L{Member} interface, which
each session implements (as twisted.words' IChatClient does), so the hub is
tested with fakes and a session learns of events that change its state, such
as the room it is in closing.
"""

from __future__ import annotations

import itertools
import unicodedata
from collections import deque
from collections.abc import Callable, Iterable
from enum import Enum
from typing import Protocol

import attrs

__all__ = [
    "AlreadyInRoom",
    "ChatError",
    "CloseReason",
    "EmptyMessage",
    "Hub",
    "InvalidName",
    "InvalidRoomId",
    "MailboxFull",
    "Member",
    "Message",
    "NameTaken",
    "NotInRoom",
    "NotOwner",
    "Room",
    "RoomFull",
    "RoomTaken",
    "TooManyRooms",
    "UnknownRoom",
    "UnknownUser",
    "User",
    "check_token",
]

MAX_TOKEN_LENGTH = 32


class ChatError(Exception):
    """A request the hub refuses; nothing was changed."""


class InvalidName(ChatError):
    """The name breaks the naming rules; C{args[0]} says which one."""


class NameTaken(ChatError):
    """Another connected user has this name, in any letter case."""


class UnknownUser(ChatError):
    """No connected user has this id."""


class EmptyMessage(ChatError):
    """The message has no visible text."""


class MailboxFull(ChatError):
    """The recipient's mailbox holds as many unread messages as it may."""


class InvalidRoomId(ChatError):
    """The room id breaks the naming rules; C{args[0]} says which one."""


class RoomTaken(ChatError):
    """A room with this id exists already."""


class TooManyRooms(ChatError):
    """The server holds as many rooms as it may."""


class UnknownRoom(ChatError):
    """No room has this id."""


class RoomFull(ChatError):
    """The room holds as many members as it may."""


class AlreadyInRoom(ChatError):
    """The user is in a room already; one room at a time."""


class NotInRoom(ChatError):
    """The user is in no room."""


class NotOwner(ChatError):
    """Only the room's owner may do this."""


class CloseReason(Enum):
    """Why a room closed."""

    OWNER_CLOSED = "owner closed"
    OWNER_LEFT = "owner left"


class Member(Protocol):
    """What the hub tells a connected user; implemented by the session."""

    def room_line(self, room: Room, speaker: User, text: str) -> None:
        """C{speaker} said C{text} in C{room}; the speaker hears it too."""

    def member_joined(self, room: Room, user: User) -> None:
        """C{user} joined C{room}; the joiner is told as well, first."""

    def member_left(self, room: Room, user: User) -> None:
        """C{user} left C{room} or dropped; the leaver is no longer told."""

    def room_closed(self, room: Room, reason: CloseReason) -> None:
        """C{room} closed with this member still in it: it is out now."""

    def message_waiting(self, message: Message, unread: int) -> None:
        """A private message arrived; C{unread} counts the mailbox."""

    def message_unread(self, message: Message) -> None:
        """A message this user sent was dropped unread: its recipient left."""


def check_token(token: str, what: type[ChatError]) -> None:
    """Raise C{what} with a reason unless C{token} is a valid name or room id.

    A token is 1 to 32 printable characters with no white space; the comma
    and colon are refused too, since the user list is C{name:id, name:id}.
    """
    if not token:
        raise what("empty")
    if len(token) > MAX_TOKEN_LENGTH:
        raise what("too long")
    if not token.isprintable():
        raise what("control character")
    if " " in token:
        raise what("space")
    if "," in token or ":" in token:
        raise what("punctuation")


def _key(token: str) -> str:
    """What makes two names (or room ids) the same: letter case aside, and
    whatever Unicode spelling of the same characters (NFKC), so that no one
    can pass for someone else with a look-alike encoding."""
    return unicodedata.normalize("NFKC", token).casefold()


@attrs.frozen(slots=True)
class Message:
    """A private message, immutable once sent."""

    sender_id: int
    sender_name: str
    recipient_id: int
    recipient_name: str
    text: str
    sent_at: float


@attrs.define(slots=True, eq=False, repr=False)
class User:
    """A connected user: identity, mailbox and where they are."""

    id: int
    name: str
    client: Member
    mailbox: deque[Message] | None = None
    room: Room | None = None

    def __repr__(self) -> str:
        return f"<User {self.name}:{self.id}>"


@attrs.define(slots=True, eq=False, repr=False)
class Room:
    """A chat room with its owner among its members.

    C{members} is replaced, never changed in place, so that delivering a line
    can iterate over it while a member's departure builds a new tuple.
    """

    id: str
    owner: User
    members: tuple[User, ...] = ()

    def __repr__(self) -> str:
        return f"<Room {self.id} owner={self.owner.name}>"


class Hub:
    """All users, mailboxes and rooms of one server, and the rules between them.

    @param now: returns the current POSIX time; stamps messages.
    """

    def __init__(
        self,
        *,
        now: Callable[[], float],
        mailbox_size: int = 100,
        max_rooms: int = 1000,
        max_room_members: int = 1000,
    ) -> None:
        self._now = now
        self.mailbox_size = mailbox_size
        self.max_rooms = max_rooms
        self.max_room_members = max_room_members
        self._ids = itertools.count(1)
        self._users: dict[int, User] = {}
        self._names: dict[str, User] = {}
        self._rooms: dict[str, Room] = {}

    # Users

    def login(self, name: str, client: Member) -> User:
        """Admit C{name} with a new id that no earlier user of this hub had."""
        check_token(name, InvalidName)
        key = _key(name)
        if key in self._names:
            raise NameTaken(name)
        user = User(next(self._ids), name, client)
        self._users[user.id] = user
        self._names[key] = user
        return user

    def logout(self, user: User) -> None:
        """Forget C{user}: out of its room (closing the rooms it owns), its
        unread mail dropped with each sender still here told so.

        Safe to call more than once.
        """
        if self._users.get(user.id) is not user:
            return
        if user.room is not None:
            if user.room.owner is user:
                self._close(user.room, CloseReason.OWNER_LEFT)
            else:
                self.leave_room(user)
        del self._users[user.id]
        del self._names[_key(user.name)]
        mailbox, user.mailbox = user.mailbox, None
        for message in mailbox or ():
            sender = self._users.get(message.sender_id)
            if sender is not None:
                sender.client.message_unread(message)

    def users(self) -> list[User]:
        """Everyone connected, oldest login first."""
        return list(self._users.values())

    def user(self, user_id: int) -> User | None:
        """The connected user with this id, if any."""
        return self._users.get(user_id)

    # Mail

    def send_message(self, sender: User, recipient_id: int, text: str) -> Message:
        """Put C{text} in the mailbox of user C{recipient_id} and tell them."""
        recipient = self._users.get(recipient_id)
        if recipient is None:
            raise UnknownUser(recipient_id)
        if not text.strip():
            raise EmptyMessage()
        mailbox = recipient.mailbox
        if mailbox is None:
            mailbox = recipient.mailbox = deque()
        elif len(mailbox) >= self.mailbox_size:
            raise MailboxFull(recipient_id)
        message = Message(
            sender.id, sender.name, recipient.id, recipient.name, text, self._now()
        )
        mailbox.append(message)
        recipient.client.message_waiting(message, len(mailbox))
        return message

    def read_messages(self, user: User) -> list[Message]:
        """Take every unread message of C{user}, oldest first."""
        mailbox, user.mailbox = user.mailbox, None
        return list(mailbox or ())

    # Rooms

    def create_room(self, owner: User, room_id: str) -> Room:
        """Open room C{room_id} owned by C{owner}, who is in it at once."""
        check_token(room_id, InvalidRoomId)
        if owner.room is not None:
            raise AlreadyInRoom(owner.room.id)
        key = _key(room_id)
        if key in self._rooms:
            raise RoomTaken(room_id)
        if len(self._rooms) >= self.max_rooms:
            raise TooManyRooms()
        room = Room(room_id, owner, (owner,))
        self._rooms[key] = room
        owner.room = room
        return room

    def room(self, room_id: str) -> Room | None:
        """The open room with this id (in any letter case), if any."""
        return self._rooms.get(_key(room_id))

    def rooms(self) -> list[Room]:
        """Every open room, oldest first."""
        return list(self._rooms.values())

    def join_room(self, user: User, room_id: str) -> Room:
        """Add C{user} to room C{room_id}; every member, the joiner too, is told."""
        check_token(room_id, InvalidRoomId)
        room = self._rooms.get(_key(room_id))
        if room is None:
            raise UnknownRoom(room_id)
        if user.room is not None:
            raise AlreadyInRoom(user.room.id)
        if len(room.members) >= self.max_room_members:
            raise RoomFull(room.id)
        room.members = (*room.members, user)
        user.room = room
        user.client.member_joined(room, user)
        self._tell(room.members[:-1], lambda m: m.member_joined(room, user))
        return room

    def say(self, user: User, text: str) -> None:
        """Deliver C{text} from C{user} to every member of their room."""
        room = user.room
        if room is None:
            raise NotInRoom()
        for member in room.members:
            member.client.room_line(room, user, text)

    def leave_room(self, user: User) -> Room:
        """Take C{user}, a member who is not the owner, out of their room."""
        room = user.room
        if room is None:
            raise NotInRoom()
        if room.owner is user:
            raise NotOwner(room.id)
        room.members = tuple(m for m in room.members if m is not user)
        user.room = None
        self._tell(room.members, lambda m: m.member_left(room, user))
        return room

    def close_room(self, owner: User) -> Room:
        """Close the room C{owner} owns; the other members are put out."""
        room = owner.room
        if room is None:
            raise NotInRoom()
        if room.owner is not owner:
            raise NotOwner(room.id)
        self._close(room, CloseReason.OWNER_CLOSED)
        return room

    def _close(self, room: Room, reason: CloseReason) -> None:
        del self._rooms[_key(room.id)]
        members, room.members = room.members, ()
        for member in members:
            member.room = None
        self._tell(
            (m for m in members if m is not room.owner),
            lambda m: m.room_closed(room, reason),
        )

    @staticmethod
    def _tell(members: Iterable[User], event: Callable[[Member], None]) -> None:
        for member in members:
            event(member.client)
