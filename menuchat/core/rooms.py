"""Rooms and their rules: who is in, who owns, who may speak, what was said.

A mixin of L{menuchat.core.hub.Hub}, kept apart because rooms are a world
of their own: creating, joining, speaking (the hot path: one event, told
to the members of each front-end together, one history entry per line),
leaving and closing (moderation is L{menuchat.core.moderation}'s). A
registered owner's room is kept in the store with its history and
outlives connections and restarts; a guest owner's room closes when the
owner leaves.
"""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING

import attrs
from twisted.internet.defer import Deferred, fail, succeed
from twisted.logger import Logger

from menuchat.core.errors import (
    AlreadyInRoom,
    ChatError,
    InvalidRoomId,
    Muted,
    NotInRoom,
    NotOwner,
    RoomFull,
    RoomTaken,
    TooManyRooms,
    UnknownRoom,
)
from menuchat.core.events import (
    Audience,
    CloseReason,
    HistoryLine,
    LeaveReason,
    Listeners,
    MemberJoined,
    MemberLeft,
    RoomClosed,
    RoomLine,
    room_line,
)
from menuchat.core.names import check_token, token_key
from menuchat.store import SavedRoom

if TYPE_CHECKING:
    from collections.abc import Callable

    from menuchat.core.cluster import Cluster
    from menuchat.core.hub import User
    from menuchat.store import Store

__all__ = ["EachMember", "Room", "RoomRules", "listeners_of"]


class EachMember:
    """Members without an audience: each is told of a line by itself."""

    __slots__ = ("members",)

    def __init__(self, members: tuple[User, ...]) -> None:
        self.members = members

    def room_line(self, event: RoomLine, speaker: User) -> None:
        for member in self.members:
            member.client.room_line(event)


def listeners_of(members: tuple[User, ...]) -> tuple[Listeners, ...]:
    """C{members} grouped by their front-end's audience, in the order each
    audience first appears; those without one are told one by one."""
    groups: dict[int, tuple[Audience | None, list[User]]] = {}
    for member in members:
        audience: Audience | None = getattr(member.client, "audience", None)
        groups.setdefault(id(audience), (audience, []))[1].append(member)
    return tuple(
        EachMember(tuple(group))
        if audience is None
        else audience.listeners(tuple(group))
        for audience, group in groups.values()
    )


@attrs.define(slots=True, eq=False, repr=False)
class Room:
    """A chat room. C{members} is replaced (L{seat}), never changed in
    place, so that delivering a line can iterate over it while a member's
    departure builds a new tuple."""

    id: str
    key: str
    owner_id: int
    owner_name: str
    history: deque[HistoryLine | RoomLine]
    members: tuple[User, ...] = ()
    topic: str = ""
    persistent: bool = False
    created_at: float = 0.0
    muted: set[int] = attrs.field(factory=set)
    #: Who hears the room's lines (L{listeners_of}), and the C{members}
    #: they were made from: made again once C{members} is replaced.
    listeners: tuple[Listeners, ...] = ()
    listening: tuple[User, ...] | None = None
    #: How many of C{listening} this process tells a line to (a cluster's
    #: other nodes tell their own users).
    reach: int = 0

    def __repr__(self) -> str:
        return f"<Room {self.id} owner={self.owner_name}>"

    def seat(self, members: tuple[User, ...]) -> None:
        """Make C{members} the room's; who hears its lines is found again
        when the next one is said (nothing of the old members is kept)."""
        self.members = members
        self.listeners = ()
        self.listening = None

    def saved(self) -> SavedRoom:
        return SavedRoom(
            self.key,
            self.id,
            self.owner_id,
            self.owner_name,
            self.topic,
            self.created_at,
        )


