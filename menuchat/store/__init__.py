"""Where what must outlive a connection lives: the L{Store} interface.

Every call returns a Deferred, whether the answer is in memory (the memory
store answers with C{succeed()}), on disk or across the network, so the
hub and the dialogue are written once for all of them. The contract tests
in C{tests/test_store_contract.py} define the behaviour every store has.

A store whose answers come later may also offer C{deliver_to(message,
limit, answer)}: L{Store.deliver}, telling its outcome to C{answer} (an
L{menuchat.core.answers.Answer}: C{callback(unread)} or C{errback(failure)})
instead of returning a Deferred. It is the private message's hot path:
the SQLite store answers a transaction's messages together, and a
Deferred per message, with its callbacks, cost the reactor more than the
rest of the store's part. The hub uses it when a store has it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

import attrs

from menuchat.core.events import HistoryLine, Message

if TYPE_CHECKING:
    # Annotations only: the SQLite store's process imports this module, and
    # starts faster without Twisted.
    from twisted.internet.defer import Deferred

__all__ = ["Account", "HistoryLine", "SavedRoom", "Store", "StoreError"]


class StoreError(Exception):
    """The store cannot be reached or failed; its message is one line."""


@attrs.frozen(slots=True)
class Account:
    """A registered name: its id for life, its key and its password hash.

    C{key} is what makes two names the same (see L{menuchat.core.names}):
    no two accounts share one.
    """

    user_id: int
    name: str
    key: str
    password_hash: str
    created_at: float


@attrs.frozen(slots=True)
class SavedRoom:
    """A room that outlives its owner's connection: a registered owner's."""

    key: str
    room_id: str
    owner_id: int
    owner_name: str
    topic: str
    created_at: float


class Store(Protocol):
    """Ids, mailboxes and everything else that must last."""

    def start(self) -> Deferred[None]:
        """Open the store; the server serves no one before this fires."""

    def stop(self) -> Deferred[None]:
        """Finish pending writes and close the store."""

    def reserve_ids(self, count: int) -> Deferred[range]:
        """Reserve C{count} user ids no one ever had or will get again."""

    def deliver(self, message: Message, limit: int) -> Deferred[int]:
        """Put C{message} in its recipient's mailbox; fire with the unread count.

        Fails with L{menuchat.core.errors.MailboxFull}, storing nothing, when
        the mailbox holds C{limit} messages already.
        """

    def take_mail(self, user_id: int) -> Deferred[list[Message]]:
        """Remove and return the unread messages of C{user_id}, oldest first."""

    def drop_mail(self, user_id: int) -> Deferred[list[Message]]:
        """Discard the mailbox of C{user_id}; return what was in it, unread."""

    def unread(self, user_id: int) -> Deferred[int]:
        """How many messages wait for C{user_id}."""

    def create_account(self, account: Account) -> Deferred[None]:
        """Register C{account}.

        Fails with L{menuchat.core.errors.NameTaken}, storing nothing, when
        an account has the same key or the same user id.
        """

    def find_account(self, key: str) -> Deferred[Account | None]:
        """The account whose name has this key, if any."""

    def account_by_id(self, user_id: int) -> Deferred[Account | None]:
        """The account of user C{user_id}, if registered."""

    def set_password(self, user_id: int, password_hash: str) -> Deferred[None]:
        """Replace the password hash of user C{user_id}'s account."""

    def delete_account(self, user_id: int) -> Deferred[None]:
        """Forget user C{user_id}'s account and mail; the id is never reused."""

    def save_room(self, room: SavedRoom) -> Deferred[None]:
        """Keep C{room}, replacing what was kept under its key."""

    def delete_room(self, key: str) -> Deferred[None]:
        """Forget the room with this key and its history."""

    def saved_rooms(self) -> Deferred[list[SavedRoom]]:
        """Every kept room, oldest first."""

    def append_history(self, key: str, line: HistoryLine, keep: int) -> Deferred[None]:
        """Add C{line} to the history of room C{key}, keeping its last C{keep}."""

    def history(self, key: str, count: int) -> Deferred[list[HistoryLine]]:
        """The last C{count} lines of room C{key}, oldest first."""
