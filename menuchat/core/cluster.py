"""What the hub shares with the other processes of a cluster, if any.

A lone process has no cluster (the hub's C{cluster} is None) and pays
nothing for this seam. In a cluster, every node keeps a mirror of the whole
server's presence and rooms; the hub calls its L{Cluster} where one process
is not the whole server: claiming a name or a room id (which must be unique
across nodes, and decided by one party), a user of this node arriving or
leaving, every change of a room made by a user of this node (which every
other node replays on its mirror, delivering to its own members), and a
room closing. L{menuchat.store.redis_cluster} is the Redis one.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from twisted.internet.defer import Deferred

if TYPE_CHECKING:
    from menuchat.core.hub import Hub, User

__all__ = ["REPLAYED", "Cluster", "Membership"]

#: The hub methods a cluster replays, each taking the acting user first.
REPLAYED = frozenset(
    {
        "create_room", "join_room", "say", "leave_room", "close_room", "kick",
        "mute", "give_room", "set_topic", "broadcast", "set_registered",
    }
)  # fmt: skip


class Cluster(Protocol):
    """The hub's view of the other nodes."""

    def claim_name(self, key: str) -> Deferred[bool]:
        """Claim the name with this key for a user of this node; False if a
        user of another node has it. Two nodes racing: exactly one wins."""

    def release_name(self, key: str) -> None:
        """Give back a name claimed for a login that failed after all."""

    def claim_room(self, key: str, created_at: float) -> Deferred[bool]:
        """Claim the room id with this key for a room created at
        C{created_at}; False if another node's room has it."""

    def release_room(self, key: str, created_at: float) -> None:
        """The room created at C{created_at} is closed (or was never
        opened): its id may be claimed again. Every node calls this for a
        room it closes; only the claim of that very room is given back."""

    def arrived(self, user: User) -> None:
        """A user of this node logged in: the other nodes list it now."""

    def departed(self, user: User, message: str) -> None:
        """A user of this node is gone, with C{message} as its last word:
        the other nodes drop it, and its name is free again."""

    def publish(self, op: str, user: User, *args: object) -> None:
        """A room change made by a user of this node (C{op}, one of
        L{REPLAYED}, names the hub method, C{args} follow the user): every
        other node replays it."""


class Membership(Protocol):
    """How the service runs a cluster: joined once the store is open and
    before the ports take connections, left once they are closed."""

    def start(self, hub: Hub) -> Deferred[None]:
        """Join: become C{hub}'s cluster and catch up with the other nodes.
        Fails with L{menuchat.store.StoreError} if they cannot be reached."""

    def stop(self) -> Deferred[None]:
        """Leave: the other nodes forget this one at once."""
