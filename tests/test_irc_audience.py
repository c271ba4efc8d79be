"""Room lines to IRC members, told together: rendered once, queued once a
turn for each member as lines shared by all, in order with everything
else each member is sent."""

from twisted.logger import capturedLogs
from twisted.trial.unittest import SynchronousTestCase

from menuchat.core.rooms import EachMember
from menuchat.frontends.irc.audience import RoomAudience
from menuchat.frontends.menu.audience import _MenuListeners
from menuchat.net.output import SharedLines
from tests.irc_support import World, lines


class AudienceCase(SynchronousTestCase):
    def setUp(self):
        self.world = World()
        self.members = [self.world.register(nick) for nick in ("ana", "ben", "cy")]
        for protocol, _ in self.members:
            protocol.dataReceived(b"JOIN #r\r\n")
        self.world.clock.advance(0)
        for _, wire in self.members:
            wire.clear()
            wire.writes = 0
        (
            (self.ana, self.ana_wire),
            (self.ben, self.ben_wire),
            (self.cy, self.cy_wire),
        ) = self.members

    def room(self):
        room = self.world.hub.room("r")
        assert room is not None
        return room


class SharedLinesTests(AudienceCase):
    def crowd(self):
        """More members than a read writes to at once (flusher.FEW): the
        room's lines wait for the end of the turn."""
        for nick in ("x1", "x2", "x3"):
            protocol, _ = self.world.register(nick)
            protocol.dataReceived(b"JOIN #r\r\n")
        self.world.clock.advance(0)
        for _, wire in self.members:
            wire.clear()
            wire.writes = 0

    def test_a_read_of_lines_is_one_shared_entry_and_one_write_per_member(self):
        self.crowd()
        self.ana.dataReceived(
            b"".join(b"PRIVMSG #r :line %d\r\n" % n for n in range(20))
        )
        queued = [protocol._queue for protocol, _ in self.members]
        assert queued[0] is None  # ana does not hear her own lines
        assert [len(q) for q in queued[1:]] == [1, 1]
        shared = queued[1][0]
        assert isinstance(shared, SharedLines)
        assert queued[2][0] is shared
        assert len(shared.lines) == 20
        for _, wire in self.members[1:]:
            assert lines(wire) == [
                f":ana!1@irc.test PRIVMSG #r :line {n}" for n in range(20)
            ]
            assert wire.writes == 1
        assert lines(self.ana_wire) == []

    def test_the_members_of_an_irc_room_are_told_together(self):
        assert self.room().listening is None  # nothing said yet
        self.ana.dataReceived(b"PRIVMSG #r :hi\r\n")
        listeners = self.room().listeners
        assert len(listeners) == 1
        assert not isinstance(listeners[0], EachMember)
        assert self.ana.session is not None
        assert isinstance(self.ana.session.audience, RoomAudience)
        assert self.ben.session is not None
        assert self.ana.session.audience is self.ben.session.audience

    def test_menu_members_are_told_by_their_own_audience_beside_them(self):
        bob, bob_wire = self.world.menu_user("bob")
        bob.dataReceived(b"5\r\nr\r\n")
        bob_wire.clear()
        for _, wire in self.members:
            wire.clear()
        self.ana.dataReceived(b"PRIVMSG #r :one\r\nPRIVMSG #r :two\r\n")
        kinds = [type(group) for group in self.room().listeners]
        assert kinds == [type(self.ana.session.audience.listeners(())), _MenuListeners]
        assert bob_wire.take() == b"ana> one\r\nana> two\r\n"
        assert lines(self.ben_wire) == [
            ":ana!1@irc.test PRIVMSG #r :one",
            ":ana!1@irc.test PRIVMSG #r :two",
        ]

    def test_lines_of_several_speakers_in_one_turn_in_order_for_each(self):
        self.ana.dataReceived(b"PRIVMSG #r :a1\r\n")
        self.ben.dataReceived(b"PRIVMSG #r :b1\r\n")
        self.ana.dataReceived(b"PRIVMSG #r :a2\r\n")
        self.cy.dataReceived(b"PRIVMSG #r :c1\r\n")
        said = {
            "a1": ":ana!1@irc.test PRIVMSG #r :a1",
            "a2": ":ana!1@irc.test PRIVMSG #r :a2",
            "b1": ":ben!2@irc.test PRIVMSG #r :b1",
            "c1": ":cy!3@irc.test PRIVMSG #r :c1",
        }
        assert lines(self.ana_wire) == [said["b1"], said["c1"]]
        assert lines(self.ben_wire) == [said["a1"], said["a2"], said["c1"]]
        assert lines(self.cy_wire) == [said["a1"], said["b1"], said["a2"]]

    def test_an_echo_message_speaker_hears_its_lines_in_their_place(self):
        self.ana.dataReceived(b"CAP REQ :echo-message\r\n")
        self.ana_wire.clear()
        self.ben.dataReceived(b"PRIVMSG #r :b1\r\n")
        self.ana.dataReceived(b"PRIVMSG #r :a1\r\nPRIVMSG #r :a2\r\n")
        self.ben.dataReceived(b"PRIVMSG #r :b2\r\n")
        expected = [
            ":ben!2@irc.test PRIVMSG #r :b1",
            ":ana!1@irc.test PRIVMSG #r :a1",
            ":ana!1@irc.test PRIVMSG #r :a2",
            ":ben!2@irc.test PRIVMSG #r :b2",
        ]
        assert lines(self.ana_wire) == expected
        assert lines(self.cy_wire) == expected
        assert lines(self.ben_wire) == expected[1:3]

    def test_other_output_is_not_overtaken_by_later_room_lines(self):
        # ben is sent a private message between two of ana's room lines, by
        # someone outside the room: he reads them in that order.
        dee, _ = self.world.register("dee")
        self.ana.dataReceived(b"PRIVMSG #r :before\r\n")
        dee.dataReceived(b"PRIVMSG ben :psst\r\n")
        self.ana.dataReceived(b"PRIVMSG #r :after\r\n")
        assert lines(self.ben_wire) == [
            ":ana!1@irc.test PRIVMSG #r :before",
            ":dee!4@irc.test PRIVMSG ben :psst",
            ":ana!1@irc.test PRIVMSG #r :after",
        ]
        assert lines(self.cy_wire) == [
            ":ana!1@irc.test PRIVMSG #r :before",
            ":ana!1@irc.test PRIVMSG #r :after",
        ]

    def test_a_menu_speaker_after_an_irc_one_reaches_the_irc_speaker_too(self):
        bob, _ = self.world.menu_user("bob")
        bob.dataReceived(b"5\r\nr\r\n")
        self.world.clock.advance(0)
        for _, wire in self.members:
            wire.clear()
        self.ana.dataReceived(b"PRIVMSG #r :from ana\r\n")
        bob.dataReceived(b"from bob\r\n")
        assert lines(self.ana_wire) == [":bob!4@irc.test PRIVMSG #r :from bob"]
        assert lines(self.ben_wire) == [
            ":ana!1@irc.test PRIVMSG #r :from ana",
            ":bob!4@irc.test PRIVMSG #r :from bob",
        ]

    def test_a_leaver_hears_nothing_said_after_it_left(self):
        self.ana.dataReceived(b"PRIVMSG #r :still here\r\n")
        self.cy.dataReceived(b"PART #r\r\n")
        self.ana.dataReceived(b"PRIVMSG #r :gone\r\n")
        assert lines(self.cy_wire) == [
            ":ana!1@irc.test PRIVMSG #r :still here",
            ":cy!3@irc.test PART :#r",
        ]
        assert lines(self.ben_wire) == [
            ":ana!1@irc.test PRIVMSG #r :still here",
            ":cy!3@irc.test PART :#r",
            ":ana!1@irc.test PRIVMSG #r :gone",
        ]

    def test_a_joiner_hears_only_what_is_said_after_its_join(self):
        dee, dee_wire = self.world.register("dee")
        self.ana.dataReceived(b"PRIVMSG #r :early\r\n")
        dee.dataReceived(b"JOIN #r\r\n")
        self.ana.dataReceived(b"PRIVMSG #r :late\r\n")
        got = lines(dee_wire)
        assert got[0] == ":dee!4@irc.test JOIN :#r"
        assert got[-1] == ":ana!1@irc.test PRIVMSG #r :late"
        assert not any(line.endswith(":early") for line in got if "PRIVMSG" in line)
        assert lines(self.ben_wire) == [
            ":ana!1@irc.test PRIVMSG #r :early",
            ":dee!4@irc.test JOIN :#r",
            ":ana!1@irc.test PRIVMSG #r :late",
        ]

    def test_who_hears_a_room_is_forgotten_when_its_members_change(self):
        self.ana.dataReceived(b"PRIVMSG #r :hi\r\n")
        assert self.room().listeners != ()
        self.cy.dataReceived(b"PART #r\r\n")
        assert self.room().listeners == ()  # cy's session is not kept
        assert self.room().listening is None

    def test_shared_lines_last_one_turn(self):
        self.crowd()
        self.ana.dataReceived(b"PRIVMSG #r :one\r\n")
        shared = self.ben._queue[0]
        assert isinstance(shared, SharedLines) and shared.open
        self.world.clock.advance(0)
        assert not shared.open
        assert self.ben._queue is None and self.ben._tail is None
        self.ana.dataReceived(b"PRIVMSG #r :two\r\n")
        assert self.ben._queue[0] is not shared
        assert lines(self.ben_wire) == [
            ":ana!1@irc.test PRIVMSG #r :one",
            ":ana!1@irc.test PRIVMSG #r :two",
        ]

    def test_every_member_is_sent_the_same_bytes_object(self):
        sent = []
        for _, wire in self.members[1:]:
            wire.write = sent.append  # type: ignore[method-assign]
        self.ana.dataReceived(b"PRIVMSG #r :one\r\nPRIVMSG #r :two\r\n")
        self.world.clock.advance(0)
        assert len(sent) == 2
        assert sent[0] is sent[1]
        assert sent[0] == (
            b":ana!1@irc.test PRIVMSG #r :one\r\n:ana!1@irc.test PRIVMSG #r :two\r\n"
        )


