"""The users of the other nodes of a cluster, as this node's hub holds them.

A mixin of L{menuchat.core.hub.Hub}: a login whose name the cluster must
grant first, the users of other nodes added to the mirror (each reached
through the cluster's stand-in), and the changes they make replayed here,
where this node's members are told. A lone process uses none of it.
"""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING

from twisted.internet.defer import Deferred
from twisted.logger import Logger
from twisted.python.failure import Failure

from menuchat.core.cluster import REPLAYED, Cluster
from menuchat.core.errors import ChatError, NameTaken
from menuchat.core.events import Member
from menuchat.core.names import token_key
from menuchat.store import Account

if TYPE_CHECKING:
    from menuchat.core.hub import User
    from menuchat.store import Store

__all__ = ["RemoteUsers"]


class RemoteUsers:
    """The cluster part of the hub."""

    log = Logger()

    if TYPE_CHECKING:
        _store: Store
        _users: dict[int, User]
        _names: dict[str, User | None]
        login_failures: Counter[str]

        def _guest_id(self, registered: Account | None) -> Deferred[int]: ...
        def _admit(
            self, key: str, name: str, client: Member, user_id: int, registered: bool
        ) -> User: ...
        def logout(self, user: User, message: str = "") -> Deferred[None]: ...

    def _login_in_cluster(
        self,
        cluster: Cluster,
        key: str,
        name: str,
        client: Member,
        account: Account | None,
    ) -> Deferred[User]:
        """A login while other nodes may want the same name: the cluster
        decides who has it, then the store as for a lone process."""
        self._names[key] = None  # claimed here while the cluster answers
        won = False

        def claimed(free: bool) -> int | Deferred[int]:
            nonlocal won
            if not free:
                self.login_failures["name_taken"] += 1
                raise NameTaken(name)
            won = True
            if account is not None:
                return account.user_id
            return self._store.find_account(key).addCallback(self._guest_id)

        def admit(user_id: int) -> User:
            user = self._admit(key, name, client, user_id, account is not None)
            cluster.arrived(user)
            return user

        def release(reason: Failure) -> Failure:
            if self._names.get(key, False) is None:
                del self._names[key]
            if won:
                cluster.release_name(key)
            return reason

        claim = cluster.claim_name(key)
        return claim.addCallback(claimed).addCallbacks(admit, release)

    def add_remote(
        self, node: str, user_id: int, name: str, registered: bool, client: Member
    ) -> User | None:
        """A user of node C{node} is online: listed, and a member of rooms.

        C{client} is the cluster's stand-in for it, which forwards what only
        that user is told (mail, a disconnection) to its node. Nothing
        happens (None) if the id or the name is already here.
        """
        key = token_key(name)
        if user_id in self._users or self._names.get(key) is not None:
            return None
        from menuchat.core.hub import User

        user = User(user_id, name, client, registered=registered, node=node)
        self._users[user_id] = self._names[key] = user
        return user

    def replay(self, op: str, user_id: int, args: list[object]) -> None:
        """Apply a change a user of another node made, as if made here:
        this node's members are told. A refusal means the mirrors differed
        for a moment (two nodes acting at once) and is logged."""
        user = self._users.get(user_id)
        if user is None or not user.node:
            return
        if op == "logout":
            message = args[0] if args and isinstance(args[0], str) else ""
            self.logout(user, message)
            return
        if op not in REPLAYED:
            self.log.warn("Unknown cluster event {op}", op=op)
            return
        try:
            getattr(self, op)(user, *args)
        except (ChatError, TypeError) as e:
            self.log.warn("Replaying {op} of {user}: {e!r}", op=op, user=user, e=e)
