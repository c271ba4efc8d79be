"""The chat domain: who is online, rooms and their rules, fan-out to members.

The hub decides and changes state; it does no I/O and knows no wording.
Presence and rooms live here, in memory: delivering a room line is the hot
path and stays synchronous, one call per front-end's members of the room
(or per member, for a front-end that tells each alone). What must outlast
a connection (ids, mailboxes) goes through the L{Store}, whose answers are
Deferreds; the hub's calls that reach it return Deferreds too. Mail to a
member that reads it on arrival is handed over, not stored.

A connected user is reached only through the L{Member} interface, which
each front-end's session implements (as twisted.words' IChatClient), with
frozen event values from L{menuchat.core.events}.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import cast

import attrs
from twisted.internet.defer import Deferred, fail, succeed
from twisted.python.failure import Failure

from menuchat.core.answers import Answer, ready, result
from menuchat.core.cluster import Cluster
from menuchat.core.errors import (
    ChatError,
    EmptyMessage,
    InvalidName,
    NameTaken,
    PasswordRequired,
    UnknownUser,
)
from menuchat.core.events import (
    CloseReason,
    LeaveReason,
    MailReader,
    Member,
    Message,
    MessageUnread,
    MessageWaiting,
)
from menuchat.core.ids import IdBlocks
from menuchat.core.moderation import Moderation
from menuchat.core.names import check_token, token_key
from menuchat.core.remote import RemoteUsers
from menuchat.core.rooms import Room, RoomRules
from menuchat.store import Account, Store

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
    registered: bool = False
    #: The node a user of another node of a cluster is connected to; ""
    #: for this node's own users.
    node: str = ""

    def __repr__(self) -> str:
        return f"<User {self.name}:{self.id}>"


#: A store's C{deliver_to} (see L{menuchat.store}).
_DeliverTo = Callable[[Message, int, Answer[int]], None]


class _Stored:
    """A store's answer to a delivery (an L{Answer}): the hub tells the
    recipient, then the sender's C{answer} hears of it."""

    __slots__ = ("_answer", "_hub", "_message")

    def __init__(self, hub: Hub, message: Message, answer: Answer[Message]) -> None:
        self._hub = hub
        self._message = message
        self._answer = answer

    def callback(self, unread: int) -> None:
        try:
            self._hub._stored(self._message, unread)
        except Exception:
            self._answer.errback(Failure())
            return
        self._answer.callback(self._message)

    def errback(self, fail: Failure) -> None:
        self._answer.errback(fail)


