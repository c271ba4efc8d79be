"""The IRC sessions of a room, told of its lines together.

The hot path of the gateway: a room line reaches every IRC member of the
room as the same bytes, rendered once per line (and kept on the event
under L{WIRE}). The members' queues share one
L{menuchat.net.output.SharedLines} a turn: the first line said in the
room queues it once for each member, and the lines said after it in the
same turn are added to it once, whatever the number of members. Its
speaker does not hear a line, as on any IRC server, unless it asked for
C{echo-message}: a line that must reach other members than the open
lines do starts new ones.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from menuchat.core.events import RoomLine
from menuchat.frontends.irc.base import WIRE, SessionBase
from menuchat.frontends.irc.wire import line, mask, to_irc
from menuchat.net.output import SharedLines

if TYPE_CHECKING:
    from menuchat.core.hub import User

__all__ = ["RoomAudience", "SharedOutput", "render_line"]


class SharedOutput(Protocol):
    """The part of a session's output that takes lines shared with others."""

    def write_shared(self, shared: SharedLines) -> None: ...


def render_line(event: RoomLine, server: str, command: str) -> bytes:
    """A room line as IRC shows it: a PRIVMSG (or, said with one, a NOTICE)
    from its speaker, encoded once per event."""
    data = event.wire.get(WIRE)
    if data is None:
        source = mask(event.speaker, event.speaker_id, server)
        data = line(source, command, "#" + event.room, to_irc(event.text))
        event.wire[WIRE] = data
    return data


class RoomAudience:
    """What the IRC sessions of one gateway share to hear room lines.

    @param server: the gateway's name, the host part of every mask.
    """

    def __init__(self, server: str) -> None:
        self.server = server
        #: How the line being said is shown: C{NOTICE} while an IRC
        #: client's NOTICE to its channel is being said, else C{PRIVMSG}.
        self.command = "PRIVMSG"

    def listeners(self, members: tuple[User, ...]) -> _RoomListeners:
        return _RoomListeners(self, members)


class _RoomListeners:
    """The IRC members of one room, until its members change."""

    __slots__ = ("_audience", "_deaf", "_outputs", "_shared")

    def __init__(self, audience: RoomAudience, members: tuple[User, ...]) -> None:
        self._audience = audience
        self._outputs: list[tuple[int, SharedOutput]] = []
        for member in members:
            client = member.client
            assert isinstance(client, SessionBase)
            self._outputs.append((member.id, client.output))
        #: The lines being shared, and whom they leave out (0: no one).
        self._shared: SharedLines | None = None
        self._deaf = 0

    def room_line(self, event: RoomLine, speaker: User) -> None:
        audience = self._audience
        data = render_line(event, audience.server, audience.command)
        client = speaker.client
        deaf = (
            speaker.id
            if isinstance(client, SessionBase) and not client.hears_own_lines
            else 0
        )
        shared = self._shared
        if shared is not None and shared.open and deaf == self._deaf:
            shared.append(data)
            return
        if shared is not None:
            shared.seal()
        self._shared = shared = SharedLines(data)
        self._deaf = deaf
        for user_id, output in self._outputs:
            if user_id != deaf:
                output.write_shared(shared)