class SlowReaderTests(SynchronousTestCase):
    def test_a_held_member_counts_shared_lines_and_is_dropped_past_its_limit(self):
        world = World(max_output=2000)
        (ana, _), (ben, ben_wire), (cy, cy_wire) = [
            world.register(nick) for nick in ("ana", "ben", "cy")
        ]
        for protocol in (ana, ben, cy):
            protocol.dataReceived(b"JOIN #r\r\n")
        ben_wire.clear()
        cy_wire.clear()
        ben_wire.producer.pauseProducing()  # ben's transport is full
        ana.dataReceived(b"PRIVMSG #r :%s\r\n" % (b"x" * 400))
        world.clock.advance(0)
        assert not ben_wire.aborted
        assert ben._queued > 400
        with capturedLogs():
            ana.dataReceived(
                b"".join(b"PRIVMSG #r :%s\r\n" % (b"y" * 400) for _ in range(5))
            )
            world.clock.advance(0)
        assert ben_wire.aborted
        assert world.hub.online("ben") is None
        assert cy_wire.take().count(b" PRIVMSG #r :") == 6

    def test_a_held_member_gets_the_shared_lines_when_it_drains(self):
        world = World()
        (ana, _), (ben, ben_wire) = [world.register(nick) for nick in ("ana", "ben")]
        for protocol in (ana, ben):
            protocol.dataReceived(b"JOIN #r\r\n")
        ben_wire.clear()
        ben_wire.producer.pauseProducing()
        ana.dataReceived(b"PRIVMSG #r :one\r\nPRIVMSG #r :two\r\n")
        world.clock.advance(0)
        assert ben_wire.value() == b""
        ben_wire.producer.resumeProducing()
        assert lines(ben_wire) == [
            ":ana!1@irc.test PRIVMSG #r :one",
            ":ana!1@irc.test PRIVMSG #r :two",
        ]