class Hub(RoomRules, Moderation, RemoteUsers):
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
        history_size: int = 50,
        operators: frozenset[str] = frozenset(),
        id_block: int = ID_BLOCK,
    ) -> None:
        self._store = store
        #: The store's delivery told to an answer, if it has one (see
        #: L{menuchat.store}): the private message's hot path.
        self._store_deliver_to: _DeliverTo | None = getattr(store, "deliver_to", None)
        self._now = now
        self.mailbox_size = mailbox_size
        self.max_rooms = max_rooms
        self.max_room_members = max_room_members
        self.history_size = history_size
        self.operators = frozenset(token_key(name) for name in operators)
        self._ids = IdBlocks(store, id_block)
        self._users: dict[int, User] = {}
        self._names: dict[str, User | None] = {}
        self._rooms: dict[str, Room] = {}
        #: Counts for the metrics: room line deliveries (one per member
        #: this process reached: in a cluster, each node counts its own
        #: users), private messages stored, refused logins by reason.
        self.deliveries = 0
        self.private_messages = 0
        self.login_failures: Counter[str] = Counter()
        #: The other nodes, if this hub is one of a cluster.
        self.cluster: Cluster | None = None

    # Users

    def login(
        self, name: str, client: Member, account: Account | None = None
    ) -> Deferred[User]:
        """Admit C{name}: a guest with an id that no one ever had, or, with
        the C{account} its password unlocked, a registered user with the
        account's id and spelling.

        The name is claimed at once, so two logins racing for it cannot
        both win, whatever the store's speed. A guest asking for a
        registered name fails with L{PasswordRequired}.
        """
        if account is not None:
            name = account.name
        try:
            check_token(name, InvalidName)
        except ChatError as e:
            self.login_failures["invalid_name"] += 1
            return fail(e)
        key = token_key(name)
        if key in self._names:
            self.login_failures["name_taken"] += 1
            return fail(NameTaken(name))
        if self.cluster is not None:
            return self._login_in_cluster(self.cluster, key, name, client, account)
        if account is not None:
            return succeed(self._admit(key, name, client, account.user_id, True))
        found = self._store.find_account(key)
        if ready(found) and result(found) is None:
            # The memory store, and ids left in the block: a guest's login
            # asks nothing more of Deferreds than this one answer.
            user_id = self._ids.take()
            if user_id is not None:
                return succeed(self._admit(key, name, client, user_id, False))
        self._names[key] = None  # claimed while the store answers

        def admit(user_id: int) -> User:
            return self._admit(key, name, client, user_id, False)

        def release(reason: Failure) -> Failure:
            del self._names[key]
            return reason

        return found.addCallback(self._guest_id).addCallbacks(admit, release)

    def _guest_id(self, registered: Account | None) -> Deferred[int]:
        """A new id for a guest, once the store said the name is no
        account's (if it is, L{PasswordRequired})."""
        if registered is not None:
            raise PasswordRequired(registered.name)
        return self._ids.next()

    def _admit(
        self, key: str, name: str, client: Member, user_id: int, registered: bool
    ) -> User:
        user = User(user_id, name, client, registered=registered)
        self._users[user_id] = user
        self._names[key] = user
        return user

    def unread(self, user: User) -> Deferred[int]:
        """How many messages wait in C{user}'s mailbox."""
        return self._store.unread(user.id)

    def logout(self, user: User, message: str = "") -> Deferred[None]:
        """Forget C{user}: out of its room (closing the rooms it owns), its
        unread mail dropped with each sender still here told so. The room's
        members hear C{message}, the user's last word, if any.

        Presence ends at once; the Deferred fires when the mail is dropped.
        Safe to call more than once.
        """
        if self._users.get(user.id) is not user:
            return succeed(None)
        room = user.room
        if room is not None:
            if room.owner_id == user.id and not room.persistent:
                self._close(room, CloseReason.OWNER_LEFT, by=user)
            else:
                self._leave(user, room, LeaveReason.DROPPED, message)
        del self._users[user.id]
        del self._names[token_key(user.name)]
        if user.node:
            return succeed(None)  # its own node sees to its mail
        if self.cluster is not None:
            self.cluster.departed(user, message)
        if user.registered:
            return succeed(None)  # the mail waits for the next login
        dropped = self._store.drop_mail(user.id)
        if ready(dropped):  # the memory store: no callback to run
            self._report_unread(result(dropped))
            return succeed(None)
        return dropped.addCallback(self._report_unread)

    def _report_unread(self, messages: list[Message]) -> None:
        for message in messages:
            sender = self._users.get(message.sender_id)
            if sender is not None:
                sender.client.message_unread(MessageUnread(message))

    def set_registered(self, user: User, registered: bool) -> None:
        """C{user} registered its name (or deleted its account): the rooms
        it opens from now on are kept (or not)."""
        self._share("set_registered", user, registered)
        user.registered = registered

    def users(self) -> list[User]:
        """Everyone connected, oldest login first."""
        return list(self._users.values())

    def user(self, user_id: int) -> User | None:
        """The connected user with this id, if any."""
        return self._users.get(user_id)

    def online(self, name: str) -> User | None:
        """The connected user with this name (in any case or spelling), if any."""
        return self._names.get(token_key(name))

    # Mail

    def find_user(self, who: str) -> Deferred[tuple[int, str] | None]:
        """The id and name of C{who}, an id or a name, online or registered."""
        if who.isascii() and who.isdigit() and len(who) <= 18:
            online = self._users.get(int(who))
            if online is not None:
                return succeed((online.id, online.name))
            found = self._store.account_by_id(int(who))
        else:
            named = self._names.get(token_key(who))
            if named is not None:
                return succeed((named.id, named.name))
            found = self._store.find_account(token_key(who))
        return found.addCallback(
            lambda account: None if account is None else (account.user_id, account.name)
        )

    def send_to(
        self, sender: User, who: str, text: str, notice: bool = False
    ) -> Deferred[Message]:
        """Send C{text} to C{who}, an id or a name, online or registered
        (as a notice if C{notice}: see L{Message.notice}).

        Fails with L{UnknownUser} when no one has that id or name. An online
        recipient is found at once: the store is asked only to deliver.
        """
        if not text.strip():
            return fail(EmptyMessage())
        online = self._online(who)
        if online is not None:
            return self._deliver(sender, online.id, online.name, text, notice)

        def found(recipient: tuple[int, str] | None) -> Deferred[Message]:
            if recipient is None:
                raise UnknownUser(who)
            return self._deliver(sender, recipient[0], recipient[1], text, notice)

        return self.find_user(who).addCallback(found)

    def send_to_answer(
        self,
        sender: User,
        who: str,
        text: str,
        answer: Answer[Message],
        notice: bool = False,
    ) -> None:
        """L{send_to}, telling C{answer} its outcome instead of returning a
        Deferred: the private message's hot path (see L{Answer}). To an
        online recipient, through a store that offers C{deliver_to}, no
        Deferred is made at all."""
        if not text.strip():
            answer.errback(Failure(EmptyMessage()))
            return
        online = self._online(who)
        if online is None:
            sending = self.send_to(sender, who, text, notice)
            sending.addCallbacks(answer.callback, answer.errback)
            return
        self._deliver_to(sender, online.id, online.name, text, notice, answer)

    def _online(self, who: str) -> User | None:
        """The user online with the id or name C{who}, if any."""
        if who.isascii() and who.isdigit() and len(who) <= 18:
            return self._users.get(int(who))
        return self._names.get(token_key(who))

    def send_message(
        self, sender: User, recipient_id: int, text: str, notice: bool = False
    ) -> Deferred[Message]:
        """Put C{text} in the mailbox of user C{recipient_id}, online or a
        registered user offline; tell an online recipient once it is stored.
        Fires with the message once the store holds it. C{notice}: see
        L{Message.notice}."""
        if not text.strip():
            return fail(EmptyMessage())
        recipient = self._users.get(recipient_id)
        if recipient is not None:
            return self._deliver(sender, recipient_id, recipient.name, text, notice)

        def offline(account: Account | None) -> Deferred[Message]:
            if account is None:
                raise UnknownUser(recipient_id)
            return self._deliver(sender, recipient_id, account.name, text, notice)

        return self._store.account_by_id(recipient_id).addCallback(offline)

    def _deliver(
        self,
        sender: User,
        recipient_id: int,
        recipient_name: str,
        text: str,
        notice: bool,
    ) -> Deferred[Message]:
        answer: Deferred[Message] = Deferred()
        self._deliver_to(sender, recipient_id, recipient_name, text, notice, answer)
        return answer

    def _deliver_to(
        self,
        sender: User,
        recipient_id: int,
        recipient_name: str,
        text: str,
        notice: bool,
        answer: Answer[Message],
    ) -> None:
        """Put the message in the mailbox, and tell C{answer} once it is
        there; or, for an online recipient that reads its mail on arrival
        (a L{MailReader}), hand it over at once: read as it comes, it would
        leave the mailbox as soon as it entered, and it need not wait for
        the store twice on the way."""
        message = Message(
            sender.id,
            sender.name,
            recipient_id,
            recipient_name,
            text,
            self._now(),
            notice,
        )
        reader = self._users.get(recipient_id)
        if reader is not None and getattr(reader.client, "reads_mail_at_once", False):
            self.private_messages += 1
            cast(MailReader, reader.client).message_received(message)
            answer.callback(message)
            return
        # A mailbox keeps the message, not how it was sent (Message.notice).
        kept = message._replace(notice=False) if notice else message
        deliver_to = self._store_deliver_to
        if deliver_to is not None:
            deliver_to(kept, self.mailbox_size, _Stored(self, message, answer))
            return
        stored = self._store.deliver(kept, self.mailbox_size)
        if ready(stored):  # the memory store: no callbacks
            # The reader found above: nothing came between.
            self._tell_stored(message, result(stored), reader)
            answer.callback(message)
        else:
            told = _Stored(self, message, answer)
            stored.addCallbacks(told.callback, told.errback)

    def _stored(self, message: Message, unread: int) -> None:
        """C{message} is in its recipient's mailbox: tell them if online."""
        self._tell_stored(message, unread, self._users.get(message.recipient_id))

    def _tell_stored(
        self, message: Message, unread: int, recipient: User | None
    ) -> None:
        """Count C{message}, stored, and tell C{recipient}, if online, of it."""
        self.private_messages += 1
        if recipient is not None:
            recipient.client.message_waiting(MessageWaiting(message, unread))

    def read_messages(self, user: User) -> Deferred[list[Message]]:
        """Take every unread message of C{user}, oldest first."""
        return self._store.take_mail(user.id)