class RoomRules:
    """The room half of the hub."""

    log = Logger()

    if TYPE_CHECKING:
        _store: Store
        _now: Callable[[], float]
        _users: dict[int, User]
        _names: dict[str, User | None]
        max_rooms: int
        max_room_members: int
        cluster: Cluster | None

    _rooms: dict[str, Room]
    deliveries: int
    history_size: int
    operators: frozenset[str]

    # Restart

    def restore_rooms(self) -> Deferred[None]:
        """Open the rooms the store kept, each with its history."""

        async def restore() -> None:
            for saved in await self._store.saved_rooms():
                lines = await self._store.history(saved.key, self.history_size)
                self._rooms[saved.key] = Room(
                    saved.room_id,
                    saved.key,
                    saved.owner_id,
                    saved.owner_name,
                    deque(lines, maxlen=self.history_size),
                    topic=saved.topic,
                    persistent=True,
                    created_at=saved.created_at,
                )

        return Deferred.fromCoroutine(restore())

    # Asking

    def room(self, room_id: str) -> Room | None:
        """The open room with this id (in any letter case or spelling), if any."""
        return self._rooms.get(token_key(room_id))

    def rooms(self) -> list[Room]:
        """Every open room, oldest first."""
        return list(self._rooms.values())

    def is_operator(self, user: User) -> bool:
        """Whether C{user} is a server operator: a registered one, named so."""
        return user.registered and token_key(user.name) in self.operators

    # Living in rooms

    def open_room(self, owner: User, room_id: str) -> Deferred[Room]:
        """L{create_room}, once the cluster (if any) gave this node the id:
        two nodes opening one room at once, one of them gets L{RoomTaken}."""
        cluster = self.cluster
        try:
            if cluster is None:
                return succeed(self.create_room(owner, room_id))
            key = self._check_new_room(owner, room_id)
        except ChatError as e:
            return fail(e)
        created_at = self._now()

        def claimed(free: bool) -> Room:
            if not free:
                raise RoomTaken(room_id)
            try:
                return self.create_room(owner, room_id, created_at)
            except ChatError:
                cluster.release_room(key, created_at)
                raise

        return cluster.claim_room(key, created_at).addCallback(claimed)

    def create_room(
        self, owner: User, room_id: str, created_at: float | None = None
    ) -> Room:
        """Open room C{room_id} owned by C{owner}, who is in it at once.

        In a cluster, front-ends call L{open_room}; this is its second half,
        and what other nodes replay (with the creator's C{created_at})."""
        key = self._check_new_room(owner, room_id)
        room = Room(
            room_id,
            key,
            owner.id,
            owner.name,
            deque(maxlen=self.history_size),
            (owner,),
            persistent=owner.registered,
            created_at=self._now() if created_at is None else created_at,
        )
        self._rooms[key] = room
        owner.room = room
        self._share("create_room", owner, room_id, room.created_at)
        if room.persistent and not owner.node:
            self._keep(self._store.save_room(room.saved()))
        return room

    def _check_new_room(self, owner: User, room_id: str) -> str:
        """The key of room C{room_id}, if C{owner} may open it."""
        check_token(room_id, InvalidRoomId)
        if owner.room is not None:
            raise AlreadyInRoom(owner.room.id)
        key = token_key(room_id)
        if key in self._rooms:
            raise RoomTaken(room_id)
        if len(self._rooms) >= self.max_rooms and not owner.node:
            raise TooManyRooms()  # (another node's room counted there)
        return key

    def join_room(self, user: User, room_id: str) -> Room:
        """Add C{user} to room C{room_id}; every member, the joiner first, is told."""
        check_token(room_id, InvalidRoomId)
        room = self._rooms.get(token_key(room_id))
        if room is None:
            raise UnknownRoom(room_id)
        if user.room is not None:
            raise AlreadyInRoom(user.room.id)
        if len(room.members) >= self.max_room_members and not user.node:
            raise RoomFull(room.id)  # (another node's joiner counted there)
        others = room.members
        self._share("join_room", user, room_id)
        room.seat((*others, user))
        user.room = room
        event = MemberJoined(
            room.id,
            user.name,
            user.id,
            tuple(m.name for m in room.members),
            room.topic,
            room.owner_name,
            tuple(room.history),
            self._now(),
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
        if user.id in room.muted:
            raise Muted(room.id)
        event = room_line(user.name, text, self._now(), room.id, user.id)
        if self.cluster is not None:
            self._share("say", user, text)
        members = room.members
        if room.listening is not members:
            room.listeners = listeners_of(members)
            room.listening = members
            room.reach = sum(1 for member in members if not member.node)
        self.deliveries += room.reach
        for listeners in room.listeners:
            listeners.room_line(event, user)
        room.history.append(event)
        if room.persistent and not user.node:
            line = HistoryLine(user.name, text, event.said_at)
            self._keep(self._store.append_history(room.key, line, self.history_size))

    def leave_room(self, user: User, message: str = "") -> Room:
        """Take C{user} out of their room, saying C{message} if any. The
        owner of a guest's room must close it instead; a kept room stays
        open when its owner leaves."""
        room = user.room
        if room is None:
            raise NotInRoom()
        if room.owner_id == user.id and not room.persistent:
            raise NotOwner(room.id)
        self._share("leave_room", user, message)
        self._leave(user, room, LeaveReason.LEFT, message)
        return room

    def close_room(self, actor: User, room_id: str | None = None) -> Room:
        """Close C{actor}'s room, or room C{room_id} for an operator; the
        members are put out and a kept room's history is gone."""
        if room_id is None:
            room = actor.room
            if room is None:
                raise NotInRoom()
        else:
            found = self.room(room_id)
            if found is None:
                raise UnknownRoom(room_id)
            room = found
        if room.owner_id != actor.id and not self.is_operator(actor):
            raise NotOwner(room.id)
        self.log.info("{actor} closed room {room}", actor=actor.name, room=room.id)
        self._share("close_room", actor, room.id)
        self._close(room, CloseReason.OWNER_CLOSED, by=actor)
        return room

    # Mirroring the rooms of other nodes (see menuchat.core.cluster)

    def mirror_room(
        self,
        room_id: str,
        owner_id: int,
        owner_name: str,
        topic: str,
        persistent: bool,
        created_at: float,
        muted: list[int],
    ) -> Room:
        """Open (or bring up to date) room C{room_id} as another node has
        it, without telling anyone: this node is catching up."""
        key = token_key(room_id)
        room = self._rooms.get(key)
        if room is None:
            room = self._rooms[key] = Room(
                room_id, key, owner_id, owner_name, deque(maxlen=self.history_size)
            )
        room.owner_id, room.owner_name, room.topic = owner_id, owner_name, topic
        room.persistent, room.created_at = persistent, created_at
        room.muted = set(muted)
        return room

    def place(self, user: User, room_key: str | None) -> None:
        """Put C{user} (of another node) in the room with this key, or in
        none, without telling anyone: this node is catching up."""
        current = user.room
        room = None if room_key is None else self._rooms.get(room_key)
        if current is room:
            return
        if current is not None:
            current.seat(tuple(m for m in current.members if m is not user))
        user.room = room
        if room is not None:
            room.seat((*room.members, user))

    def drop_room(self, room: Room) -> None:
        """Close a room that another node closed while this one was not
        listening; its members here are told as if its owner closed it."""
        if self._rooms.get(room.key) is room:
            self._close(room, CloseReason.OWNER_CLOSED)

    # Inside

    def _leave(
        self, user: User, room: Room, reason: LeaveReason, message: str = ""
    ) -> None:
        room.seat(tuple(m for m in room.members if m is not user))
        user.room = None
        event = MemberLeft(room.id, user.name, user.id, reason, message=message)
        for member in room.members:
            member.client.member_left(event)

    def _close(self, room: Room, reason: CloseReason, by: User | None = None) -> None:
        del self._rooms[room.key]
        if room.persistent and (by is None or not by.node):
            self._keep(self._store.delete_room(room.key))
        if self.cluster is not None:
            self.cluster.release_room(room.key, room.created_at)
        members = room.members
        room.seat(())
        for member in members:
            member.room = None
        event = RoomClosed(room.id, room.owner_name, reason)
        for member in members:
            if member is not by:
                member.client.room_closed(event)

    def _share(self, op: str, user: User, *args: object) -> None:
        """Tell the other nodes, if any, of a change a user of this node made."""
        if self.cluster is not None and not user.node:
            self.cluster.publish(op, user, *args)

    def _keep(self, write: Deferred[None]) -> None:
        """A write the room does not wait for; a failure is logged."""
        write.addErrback(lambda f: self.log.failure("Keeping a room failed", f))
