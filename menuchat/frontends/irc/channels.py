"""Channels: menuchat rooms as IRC sees them.

Channel C{#lobby} is room C{lobby}; the room's owner is its channel
operator (C{@}), the only one. JOIN opens a room that does not exist, its
joiner owning it, as option 4 does; a user is in one room at a time
(CHANLIMIT=#:1). Moderation maps onto the hub's: KICK, C{MODE +o} hands
the room over, and C{MODE +q}/C{-q} (the quiet list, as Solanum and
WeeChat's /quiet have it) mutes and unmutes. A room is always C{+nt}:
only members speak and only the owner sets the topic.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from twisted.internet.defer import Deferred

from menuchat.core import errors
from menuchat.core.events import HistoryLine, RoomLine
from menuchat.core.hub import Room, User
from menuchat.core.names import token_key, token_problem
from menuchat.frontends.irc import numerics as n
from menuchat.frontends.irc.base import SessionBase
from menuchat.frontends.irc.wire import MAX_LINE, from_irc, irc_nick, is_channel
from menuchat.frontends.menu.base import format_time

__all__ = ["Channels"]


class Channels(SessionBase):
    """JOIN, PART, NAMES, TOPIC, LIST, WHO, WHOIS, KICK and MODE."""

    # Finding

    def _room_named(self, channel: str) -> Room | None:
        if not is_channel(channel) or token_problem(channel[1:]) is not None:
            return None
        return self._hub.room(channel[1:])

    def find_online(self, nick: str) -> User | None:
        """The connected user with this nick: by name, or by the nick a
        name with characters IRC reserves is shown as."""
        user = self._hub.online(nick) if token_problem(nick) is None else None
        if user is not None:
            return user
        key = token_key(nick)
        return next(
            (u for u in self._hub.users() if token_key(irc_nick(u.name)) == key), None
        )

    def _realname(self, user: User) -> str:
        client = user.client
        if isinstance(client, SessionBase):
            return client.realname
        return n.MENU_REALNAME

    # JOIN and PART

    def irc_JOIN(self, params: list[str]) -> Deferred[None] | None:
        if not params or not params[0]:
            self.numeric(n.ERR_NEEDMOREPARAMS, "JOIN", n.NEED_MORE_PARAMS)
            return None
        if params[0] == "0":
            room = self._user.room
            if room is not None:
                self._part(room, "")
            return None
        return self._join_each(params[0].split(","))

    def _join_each(self, channels: list[str]) -> Deferred[None] | None:
        """Join each channel in turn; one whose room is being opened (a
        cluster deciding who has its id) holds back the rest."""
        for at, channel in enumerate(channels):
            pending = self._join(channel)
            if pending is not None:
                rest = channels[at + 1 :]
                if rest:
                    pending.addCallback(lambda _, more: self._join_each(more), rest)
                return pending
        return None

    def _join(self, channel: str) -> Deferred[None] | None:
        user = self._user
        if not is_channel(channel) or token_problem(channel[1:]) is not None:
            self.numeric(n.ERR_NOSUCHCHANNEL, channel, n.NO_SUCH_CHANNEL)
            return None
        room_id = channel[1:]
        if user.room is not None:
            if user.room.key != token_key(room_id):
                self.numeric(
                    n.ERR_TOOMANYCHANNELS,
                    channel,
                    n.TOO_MANY_CHANNELS.format(room="#" + user.room.id),
                )
            return None

        def refused(error: errors.ChatError | None) -> None:
            if isinstance(error, errors.RoomTaken):
                # Another node of the cluster opened it first.
                error = self._join_open(room_id)
            if error is None:
                return
            if isinstance(error, errors.RoomFull):
                self.numeric(n.ERR_CHANNELISFULL, channel, n.CHANNEL_FULL)
            elif isinstance(error, errors.TooManyRooms):
                self.numeric(n.ERR_TOOMANYCHANNELS, channel, n.TOO_MANY_ROOMS)
            elif isinstance(error, errors.UnknownRoom):
                self.numeric(n.ERR_NOSUCHCHANNEL, channel, n.NO_SUCH_CHANNEL)
            else:
                raise error

        if self._hub.room(room_id) is not None:
            refused(self._join_open(room_id))
            return None

        def created(room: Room) -> None:
            self._owner = user.name
            self._topic_by = None
            self._join_burst(room)

        return self._answer(
            self._hub.open_room(user, room_id), created, refused, "JOIN"
        )

    def _join_open(self, room_id: str) -> errors.ChatError | None:
        """Join the open room C{room_id} (member_joined shows it), or why not."""
        try:
            self._hub.join_room(self._user, room_id)
        except (errors.RoomFull, errors.TooManyRooms, errors.UnknownRoom) as e:
            return e
        return None

    def _join_burst(
        self, room: Room, history: Iterable[HistoryLine | RoomLine] = ()
    ) -> None:
        """What a joiner is told: its JOIN, the topic, the names, the history."""
        channel = "#" + room.id
        self.send(self.source(self._user), "JOIN", channel)
        if room.topic:
            self.numeric(n.RPL_TOPIC, channel, room.topic)
        self._names(room)
        self.numeric(n.RPL_ENDOFNAMES, channel, n.END_OF_NAMES)
        for said in history:
            when = format_time(said.said_at)
            text = f"[{when}] <{irc_nick(said.speaker)}> {said.text}"
            self.send(self.gateway.server, "NOTICE", channel, text)

    def irc_PART(self, params: list[str]) -> None:
        if not params or not params[0]:
            self.numeric(n.ERR_NEEDMOREPARAMS, "PART", n.NEED_MORE_PARAMS)
            return
        message = from_irc(params[1]) or "" if len(params) > 1 else ""
        for channel in params[0].split(","):
            room = self._room_named(channel)
            if room is None:
                self.numeric(n.ERR_NOSUCHCHANNEL, channel, n.NO_SUCH_CHANNEL)
            elif self._user.room is not room:
                self.numeric(n.ERR_NOTONCHANNEL, channel, n.NOT_ON_CHANNEL)
            else:
                self._part(room, message)

    def _part(self, room: Room, message: str) -> None:
        """Leave C{room}: a guest owner hands it to the next member first,
        and closes it if it is alone in it."""
        user = self._user
        self._hand_over(user)
        if room.owner_id == user.id and not room.persistent:
            self._hub.close_room(user)
        else:
            self._hub.leave_room(user, message)
        params = ("#" + room.id, message) if message else ("#" + room.id,)
        self.send(self.source(user), "PART", *params)

    # What is in a room

    def irc_NAMES(self, params: list[str]) -> None:
        if not params or not params[0]:
            room = self._user.room
            if room is not None:
                self._names(room)
            self.numeric(n.RPL_ENDOFNAMES, "*", n.END_OF_NAMES)
            return
        for channel in params[0].split(","):
            room = self._room_named(channel)
            if room is not None:
                self._names(room)
            self.numeric(n.RPL_ENDOFNAMES, channel, n.END_OF_NAMES)

    def _names(self, room: Room) -> None:
        """RPL_NAMREPLY lines, as many as the names need."""
        channel = "#" + room.id
        names = [
            ("@" if m.id == room.owner_id else "") + irc_nick(m.name)
            for m in room.members
        ]
        room_left = MAX_LINE - len(
            f":{self.gateway.server} 353 {self.me} = {channel} :".encode()
        )
        batch: list[str] = []
        size = 0
        for name in names:
            cost = len(name.encode()) + 1
            if batch and size + cost > room_left:
                self.numeric(n.RPL_NAMREPLY, "=", channel, " ".join(batch))
                batch, size = [], 0
            batch.append(name)
            size += cost
        if batch:
            self.numeric(n.RPL_NAMREPLY, "=", channel, " ".join(batch))

    def irc_TOPIC(self, params: list[str]) -> None:
        if not params or not params[0]:
            self.numeric(n.ERR_NEEDMOREPARAMS, "TOPIC", n.NEED_MORE_PARAMS)
            return
        channel = params[0]
        room = self._room_named(channel)
        if room is None:
            self.numeric(n.ERR_NOSUCHCHANNEL, channel, n.NO_SUCH_CHANNEL)
            return
        channel = "#" + room.id
        if len(params) == 1:
            if not room.topic:
                self.numeric(n.RPL_NOTOPIC, channel, n.NO_TOPIC)
                return
            self.numeric(n.RPL_TOPIC, channel, room.topic)
            if self._topic_by is not None and self._user.room is room:
                by, at = self._topic_by
                self.numeric(n.RPL_TOPICWHOTIME, channel, irc_nick(by), str(int(at)))
            return
        if self._user.room is not room:
            self.numeric(n.ERR_NOTONCHANNEL, channel, n.NOT_ON_CHANNEL)
            return
        try:
            self._hub.set_topic(self._user, from_irc(params[1]) or "")
        except errors.NotAllowed:
            self.numeric(n.ERR_CHANOPRIVSNEEDED, channel, n.CHANOP_NEEDED)

    def irc_LIST(self, params: list[str]) -> None:
        wanted = None
        if params and params[0]:
            wanted = {token_key(c[1:]) for c in params[0].split(",") if is_channel(c)}
        self.numeric(n.RPL_LISTSTART, "Channel", n.LIST_START)
        for room in self._hub.rooms():
            if wanted is None or room.key in wanted:
                self.numeric(
                    n.RPL_LIST, "#" + room.id, str(len(room.members)), room.topic
                )
        self.numeric(n.RPL_LISTEND, n.LIST_END)

    # Who is who

    def irc_WHO(self, params: list[str]) -> None:
        target = params[0] if params and params[0] else "*"
        if is_channel(target):
            room = self._room_named(target)
            for member in room.members if room is not None else ():
                self._who_line(member)
        else:
            user = self.find_online(target)
            if user is not None:
                self._who_line(user)
        self.numeric(n.RPL_ENDOFWHO, target, n.END_OF_WHO)

    def _who_line(self, user: User) -> None:
        room = user.room
        channel = "#" + room.id if room is not None else "*"
        flags = "H@" if room is not None and room.owner_id == user.id else "H"
        self.numeric(
            n.RPL_WHOREPLY,
            channel,
            str(user.id),
            self.gateway.server,
            self.gateway.server,
            irc_nick(user.name),
            flags,
            f"0 {self._realname(user)}",
        )

    def irc_WHOIS(self, params: list[str]) -> None:
        if not params or not params[-1]:
            self.numeric(n.ERR_NONICKNAMEGIVEN, n.NO_NICK_GIVEN)
            return
        nick = params[-1].split(",")[0]
        user = self.find_online(nick)
        if user is None:
            self.numeric(n.ERR_NOSUCHNICK, nick, n.NO_SUCH_NICK)
            self.numeric(n.RPL_ENDOFWHOIS, nick, n.END_OF_WHOIS)
            return
        shown = irc_nick(user.name)
        server = self.gateway.server
        self.numeric(
            n.RPL_WHOISUSER, shown, str(user.id), server, "*", self._realname(user)
        )
        room = user.room
        if room is not None:
            op = "@" if room.owner_id == user.id else ""
            self.numeric(n.RPL_WHOISCHANNELS, shown, f"{op}#{room.id}")
        self.numeric(n.RPL_WHOISSERVER, shown, server, n.SERVER_INFO)
        self.numeric(n.RPL_ENDOFWHOIS, shown, n.END_OF_WHOIS)

    # Moderation

    def irc_KICK(self, params: list[str]) -> None:
        if len(params) < 2:
            self.numeric(n.ERR_NEEDMOREPARAMS, "KICK", n.NEED_MORE_PARAMS)
            return
        room = self._checked_room(params[0])
        if room is None:
            return
        reason = from_irc(params[2]) or "" if len(params) > 2 else ""
        for nick in params[1].split(","):
            self._moderate(
                room, nick, lambda name: self._hub.kick(self._user, name, reason)
            )

    def irc_MODE(self, params: list[str]) -> None:
        if not params or not params[0]:
            self.numeric(n.ERR_NEEDMOREPARAMS, "MODE", n.NEED_MORE_PARAMS)
            return
        target = params[0]
        if not is_channel(target):
            self._user_mode(target, params[1:])
            return
        room = self._room_named(target)
        if room is None:
            self.numeric(n.ERR_NOSUCHCHANNEL, target, n.NO_SUCH_CHANNEL)
            return
        channel = "#" + room.id
        if len(params) == 1:
            self.numeric(n.RPL_CHANNELMODEIS, channel, "+nt")
            self.numeric(n.RPL_CREATIONTIME, channel, str(int(room.created_at)))
            return
        arguments = iter(params[2:])
        sign = "+"
        for mode in params[1]:
            if mode in "+-":
                sign = mode
            elif mode == "b" and not params[2:]:
                self.numeric(n.RPL_ENDOFBANLIST, channel, n.END_OF_BANS)
            elif mode == "q" and not params[2:]:
                self._quiet_list(room)
            elif mode in "nt" and sign == "+":
                pass  # always so
            elif mode in "qo" and (sign, mode) != ("-", "o"):
                argument = next(arguments, None)
                if argument is None:
                    self.numeric(n.ERR_NEEDMOREPARAMS, "MODE", n.NEED_MORE_PARAMS)
                    return
                if self._checked_room(channel) is None:
                    return
                self._mode_change(room, sign, mode, argument.split("!")[0])
            else:
                self.numeric(n.ERR_UNKNOWNMODE, sign + mode, n.UNKNOWN_MODE)

    def _mode_change(self, room: Room, sign: str, mode: str, nick: str) -> None:
        user = self._user
        if mode == "o":
            self._moderate(room, nick, lambda name: self._hub.give_room(user, name))
        else:
            muted = sign == "+"
            self._moderate(room, nick, lambda name: self._hub.mute(user, name, muted))

    def _quiet_list(self, room: Room) -> None:
        channel = "#" + room.id
        for member in room.members:
            if member.id in room.muted:
                entry = f"{irc_nick(member.name)}!*@*"
                self.numeric(n.RPL_QUIETLIST, channel, "q", entry)
        self.numeric(n.RPL_ENDOFQUIETLIST, channel, "q", n.END_OF_QUIETS)

    def _user_mode(self, nick: str, changes: list[str]) -> None:
        if token_key(nick) != token_key(self.me):
            if self.find_online(nick) is None:
                self.numeric(n.ERR_NOSUCHNICK, nick, n.NO_SUCH_NICK)
            else:
                self.numeric(n.ERR_USERSDONTMATCH, n.USERS_DONT_MATCH)
        elif not changes:
            self.numeric(n.RPL_UMODEIS, "+" + "".join(sorted(self.user_modes)))
        else:
            self._change_user_modes(changes[0])

    def _change_user_modes(self, changes: str) -> None:
        """Invisible (i) and wallops (w) are kept and echoed, as clients
        wait for the echo of what they ask at connect; they change nothing
        else here."""
        sign, done = "+", ""
        for mode in changes:
            if mode in "+-":
                sign = mode
            elif mode not in "iw":
                self.numeric("501", "Unknown MODE flag")
            elif (sign == "+") != (mode in self.user_modes):
                if sign == "+":
                    self.user_modes.add(mode)
                else:
                    self.user_modes.discard(mode)
                done += sign + mode
        if done:
            self.send(self.source(self._user), "MODE", self.me, done)

    def _checked_room(self, channel: str) -> Room | None:
        """The room of C{channel} if this user is in it; else say why not."""
        room = self._room_named(channel)
        if room is None:
            self.numeric(n.ERR_NOSUCHCHANNEL, channel, n.NO_SUCH_CHANNEL)
        elif self._user.room is not room:
            self.numeric(n.ERR_NOTONCHANNEL, channel, n.NOT_ON_CHANNEL)
            return None
        return room

    def _moderate(self, room: Room, nick: str, act: Callable[[str], object]) -> None:
        channel = "#" + room.id
        target = self.find_online(nick)
        if target is None:
            self.numeric(n.ERR_NOSUCHNICK, nick, n.NO_SUCH_NICK)
            return
        try:
            act(target.name)
        except errors.NotHere:
            self.numeric(n.ERR_USERNOTINCHANNEL, nick, channel, n.USER_NOT_IN_CHANNEL)
        except errors.NotAllowed:
            owner = target.id == room.owner_id and room.owner_id != self._user.id
            text = n.CANNOT_MODERATE_OWNER if owner else n.CHANOP_NEEDED
            self.numeric(n.ERR_CHANOPRIVSNEEDED, channel, text)
        except errors.UnknownUser:
            self.numeric(n.ERR_NOSUCHNICK, nick, n.NO_SUCH_NICK)
