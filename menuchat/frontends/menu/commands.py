"""What a person can ask for, by number, by slash command or in a room.

The numbered options and the slash commands share one action each, so a
command answers with the same phrases as its option: at the menu the
answer ends with the option prompt, in a room it is a line among the
room's lines. A line in a room is said to the room, unless it is C{bye},
C{exit} or a command; C{//text} says C{/text}.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import suppress
from typing import Any

from twisted.internet.defer import Deferred, fail
from twisted.python.failure import Failure

from menuchat.core import errors
from menuchat.core.answers import ignore
from menuchat.core.events import Message
from menuchat.core.hub import Room
from menuchat.frontends.failures import log_failure
from menuchat.frontends.menu import texts
from menuchat.frontends.menu.base import (
    ROOM_PROBLEMS,
    SessionBase,
    State,
    clean,
    format_time,
    reraise,
)
from menuchat.frontends.menu.replies import MAX_OWED, HeldOutput, Owed

__all__ = ["Commands"]


class Commands(SessionBase):
    """The actions of the menu and the slash commands."""

    __slots__ = ()

    # Actions shared by options and commands

    def _list_users(self) -> None:
        users = ", ".join(f"{u.name}:{u.id}" for u in self._hub.users())
        self._reply(texts.USER_LIST.format(users=users))

    def _list_rooms(self) -> None:
        rooms = ", ".join(f"{r.id} ({len(r.members)})" for r in self._hub.rooms())
        self._reply(texts.ROOM_LIST.format(rooms=rooms) if rooms else texts.NO_ROOMS)

    def _read_mail(self) -> Deferred[None] | None:
        owed = self._after_owed()
        if owed is not None:
            # A message this session sent may be to itself: read once it is
            # in the mailbox (the lines after this one wait meanwhile).
            return owed.addCallback(lambda _: self._read_mail())

        return self._answer(
            self._hub.read_messages(self._user), self._show_mail, reraise
        )

    def _show_mail(self, messages: list[Message]) -> None:
        # A notice still to come this turn would tell of messages read
        # now. (The store answers in the order it was asked: a message
        # stored after this read is told of after this listing.)
        self._mail_notice = None
        if not messages:
            self._reply(texts.NO_MESSAGES)
            return
        line = texts.MESSAGE_LINE
        self._reply(
            texts.MY_MESSAGES
            + "".join(
                [
                    line.format(
                        time=format_time(m.sent_at), text=m.text, sender=m.sender_name
                    )
                    for m in messages
                ]
            )
        )

    def _send(self, recipient: str, text: str) -> Deferred[None] | None:
        """Send C{text} to C{recipient}, an id or a name; say how it went.

        When the store answers later, the session goes on with the next
        lines meanwhile: whatever the answer, it leaves the session where
        it is now (a room) or at the option prompt, and it is written
        before what those lines answer.
        """
        reply = _SendReply(self, recipient[:40])
        self._hub.send_to_answer(self._user, recipient, text, reply)
        return None if reply._told else reply.wait()

    def _send_refusal(self, error: errors.ChatError, who: str) -> str:
        if isinstance(error, errors.UnknownUser):
            return texts.UNKNOWN_USER.format(who=who)
        if isinstance(error, errors.MailboxFull):
            full = self._hub.user(error.args[0]) if error.args else None
            name = full.name if full is not None else who
            return texts.MAILBOX_FULL.format(name=name)
        if isinstance(error, errors.EmptyMessage):
            return texts.EMPTY_MESSAGE
        raise error

    def _create(self, room_id: str) -> Deferred[None] | None:
        def created(room: Room) -> None:
            self.state = State.IN_ROOM
            self._output.write(texts.ROOM_CREATED.format(room=room.id))

        def refused(error: errors.ChatError) -> None:
            self._refuse(self._room_refusal(error, room_id))

        return self._answer(self._hub.open_room(self._user, room_id), created, refused)

    def _join(self, room_id: str) -> None:
        try:
            self._hub.join_room(self._user, room_id)
        except errors.ChatError as e:
            self._refuse(self._room_refusal(e, room_id))

    def _room_refusal(self, error: errors.ChatError, room_id: str) -> str:
        if isinstance(error, errors.InvalidRoomId):
            return ROOM_PROBLEMS[error.problem]
        if isinstance(error, errors.RoomTaken):
            return texts.ROOM_TAKEN.format(room=clean(room_id))
        if isinstance(error, errors.TooManyRooms):
            return texts.TOO_MANY_ROOMS
        if isinstance(error, errors.UnknownRoom):
            return texts.UNKNOWN_ROOM.format(room=clean(room_id))
        if isinstance(error, errors.RoomFull):
            return texts.ROOM_FULL.format(room=clean(room_id))
        if isinstance(error, errors.AlreadyInRoom):
            return texts.ALREADY_IN_ROOM.format(room=error.args[0])
        raise error

    def _leave(self) -> None:
        """C{bye}: out of the room; its owner must close a guest's room."""
        user = self._user
        room = user.room
        if room is None:
            self._refuse(texts.NOT_IN_ROOM)
            return
        if room.owner_id == user.id and not room.persistent:
            self._output.write(texts.OWNER_USE_EXIT)
            return
        self._hub.leave_room(user)
        done = texts.ROOM_LEFT_KEPT if room.owner_id == user.id else texts.ROOM_LEFT
        self._go_to_menu(done.format(room=room.id))

    def _exit(self, room: Room) -> None:
        """C{exit}: the owner closes the room for everyone."""
        user = self._user
        if room.owner_id != user.id:
            self._output.write(texts.MEMBER_USE_BYE)
            return
        self._hub.close_room(user)
        self._go_to_menu(texts.ROOM_CLOSED_BY_YOU.format(room=room.id))

    def _quit(self) -> None:
        self._leave_hub()
        self._output.write(texts.GOODBYE)
        self._output.close()

    # In a room

    def _on_room_line(self, line: str) -> Deferred[None] | None:
        # The hot path of a sender: most lines are neither a command nor a
        # word of leaving, and are told so by their first character or their
        # length before any case folding.
        text = clean(line).strip()
        if not text:
            return None
        user = self.user
        assert user is not None and user.room is not None
        if text[0] == "/":
            if text[:2] != "//":
                return self._command(text)
            text = text[1:]
        elif len(text) <= 4:
            command = text.casefold()
            if command == "exit":
                self._exit(user.room)
                return None
            if command == "bye":
                self._leave()
                return None
        try:
            self._hub.say(user, text)
        except errors.Muted:
            self._refuse(texts.YOU_ARE_MUTED)
        return None

    # Slash commands

    def _command(self, line: str) -> Deferred[None] | None:
        """Run the slash command C{line}, at the menu or in a room."""
        name, _, rest = line.partition(" ")
        rest = rest.strip()
        entry = _COMMANDS.get(name.casefold())
        if entry is None:
            self._refuse(texts.UNKNOWN_COMMAND.format(command=name[:40]))
            return None
        run, usage, needs = entry
        if needs and not rest:
            self._refuse(texts.USAGE.format(usage=usage))
            return None
        result: Deferred[None] | None = run(self, rest)
        return result

    def _cmd_who(self, rest: str) -> None:
        self._list_users()

    def _cmd_msg(self, rest: str) -> Deferred[None] | None:
        who, _, text = rest.partition(" ")
        if not text.strip():
            self._refuse(texts.USAGE.format(usage="/msg <id|name> <text>"))
            return None
        return self._send(who, text.strip())

    def _cmd_read(self, rest: str) -> Deferred[None] | None:
        return self._read_mail()

    def _cmd_rooms(self, rest: str) -> None:
        self._list_rooms()

    def _cmd_create(self, rest: str) -> Deferred[None] | None:
        return self._create(rest)

    def _cmd_join(self, rest: str) -> None:
        self._join(rest)

    def _cmd_leave(self, rest: str) -> None:
        self._leave()

    def _cmd_quit(self, rest: str) -> None:
        self._quit()

    def _cmd_help(self, rest: str) -> None:
        self._reply(texts.HELP)

    def _cmd_kick(self, rest: str) -> None:
        self._moderate(lambda: self._hub.kick(self._user, rest), rest)

    def _cmd_mute(self, rest: str) -> None:
        self._moderate(lambda: self._hub.mute(self._user, rest), rest)

    def _cmd_unmute(self, rest: str) -> None:
        self._moderate(lambda: self._hub.mute(self._user, rest, muted=False), rest)

    def _cmd_owner(self, rest: str) -> None:
        self._moderate(lambda: self._hub.give_room(self._user, rest), rest)

    def _cmd_topic(self, rest: str) -> None:
        self._moderate(lambda: self._hub.set_topic(self._user, rest), rest)

    def _cmd_close(self, rest: str) -> None:
        try:
            room = self._hub.close_room(self._user, rest)
        except errors.ChatError as e:
            self._moderation_refused(e, rest)
            return
        if self.state is State.IN_ROOM and self._user.room is None:
            self._go_to_menu(texts.ROOM_CLOSED_BY_YOU.format(room=room.id))
        else:
            self._reply(texts.ROOM_CLOSED_DONE.format(room=room.id))

    def _cmd_broadcast(self, rest: str) -> None:
        try:
            self._hub.broadcast(self._user, rest)  # heard by its sender too
        except errors.ChatError as e:
            self._moderation_refused(e, rest)

    def _cmd_disconnect(self, rest: str) -> None:
        self._moderate(lambda: self._hub.disconnect(self._user, rest), rest)

    def _moderate(self, action: Callable[[], object], name: str) -> None:
        """Do a moderation C{action}. Its room's members see it happen; an
        operator acting from elsewhere is told it is done."""
        try:
            affected = action()
        except errors.ChatError as e:
            self._moderation_refused(e, name)
            return
        if self.state is State.CLOSED:
            return
        if not isinstance(affected, Room) or affected is not self._user.room:
            self._reply(texts.DONE)

    def _moderation_refused(self, error: errors.ChatError, name: str) -> None:
        if isinstance(error, errors.NotAllowed | errors.NotOwner):
            self._refuse(texts.NOT_ALLOWED)
        elif isinstance(error, errors.NotHere | errors.UnknownUser):
            self._refuse(texts.NOT_HERE.format(name=clean(name)[:40]))
        elif isinstance(error, errors.NotInRoom):
            self._refuse(texts.NOT_IN_ROOM)
        elif isinstance(error, errors.UnknownRoom):
            self._refuse(texts.UNKNOWN_ROOM.format(room=clean(name)[:40]))
        else:
            raise error


