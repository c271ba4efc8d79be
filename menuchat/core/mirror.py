"""What one node of a cluster holds, and making a hub's mirror agree with it.

Each node is the authority on its own users: who they are, whether they
are registered, which room each is in, and the rooms they own (with their
topic and voices). A node says so in a state: plain lists, ready for JSON.
A hub whose mirror of other nodes may have gone stale (it started late, or
lost touch with the others) is made to agree with the states it was sent,
without telling anyone but the members of a room that closed meanwhile.
No I/O here: the cluster carries the states.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from menuchat.core.events import Member
from menuchat.core.names import token_key

if TYPE_CHECKING:
    from menuchat.core.hub import Hub

__all__ = ["State", "agree", "state_of"]

#: [users, rooms]: users as [id, name, registered, room key or None],
#: rooms as [id, owner id, owner name, topic, kept, created at, muted ids].
State = list[Any]


def state_of(hub: Hub, node: str = "") -> State:
    """What C{hub} holds of node C{node} ("": its own node)."""
    users = [
        [u.id, u.name, u.registered, u.room.key if u.room else None]
        for u in hub.users()
        if u.node == node
    ]
    own = {entry[0] for entry in users}
    rooms = [
        [r.id, r.owner_id, r.owner_name, r.topic, r.persistent, r.created_at,
         sorted(r.muted)]
        for r in hub.rooms()
        if r.owner_id in own
    ]  # fmt: skip
    return [users, rooms]


def agree(
    hub: Hub, states: dict[str, State], stand_in: Callable[[str, int], Member]
) -> None:
    """Make C{hub}'s mirror of each node in C{states} what its state says.

    Its users no longer there are dropped (as drops: their rooms' members
    are told), rooms its users no longer own closed, rooms opened there
    mirrored, its users added (each reached through C{stand_in(node, id)})
    and placed in their rooms. Nodes without a state are left as they are:
    the heartbeat decides about them.
    """
    live: dict[int, tuple[str, list[Any]]] = {}
    owned: dict[str, set[str]] = {}
    for node, (users, rooms) in states.items():
        for entry in users:
            live[entry[0]] = (node, entry)
        owned[node] = {token_key(room[0]) for room in rooms}
    for user in hub.users():
        if user.node in states and live.get(user.id, ("",))[0] != user.node:
            hub.logout(user)
    for room in hub.rooms():
        owner = hub.user(room.owner_id)
        if owner is None or not owner.node or room.persistent:
            continue
        if room.key not in owned.get(owner.node, {room.key}):
            hub.drop_room(room)
    for _, rooms in states.values():
        for room_id, owner_id, owner_name, topic, kept, at, muted in rooms:
            hub.mirror_room(room_id, owner_id, owner_name, topic, kept, at, muted)
    for node, (user_id, name, registered, room_key) in live.values():
        known = hub.user(user_id)
        if known is None:
            known = hub.add_remote(
                node, user_id, name, registered, stand_in(node, user_id)
            )
        if known is not None and known.node:
            known.registered = registered
            hub.place(known, room_key)
