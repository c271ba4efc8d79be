"""The chat domain: who is online, rooms and their rules, fan-out to members.

The hub decides and changes state; it does no I/O and knows no wording.
Presence and rooms live here, in memory: delivering a room line is the hot
path and stays a plain loop over the members. What must outlast a
connection (ids, mailboxes) goes through the L{Store}, whose answers are
Deferreds; the hub's calls that reach it return Deferreds too.

A connected user is reached only through the L{Member} interface, which
each front-end's session implements (as twisted.words' IChatClient), with
frozen event values from L{menuchat.core.events}.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator

import attrs
from twisted.internet.defer import Deferred, fail, succeed
from twisted.python.failure import Failure

from menuchat.core.errors import (
    AlreadyInRoom,
    ChatError,
    EmptyMessage,
    InvalidName,
    InvalidRoomId,
    NameTaken,
    NotInRoom,
    NotOwner,
    RoomFull,
    RoomTaken,
    TooManyRooms,
    UnknownRoom,
    UnknownUser,
)
from menuchat.core.events import (
    CloseReason,
    LeaveReason,
    Member,
    MemberJoined,
    MemberLeft,
    Message,
    MessageUnread,
    MessageWaiting,
    RoomClosed,
    RoomLine,
)
from menuchat.core.names import check_token, token_key
from menuchat.store import Store

__all__ = ["Hub", "Room", "User"]

#: User ids are taken from the store this many at a time, so that a login
#: costs the store nothing most of the time.
ID_BLOCK = 1000


@attrs.define(slots=True, eq=False, repr=False)
class User:
    """A connected user: identity and where they are."""

    id: int
    name: str
    client: Member
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


class _Ids:
    """User ids handed out from blocks reserved in the store."""

    def __init__(self, store: Store, block: int) -> None:
        self._store = store
        self._block = block
        self._free: Iterator[int] = iter(())
        self._waiting: list[Deferred[int]] = []

    def next(self) -> Deferred[int]:
        """The next id; from memory, unless a new block must be reserved."""
        if not self._waiting:
            user_id = next(self._free, None)
            if user_id is not None:
                return succeed(user_id)
        waiter: Deferred[int] = Deferred()
        self._waiting.append(waiter)
        if len(self._waiting) == 1:
            self._store.reserve_ids(self._block).addCallbacks(
                self._reserved, self._failed
            )
        return waiter

    def _reserved(self, ids: range) -> None:
        self._free = iter(ids)
        waiting, self._waiting = self._waiting, []
        for at, waiter in enumerate(waiting):
            user_id = next(self._free, None)
            if user_id is None:
                # More logins waited than one block holds: go round again.
                self._waiting = waiting[at:]
                self._store.reserve_ids(self._block).addCallbacks(
                    self._reserved, self._failed
                )
                return
            waiter.callback(user_id)

    def _failed(self, reason: Failure) -> None:
        waiting, self._waiting = self._waiting, []
        for waiter in waiting:
            waiter.errback(reason)


class Hub:
    """All users and rooms of one server, and the rules between them.

    @param store: where ids and mail are kept.
    @param now: returns the current POSIX time; stamps messages.
    """

    def __init__(
        self,
        store: Store,
        *,
        now: Callable[[], float],
        mailbox_size: int = 100,
        max_rooms: int = 1000,
        max_room_members: int = 1000,
        id_block: int = ID_BLOCK,
    ) -> None:
        self._store = store
        self._now = now
        self.mailbox_size = mailbox_size
        self.max_rooms = max_rooms
        self.max_room_members = max_room_members
        self._ids = _Ids(store, id_block)
        self._users: dict[int, User] = {}
        self._names: dict[str, User | None] = {}
        self._rooms: dict[str, Room] = {}
        #: Counts for the metrics: room line deliveries (one per member
        #: reached), private messages stored, refused logins by reason.
        self.deliveries = 0
        self.private_messages = 0
        self.login_failures: Counter[str] = Counter()

    # Users

    def login(self, name: str, client: Member) -> Deferred[User]:
        """Admit C{name} with an id that no other user ever had.

        The name is claimed at once, so two logins racing for it cannot
        both win, whatever the store's speed.
        """
        try:
            check_token(name, InvalidName)
        except ChatError as e:
            self.login_failures["invalid_name"] += 1
            return fail(e)
        key = token_key(name)
        if key in self._names:
            self.login_failures["name_taken"] += 1
            return fail(NameTaken(name))
        self._names[key] = None

        def admit(user_id: int) -> User:
            user = User(user_id, name, client)
            self._users[user_id] = user
            self._names[key] = user
            return user

        def release(reason: Failure) -> Failure:
            del self._names[key]
            return reason

        return self._ids.next().addCallbacks(admit, release)

    def logout(self, user: User) -> Deferred[None]:
        """Forget C{user}: out of its room (closing the rooms it owns), its
        unread mail dropped with each sender still here told so.

        Presence ends at once; the Deferred fires when the mail is dropped.
        Safe to call more than once.
        """
        if self._users.get(user.id) is not user:
            return succeed(None)
        room = user.room
        if room is not None:
            if room.owner is user:
                self._close(room, CloseReason.OWNER_LEFT)
            else:
                self._leave(user, room, LeaveReason.DROPPED)
        del self._users[user.id]
        del self._names[token_key(user.name)]
        return self._store.drop_mail(user.id).addCallback(self._report_unread)

    def _report_unread(self, messages: list[Message]) -> None:
        for message in messages:
            sender = self._users.get(message.sender_id)
            if sender is not None:
                sender.client.message_unread(MessageUnread(message))

    def users(self) -> list[User]:
        """Everyone connected, oldest login first."""
        return list(self._users.values())

    def user(self, user_id: int) -> User | None:
        """The connected user with this id, if any."""
        return self._users.get(user_id)

    # Mail

    def send_message(
        self, sender: User, recipient_id: int, text: str
    ) -> Deferred[Message]:
        """Put C{text} in the mailbox of user C{recipient_id}; tell them once
        it is stored. Fires with the message once the store holds it."""
        recipient = self._users.get(recipient_id)
        if recipient is None:
            return fail(UnknownUser(recipient_id))
        if not text.strip():
            return fail(EmptyMessage())
        message = Message(
            sender.id, sender.name, recipient.id, recipient.name, text, self._now()
        )

        def stored(unread: int) -> Message:
            self.private_messages += 1
            if self._users.get(recipient_id) is recipient:
                recipient.client.message_waiting(MessageWaiting(message, unread))
            return message

        return self._store.deliver(message, self.mailbox_size).addCallback(stored)

    def read_messages(self, user: User) -> Deferred[list[Message]]:
        """Take every unread message of C{user}, oldest first."""
        return self._store.take_mail(user.id)

    # Rooms

    def create_room(self, owner: User, room_id: str) -> Room:
        """Open room C{room_id} owned by C{owner}, who is in it at once."""
        check_token(room_id, InvalidRoomId)
        if owner.room is not None:
            raise AlreadyInRoom(owner.room.id)
        key = token_key(room_id)
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
        return self._rooms.get(token_key(room_id))

    def rooms(self) -> list[Room]:
        """Every open room, oldest first."""
        return list(self._rooms.values())

    def join_room(self, user: User, room_id: str) -> Room:
        """Add C{user} to room C{room_id}; every member, the joiner first, is told."""
        check_token(room_id, InvalidRoomId)
        room = self._rooms.get(token_key(room_id))
        if room is None:
            raise UnknownRoom(room_id)
        if user.room is not None:
            raise AlreadyInRoom(user.room.id)
        if len(room.members) >= self.max_room_members:
            raise RoomFull(room.id)
        others = room.members
        room.members = (*others, user)
        user.room = room
        event = MemberJoined(
            room.id, user.name, user.id, tuple(m.name for m in room.members)
        )
        user.client.member_joined(event)
        for member in others:
            member.client.member_joined(event)
        return room

    def say(self, user: User, text: str) -> None:
        """Deliver C{text} from C{user} to every member of their room."""
        room = user.room
        if room is None:
            raise NotInRoom()
        event = RoomLine(room.id, user.name, user.id, text)
        members = room.members
        self.deliveries += len(members)
        for member in members:
            member.client.room_line(event)

    def leave_room(self, user: User) -> Room:
        """Take C{user}, a member who is not the owner, out of their room."""
        room = user.room
        if room is None:
            raise NotInRoom()
        if room.owner is user:
            raise NotOwner(room.id)
        self._leave(user, room, LeaveReason.LEFT)
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

    def _leave(self, user: User, room: Room, reason: LeaveReason) -> None:
        room.members = tuple(m for m in room.members if m is not user)
        user.room = None
        event = MemberLeft(room.id, user.name, user.id, reason)
        for member in room.members:
            member.client.member_left(event)

    def _close(self, room: Room, reason: CloseReason) -> None:
        del self._rooms[token_key(room.id)]
        members, room.members = room.members, ()
        for member in members:
            member.room = None
        event = RoomClosed(room.id, room.owner.name, reason)
        for member in members:
            if member is not room.owner:
                member.client.room_closed(event)
