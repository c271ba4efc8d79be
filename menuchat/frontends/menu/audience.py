"""The menu sessions of a room, told of its lines together.

The hot path of a room: a line reaches every menu member as the same
bytes, rendered once per line (and kept on the event under L{WIRE}). The
members' queues share one L{menuchat.net.output.SharedLines} a turn: the
first line said in the room queues it once for each member, and the lines
said after it in the same turn are added to it once, whatever the number
of members. In a room of R members, K lines of a turn then cost R + K
steps, not R times K.

A member whose session owes an answer (L{menuchat.frontends.menu.replies})
keeps what is written to it behind that answer: it takes the shared lines
sealed (L{menuchat.frontends.menu.replies.HeldOutput.write_shared}), so a
line said after them starts new ones, and it is told that line in its
place too.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from menuchat.core.events import RoomLine
from menuchat.frontends.menu import texts
from menuchat.frontends.menu.base import WIRE, SessionBase
from menuchat.net.output import SharedLines

if TYPE_CHECKING:
    from menuchat.core.hub import User

__all__ = ["MenuAudience", "render_line"]


def render_line(event: RoomLine) -> bytes:
    """A room line as the menu shows it, encoded once per event."""
    data = event.wire.get(WIRE)
    if data is None:
        text = texts.ROOM_LINE.format(name=event.speaker, text=event.text)
        data = event.wire[WIRE] = text.encode()
    return data


class MenuAudience:
    """What the menu sessions of a server share to hear room lines."""

    def listeners(self, members: tuple[User, ...]) -> _MenuListeners:
        return _MenuListeners(members)


class _MenuListeners:
    """The menu members of one room, until its members change."""

    __slots__ = ("_sessions", "_shared")

    def __init__(self, members: tuple[User, ...]) -> None:
        self._sessions: list[SessionBase] = []
        for member in members:
            session = member.client
            assert isinstance(session, SessionBase)
            self._sessions.append(session)
        #: The lines being shared this turn; a new one once it is sealed.
        self._shared: SharedLines | None = None

    def room_line(self, event: RoomLine, speaker: User) -> None:
        data = render_line(event)
        shared = self._shared
        if shared is not None and shared.data is None:
            shared.append(data)
            return
        self._shared = shared = SharedLines(data)
        for session in self._sessions:
            # The session's output now: its connection, or what holds its
            # output behind an answer owed.
            session._output.write_shared(shared)
