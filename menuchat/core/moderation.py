"""Moderation of rooms, by their owner or a server operator.

A mixin of L{menuchat.core.hub.Hub}, beside L{menuchat.core.rooms}: kicking
a member out, taking a voice away, handing a room over, setting its topic,
and the operators' word to everyone and their disconnecting of a user. An
owner moderates its own room; an operator every room; no one a room's
owner. Each change is shared with the other nodes of a cluster, if any.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from twisted.logger import Logger

from menuchat.core.errors import NotAllowed, NotHere, NotInRoom, UnknownUser
from menuchat.core.events import (
    Broadcast,
    Change,
    LeaveReason,
    MemberLeft,
    RoomChanged,
)
from menuchat.core.names import token_key

if TYPE_CHECKING:
    from twisted.internet.defer import Deferred

    from menuchat.core.hub import User
    from menuchat.core.rooms import Room
    from menuchat.store import Store

__all__ = ["Moderation"]


class Moderation:
    """The moderation part of the hub."""

    log = Logger()

    if TYPE_CHECKING:
        _store: Store
        _users: dict[int, User]
        _names: dict[str, User | None]

        def is_operator(self, user: User) -> bool: ...
        def _share(self, op: str, user: User, *args: object) -> None: ...
        def _keep(self, write: Deferred[None]) -> None: ...

    def kick(self, actor: User, name: str, reason: str = "") -> Room:
        """Put the member C{name} out of the room, telling everyone, with
        the C{reason} given if any."""
        target, room = self._target(actor, name)
        self._share("kick", actor, name, reason)
        self.log.info(
            "{actor} kicked {target} from {room}",
            actor=actor.name,
            target=target.name,
            room=room.id,
        )
        event = MemberLeft(
            room.id, target.name, target.id, LeaveReason.KICKED, actor.name, reason
        )
        room.seat(tuple(m for m in room.members if m is not target))
        room.muted.discard(target.id)
        target.room = None
        target.client.member_left(event)
        for member in room.members:
            member.client.member_left(event)
        return room

    def mute(self, actor: User, name: str, muted: bool = True) -> Room:
        """Take away (or give back) the voice of member C{name}."""
        target, room = self._target(actor, name)
        self._share("mute", actor, name, muted)
        if muted:
            room.muted.add(target.id)
        else:
            room.muted.discard(target.id)
        change = Change.MUTED if muted else Change.UNMUTED
        self.log.info(
            "{actor} {change} {target} in {room}",
            actor=actor.name,
            change=change.value,
            target=target.name,
            room=room.id,
        )
        self._changed(room, RoomChanged(room.id, change, actor.name, target.name))
        return room

    def give_room(self, actor: User, name: str) -> Room:
        """Make member C{name} the room's owner. A room handed to a guest is
        kept no more: it closes when that guest leaves."""
        target, room = self._target(actor, name)
        self._share("give_room", actor, name)
        room.owner_id, room.owner_name = target.id, target.name
        room.muted.discard(target.id)
        was_kept, room.persistent = room.persistent, target.registered
        if actor.node:
            pass  # the actor's node keeps the room
        elif room.persistent:
            self._keep(self._store.save_room(room.saved()))
        elif was_kept:
            self._keep(self._store.delete_room(room.key))
        self.log.info(
            "{actor} gave room {room} to {target}",
            actor=actor.name,
            room=room.id,
            target=target.name,
        )
        self._changed(room, RoomChanged(room.id, Change.OWNER, actor.name, target.name))
        return room

    def set_topic(self, actor: User, topic: str) -> Room:
        """Set the topic of C{actor}'s room, shown to those who join."""
        room = actor.room
        if room is None:
            raise NotInRoom()
        self._check_rights(actor, room)
        self._share("set_topic", actor, topic)
        room.topic = topic
        if room.persistent and not actor.node:
            self._keep(self._store.save_room(room.saved()))
        self.log.info(
            "{actor} set the topic of {room}: {topic}",
            actor=actor.name,
            room=room.id,
            topic=topic,
        )
        self._changed(room, RoomChanged(room.id, Change.TOPIC, actor.name, topic=topic))
        return room

    def broadcast(self, actor: User, text: str) -> None:
        """An operator's word to everyone online."""
        if not self.is_operator(actor):
            raise NotAllowed()
        self._share("broadcast", actor, text)
        self.log.info("{actor} broadcast: {text}", actor=actor.name, text=text)
        event = Broadcast(actor.name, text)
        for user in list(self._users.values()):
            user.client.broadcast(event)

    def disconnect(self, actor: User, name: str) -> User:
        """An operator ends the connection of user C{name}."""
        if not self.is_operator(actor):
            raise NotAllowed()
        target = self._names.get(token_key(name))
        if target is None:
            raise UnknownUser(name)
        self.log.info(
            "{actor} disconnected {target}", actor=actor.name, target=target.name
        )
        target.client.disconnected(actor.name)
        return target

    # Inside

    def _target(self, actor: User, name: str) -> tuple[User, Room]:
        """The member C{name} and its room, if C{actor} may moderate it.

        An owner moderates its own room; an operator, the room of the
        member named, wherever it is. No one moderates a room's owner.
        """
        target = self._names.get(token_key(name))
        if target is None:
            raise UnknownUser(name)
        room = actor.room if actor.room is not None else target.room
        if room is None or target.room is not room:
            raise NotHere(name)
        self._check_rights(actor, room)
        if target is actor or target.id == room.owner_id:
            raise NotAllowed()
        return target, room

    def _check_rights(self, actor: User, room: Room) -> None:
        if room.owner_id != actor.id and not self.is_operator(actor):
            raise NotAllowed()

    def _changed(self, room: Room, event: RoomChanged) -> None:
        for member in room.members:
            member.client.room_changed(event)