_COMMANDS: dict[str, tuple[Callable[[Commands, str], Any], str, bool]] = {
    "/who": (Commands._cmd_who, "/who", False),
    "/msg": (Commands._cmd_msg, "/msg <id|name> <text>", True),
    "/read": (Commands._cmd_read, "/read", False),
    "/rooms": (Commands._cmd_rooms, "/rooms", False),
    "/create": (Commands._cmd_create, "/create <room>", True),
    "/join": (Commands._cmd_join, "/join <room>", True),
    "/leave": (Commands._cmd_leave, "/leave", False),
    "/quit": (Commands._cmd_quit, "/quit", False),
    "/help": (Commands._cmd_help, "/help", False),
    "/kick": (Commands._cmd_kick, "/kick <name>", True),
    "/mute": (Commands._cmd_mute, "/mute <name>", True),
    "/unmute": (Commands._cmd_unmute, "/unmute <name>", True),
    "/owner": (Commands._cmd_owner, "/owner <name>", True),
    "/topic": (Commands._cmd_topic, "/topic <text>", True),
    "/close": (Commands._cmd_close, "/close <room>", True),
    "/broadcast": (Commands._cmd_broadcast, "/broadcast <text>", True),
    "/disconnect": (Commands._cmd_disconnect, "/disconnect <name>", True),
}


