"""Room lines to menu members, told together: rendered once, queued once a
turn for each member as lines shared by all, in order with everything else
each member is sent, and behind an answer a member still owes."""

from __future__ import annotations

from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase

from menuchat.config import Limits
from menuchat.core.events import room_line
from menuchat.core.rooms import EachMember
from menuchat.frontends.menu.audience import MenuAudience, render_line
from menuchat.frontends.menu.base import WIRE
from menuchat.frontends.menu.factory import MenuChatProtocol
from menuchat.net.flusher import FEW
from menuchat.net.output import SharedLines
from tests.support import Wire, connect, make_factory, room
from tests.test_pipelining import LateStore


def said(speaker: str, *texts: str) -> bytes:
    return b"".join(f"{speaker}> {text}\r\n".encode() for text in texts)


class RenderTests(SynchronousTestCase):
    def test_a_line_is_rendered_once_and_kept_on_its_event(self) -> None:
        event = room_line("ann", "hi", 0.0, "r", 1)
        data = render_line(event)
        assert data == b"ann> hi\r\n"
        assert event.wire == {WIRE: data}
        assert render_line(event) is data
        event.wire[WIRE] = b"kept\r\n"
        assert render_line(event) == b"kept\r\n"


class SharedRoomLinesTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.clock = Clock()
        self.factory = make_factory(self.clock, Limits(line_rate=0))
        # More members than a read writes to at once (FEW): the room's
        # lines wait for the end of the turn.
        self.members = room(self.factory, FEW + 2)
        self.speaker = self.members[0][0]

    def test_the_menu_members_of_a_room_are_told_together(self) -> None:
        self.speaker.dataReceived(b"hi\r\n")
        found = self.factory.hub.room("r")
        assert found is not None
        assert len(found.listeners) == 1
        assert not isinstance(found.listeners[0], EachMember)
        audiences = {protocol.session.audience for protocol, _ in self.members}  # type: ignore[union-attr]
        assert audiences == {self.factory.audience}
        assert isinstance(self.factory.audience, MenuAudience)

    def test_a_read_of_lines_is_one_shared_entry_and_one_write_per_member(
        self,
    ) -> None:
        texts = [f"line {n}" for n in range(20)]
        self.speaker.dataReceived("".join(t + "\r\n" for t in texts).encode())
        queues = [protocol._queue for protocol, _ in self.members]
        shared = queues[1][0]
        assert isinstance(shared, SharedLines)
        assert all(queue == [shared] for queue in queues[1:])
        # The speaker hears its lines too, at once: its reply.
        assert not queues[0] and self.members[0][1].writes == 1
        # Sealed by the speaker's write: the turn's lines, joined once.
        assert shared.data == said("m0", *texts)
        for _, wire in self.members:
            assert wire.take() == said("m0", *texts)
            assert wire.writes == 1

    def test_lines_of_several_speakers_in_one_turn_in_order_for_each(self) -> None:
        (m0, _), (m1, _), (m2, _) = (self.members[n] for n in range(3))
        m0.dataReceived(b"a1\r\n")
        m1.dataReceived(b"b1\r\n")
        m0.dataReceived(b"a2\r\n")
        m2.dataReceived(b"c1\r\n")
        heard = (
            said("m0", "a1") + said("m1", "b1") + said("m0", "a2") + said("m2", "c1")
        )
        for _, wire in self.members:
            assert wire.take() == heard

    def test_other_output_between_lines_keeps_its_place(self) -> None:
        (m0, _), (m1, m1_wire) = self.members[0], self.members[1]
        m0.dataReceived(b"one\r\n")
        m1.dataReceived(b"/nosuch\r\n")  # m1's own error, between two lines
        m0.dataReceived(b"two\r\n")
        text = m1_wire.take()
        assert text.index(b"m0> one") < text.index(b"is not a command")
        assert text.index(b"is not a command") < text.index(b"m0> two")
        assert self.members[2][1].take() == said("m0", "one", "two")


class OwedAnswerTests(SynchronousTestCase):
    """A member whose private message waits for the store hears the room's
    lines said after it behind its answer, as all else it is told."""

    def setUp(self) -> None:
        self.clock = Clock()
        self.store = LateStore()
        self.factory = make_factory(self.clock, Limits(line_rate=0), self.store)
        self.members: list[tuple[MenuChatProtocol, Wire]] = []
        for n in range(FEW + 2):
            self.members.append(self.login(n))
        self.members[0][0].dataReceived(b"4\r\nr\r\n")
        for protocol, _ in self.members[1:]:
            protocol.dataReceived(b"5\r\nr\r\n")
        self.release_all()
        for _, wire in self.members:
            wire.clear()

    def login(self, n: int) -> tuple[MenuChatProtocol, Wire]:
        protocol, wire = connect(self.factory, port=43000 + n)
        protocol.dataReceived(f"m{n}\r\n".encode())
        self.release_all()
        return protocol, wire

    def release_all(self) -> None:
        while self.store.pending:
            self.store.release(0)
            self.clock.advance(0)

    def test_lines_said_after_a_send_follow_its_answer(self) -> None:
        (m0, _), (m1, m1_wire) = self.members[0], self.members[1]
        # A busy turn: its first replies left at once, the rest wait for its
        # end, and so the lines m0 says stay open to more.
        for protocol, wire in self.members[2:]:
            protocol.dataReceived(b"/nosuch\r\n")
            assert b"is not a command" in wire.take()
        m0.dataReceived(b"before\r\n")
        m1.dataReceived(b"/msg m0 hi\r\n")
        m0.dataReceived(b"after 1\r\nafter 2\r\n")
        self.clock.advance(0)
        assert self.store.pending  # the message is not in yet
        assert m1_wire.take() == said("m0", "before")
        self.release_all()
        assert m1_wire.take() == b"Message sent!\r\n" + said("m0", "after 1", "after 2")
        for _, wire in self.members[2:]:
            assert wire.take() == said("m0", "before", "after 1", "after 2")

    def test_telnet_answers_after_a_send_keep_their_place(self) -> None:
        (m0, _), (m1, m1_wire) = self.members[0], self.members[1]
        for protocol, wire in self.members[2:]:
            protocol.dataReceived(b"/nosuch\r\n")
            wire.clear()
        m0.dataReceived(b"before\r\n")
        # The connection answers telnet itself, not behind the answer owed.
        m1.dataReceived(b"/msg m0 hi\r\n")
        m1.dataReceived(b"\xff\xfd\x18")
        m0.dataReceived(b"after\r\n")
        assert m1_wire.take() == said("m0", "before") + b"\xff\xfc\x18"
        self.release_all()
        assert m1_wire.take() == b"Message sent!\r\n" + said("m0", "after")

    def test_once_answered_the_member_shares_the_lines_again(self) -> None:
        (m0, _), (m1, m1_wire) = self.members[0], self.members[1]
        m1.dataReceived(b"/msg m0 hi\r\n")
        self.release_all()
        m1_wire.clear()
        m0.dataReceived(b"one\r\ntwo\r\n")
        assert len(m1._queue) == 1 and isinstance(m1._queue[0], SharedLines)
        assert m1_wire.take() == said("m0", "one", "two")
