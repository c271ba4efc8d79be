"""What the menu shows of hub events: room lines, joins, leaves, changes, mail.

Each event is rendered once per front-end: the first session to show it
encodes it and keeps the bytes on the event (under L{WIRE}); the other
members of the room write those bytes as they are.
"""

from __future__ import annotations

import time

from menuchat.core.events import (
    Broadcast,
    Change,
    CloseReason,
    HistoryLine,
    LeaveReason,
    MemberJoined,
    MemberLeft,
    MessageUnread,
    MessageWaiting,
    RoomChanged,
    RoomClosed,
    RoomLine,
)
from menuchat.frontends.menu import texts
from menuchat.frontends.menu.audience import render_line
from menuchat.frontends.menu.base import PROMPTS, WIRE, SessionBase, State

__all__ = ["EventView", "history_line"]

ROOM_CLOSED = {
    CloseReason.OWNER_CLOSED: texts.ROOM_CLOSED_BY_OWNER,
    CloseReason.OWNER_LEFT: texts.ROOM_CLOSED_OWNER_LEFT,
}
LEFT = {
    LeaveReason.LEFT: texts.MEMBER_LEFT,
    LeaveReason.DROPPED: texts.MEMBER_DROPPED,
    LeaveReason.KICKED: texts.MEMBER_KICKED,
}
CHANGED = {
    Change.TOPIC: texts.TOPIC_SET,
    Change.OWNER: texts.OWNER_CHANGED,
    Change.MUTED: texts.MEMBER_MUTED,
    Change.UNMUTED: texts.MEMBER_UNMUTED,
}


def history_line(line: HistoryLine | RoomLine, now: float) -> str:
    """A line of room history, with its time (and its date if not today)."""
    said = time.localtime(line.said_at)
    shown = "%H:%M" if said[:3] == time.localtime(now)[:3] else "%Y-%m-%d %H:%M"
    return texts.HISTORY_LINE.format(
        time=time.strftime(shown, said), name=line.speaker, text=line.text
    )


class EventView(SessionBase):
    """The session as a L{menuchat.core.events.Member}: hub events as text."""

    __slots__ = ()

    def room_line(self, event: RoomLine) -> None:
        # A session without an audience (the server's sessions have one:
        # L{menuchat.frontends.menu.audience}) is told each line by itself.
        self._output.write_bytes(render_line(event))

    def member_joined(self, event: MemberJoined) -> None:
        if self.user is None or event.user_id != self.user.id:
            data = event.wire.get(WIRE)
            if data is None:
                text = texts.MEMBER_JOINED.format(name=event.name)
                data = event.wire[WIRE] = text.encode()
            self._output.write_bytes(data)
            return
        self.state = State.IN_ROOM
        topic = texts.ROOM_TOPIC.format(topic=event.topic) if event.topic else ""
        now = event.at
        self._output.write(
            texts.ROOM_JOINED.format(room=event.room)
            + topic
            + texts.ROOM_MEMBERS.format(names=", ".join(event.members))
            + "".join(history_line(line, now) for line in event.history)
        )

    def member_left(self, event: MemberLeft) -> None:
        if self.user is not None and event.user_id == self.user.id:
            # Only a member put out of the room hears of its own leaving.
            self._go_to_menu(texts.YOU_WERE_KICKED.format(room=event.room, by=event.by))
            return
        data = event.wire.get(WIRE)
        if data is None:
            text = LEFT[event.reason].format(name=event.name, by=event.by)
            data = event.wire[WIRE] = text.encode()
        self._output.write_bytes(data)

    def room_changed(self, event: RoomChanged) -> None:
        data = event.wire.get(WIRE)
        if data is None:
            text = CHANGED[event.change].format(
                name=event.name, by=event.by, topic=event.topic, room=event.room
            )
            data = event.wire[WIRE] = text.encode()
        self._output.write_bytes(data)

    def room_closed(self, event: RoomClosed) -> None:
        self._go_to_menu(ROOM_CLOSED[event.reason].format(room=event.room))

    def broadcast(self, event: Broadcast) -> None:
        if self.state is not State.CLOSED:
            self._notice(texts.BROADCAST.format(by=event.by, text=event.text))

    def disconnected(self, by: str) -> None:
        if self.state is not State.CLOSED:
            self._unhold()
            text = texts.DISCONNECTED_BY.format(by=by)
            if PROMPTS[self.state]:
                text = texts.CRLF + text
            self._leave_hub()
            self._output.write(text)
            self._output.close()

    def message_waiting(self, event: MessageWaiting) -> None:
        message = event.message
        if self.user is not None and message.sender_id == self.user.id:
            # A note to self: part of the reply to option 2, not an interruption.
            self._output.write(self._mail_text(event))
            return
        # However many messages arrive in one read (a sender's flood), or
        # in one turn outside reads (a store's answers), one notice tells
        # of them; it leaves with the output of that read.
        first = self._mail_notice is None
        self._mail_notice = event
        if first:
            self._output.at_read_end(self._tell_mail)

    def _tell_mail(self) -> None:
        event, self._mail_notice = self._mail_notice, None
        if event is not None and self.state is not State.CLOSED:
            self._notice(self._mail_text(event))

    def _mail_text(self, event: MessageWaiting) -> str:
        text = (
            texts.NEW_MESSAGE_IN_ROOM
            if self.state is State.IN_ROOM
            else texts.NEW_MESSAGE
        )
        message = event.message
        return text.format(
            sender=message.sender_name, sender_id=message.sender_id, unread=event.unread
        )

    def message_unread(self, event: MessageUnread) -> None:
        message = event.message
        self._notice(
            texts.MESSAGE_UNREAD.format(
                recipient=message.recipient_name, text=message.text
            )
        )