#: The answer to a private message, at the menu and in a room.
_SENT = {
    texts.OPTION_PROMPT: texts.MESSAGE_SENT + texts.OPTION_PROMPT,
    "": texts.MESSAGE_SENT,
}


class _SendReply(Owed):
    """The answer to one private message (an L{Answer}), told by the hub.

    Told at once (the memory store), it is the session's reply, as any
    other. Told later (the SQLite store commits first), it was owed: the
    session went on meanwhile, and the answer takes the place kept for it,
    which it is (L{menuchat.frontends.menu.replies}). No Deferred is made
    on the way unless the session owes too many answers and must stop
    reading.
    """

    __slots__ = ("_held", "_paid", "_prompt", "_session", "_told", "_who")

    def __init__(self, session: Commands, who: str) -> None:
        # What only an answer owed uses is set when it is owed (L{wait}):
        # most answers are told at once, one per private message.
        self._session = session
        self._who = who
        self._told = False
        self._held: HeldOutput | None = None

    def wait(self) -> Deferred[None] | None:
        """After the hub was asked: None, unless the session must read no
        further line until an answer comes (too many owed)."""
        if self._told:
            return None
        self.text = None
        self.after = []
        self._paid: Deferred[None] | None = None
        session = self._session
        prompt = "" if session.state is State.IN_ROOM else texts.OPTION_PROMPT
        if prompt:
            session.state = State.MENU
        self._prompt = prompt
        held = self._held = session._owe(self)
        if len(held) < MAX_OWED:
            return None
        # Too much in flight: read on once this answer is in.
        self._paid = Deferred()
        return self._paid

    def callback(self, message: Message) -> None:
        held = self._held
        if held is None:
            self._told = True
            self._session._reply(texts.MESSAGE_SENT)
            return
        held.pay(self, _SENT[self._prompt])
        if self._paid is not None:
            self._release()

    def errback(self, reason: Failure) -> None:
        session = self._session
        held = self._held
        if held is None:
            self._told = True
            session._answer(fail(reason), ignore, self._refused)
            return
        error = reason.value
        refusal = None
        if isinstance(error, errors.ChatError):
            with suppress(errors.ChatError):  # one it does not know
                refusal = session._send_refusal(error, self._who)
        if refusal is None:
            log_failure(session.log, "Request failed", reason)
            refusal = texts.STORE_FAILED
        held.pay(self, texts.ERROR.format(reason=refusal) + self._prompt)
        self._release()

    def _refused(self, error: errors.ChatError) -> None:
        session = self._session
        session._refuse(session._send_refusal(error, self._who))

    def _release(self) -> None:
        paid, self._paid = self._paid, None
        if paid is not None:
            paid.callback(None)
