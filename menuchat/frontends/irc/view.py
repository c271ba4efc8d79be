"""What an IRC client is shown of hub events: lines, joins, leaves, modes, mail.

A room line is one PRIVMSG from its speaker (a NOTICE, said with one); a
menu user's line looks like any other. Joins are JOINs; a leave is a
PART, a drop a QUIT, a kick a KICK; a room closing puts its members out
with a KICK from its owner.
A new owner is C{MODE +o}, a mute C{MODE +q nick!*@*}. Lines every member
is sent alike are rendered once and kept on the event under L{WIRE}.
"""

from __future__ import annotations

from twisted.internet.defer import Deferred

from menuchat.core.events import (
    Broadcast,
    Change,
    LeaveReason,
    MemberJoined,
    MemberLeft,
    MessageUnread,
    MessageWaiting,
    RoomChanged,
    RoomClosed,
    RoomLine,
)
from menuchat.frontends.irc import numerics as n
from menuchat.frontends.irc.audience import render_line
from menuchat.frontends.irc.base import WIRE, SessionBase, State
from menuchat.frontends.irc.messages import Messages
from menuchat.frontends.irc.wire import irc_nick, line, mask

__all__ = ["EventView"]


class EventView(Messages):
    """The session as a L{menuchat.core.events.Member}: hub events as IRC."""

    def _write(self, data: bytes) -> None:
        if self.state is not State.CLOSED:
            self._output.write_bytes(data)

    def room_line(self, event: RoomLine) -> None:
        """A line in this member's room, told to it alone. The hub tells the
        room's IRC members together, through L{RoomAudience}."""
        user = self.user
        own = user is not None and event.speaker_id == user.id
        if own and not self.hears_own_lines:
            return
        audience = self.audience
        self._write(render_line(event, audience.server, audience.command))

    def irc_NOTICE(self, params: list[str]) -> Deferred[None] | None:
        """A NOTICE to a channel reaches its members as a NOTICE: the room
        line is rendered while the audience says so (the hub tells the
        room at once). Menu users see it as any other line."""
        self.audience.command = "NOTICE"
        try:
            return super().irc_NOTICE(params)
        finally:
            self.audience.command = "PRIVMSG"

    def member_joined(self, event: MemberJoined) -> None:
        user = self.user
        if user is not None and event.user_id == user.id:
            room = self._hub.room(event.room)
            if room is not None:
                self._owner = event.owner
                self._topic_by = None
                self._join_burst(room, event.history)
            return
        data = event.wire.get(WIRE)
        if data is None:
            source = mask(event.name, event.user_id, self.gateway.server)
            data = event.wire[WIRE] = line(source, "JOIN", "#" + event.room)
        self._write(data)

    def member_left(self, event: MemberLeft) -> None:
        data = event.wire.get(WIRE)
        if data is None:
            source = mask(event.name, event.user_id, self.gateway.server)
            channel = "#" + event.room
            if event.reason is LeaveReason.KICKED:
                reason = event.message or irc_nick(event.by)
                data = line(
                    self.source_of(event.by),
                    "KICK",
                    channel,
                    irc_nick(event.name),
                    reason,
                )
            elif event.reason is LeaveReason.LEFT:
                said = (event.message,) if event.message else ()
                data = line(source, "PART", channel, *said)
            else:
                data = line(source, "QUIT", event.message or n.CONNECTION_CLOSED)
            event.wire[WIRE] = data
        self._write(data)
        held, self._held_op = self._held_op, None
        if held is not None:
            self.send(self.gateway.server, "MODE", held[0], "+o", held[1])

    def room_changed(self, event: RoomChanged) -> None:
        channel = "#" + event.room
        source = self.source_of(event.by)
        if event.change is Change.TOPIC:
            self._topic_by = (event.by, self._clock.seconds())
            data = event.wire.get(WIRE)
            if data is None:
                data = event.wire[WIRE] = line(source, "TOPIC", channel, event.topic)
            self._write(data)
        elif event.change is Change.OWNER:
            # Who owned the room is this session's knowledge: not cached.
            old, self._owner = self._owner, event.name
            if self._leaving_owner(event.by):
                # As on any server: the owner's PART or QUIT, then the +o.
                if not self.handing_over:
                    self._held_op = (channel, irc_nick(event.name))
            elif old and old != event.name:
                self.send(
                    source, "MODE", channel, "-o+o", irc_nick(old), irc_nick(event.name)
                )
            else:
                self.send(source, "MODE", channel, "+o", irc_nick(event.name))
        else:
            sign = "+" if event.change is Change.MUTED else "-"
            data = event.wire.get(WIRE)
            if data is None:
                entry = f"{irc_nick(event.name)}!*@*"
                data = line(source, "MODE", channel, sign + "q", entry)
                event.wire[WIRE] = data
            self._write(data)

    def _leaving_owner(self, name: str) -> bool:
        """Whether C{name} is an IRC user of this gateway handing its room
        over as it leaves."""
        user = self._hub.online(name)
        client = user.client if user is not None else None
        return isinstance(client, SessionBase) and client.handing_over

    def room_closed(self, event: RoomClosed) -> None:
        reason = n.ROOM_CLOSED[event.reason.value]
        self.send(
            self.source_of(event.owner), "KICK", "#" + event.room, self.me, reason
        )
        self._owner = ""

    def broadcast(self, event: Broadcast) -> None:
        self.notice(n.BROADCAST.format(by=event.by, text=event.text))

    def disconnected(self, by: str) -> None:
        self.close_with(n.CLOSED_BY.format(nick=self.me, by=by))

    def message_waiting(self, event: MessageWaiting) -> None:
        if self.state is State.REGISTERED:
            self._drain()

    def message_unread(self, event: MessageUnread) -> None:
        message = event.message
        self.notice(
            n.MESSAGE_UNREAD.format(
                nick=irc_nick(message.recipient_name), text=message.text
            )
        )
