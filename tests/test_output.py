"""The output side of the line connection (net/output.py): the queue,
back-pressure, the direct socket send, slow readers, lines shared by many
and replies kept back for an answer."""

from twisted.internet import tcp
from twisted.internet.address import IPv4Address
from twisted.internet.defer import Deferred
from twisted.internet.testing import MemoryReactorClock, StringTransport
from twisted.logger import capturedLogs, formatEvent
from twisted.trial.unittest import SynchronousTestCase

from menuchat.frontends.menu import texts
from menuchat.net.flusher import FEW
from menuchat.net.output import OUTPUT_PAUSE, SharedLines
from tests.support import (
    Wire,
    clocked_factory,
    connect,
    login,
    room,
)
from tests.test_connection import (
    ConnectionCase,
    bare_connection,
    bare_factory,
)


class FullWire(Wire):
    """A transport that, like TCP's, says its send buffer is full past 64 KiB."""

    def write(self, data):
        super().write(data)
        if len(self.io.getvalue()) > 65536 and not self.full:
            self.full = True
            self.producer.pauseProducing()

    full = False

    def drain(self):
        """The peer read everything: empty the buffer and say so."""
        self.io.seek(0)
        self.io.truncate()
        self.full = False
        self.producer.resumeProducing()


class FakeSocket:
    """A non-blocking socket whose send buffer has C{room} bytes free."""

    def __init__(self, room):
        self.room = room
        self.received = bytearray()

    def send(self, data):
        if not self.room:
            raise BlockingIOError()
        taken = bytes(data[: self.room])
        self.room -= len(taken)
        self.received += taken
        return len(taken)

    def setblocking(self, flag):
        pass

    def setsockopt(self, *option):
        pass

    def fileno(self):
        return 99


class BrokenSocket(FakeSocket):
    """A socket whose send() fails outright while C{broken}."""

    broken = False

    def send(self, data):
        if self.broken:
            raise ConnectionResetError()
        return super().send(data)


class SocketConnection(tcp.Connection):
    def getPeer(self):
        return IPv4Address("TCP", "127.0.0.1", 50000)

    def getHost(self):
        return IPv4Address("TCP", "127.0.0.1", 12000)


class OutputTests(ConnectionCase):
    """Text out: the queue, its flush, back-pressure and slow readers."""

    def test_a_read_of_many_room_lines_is_one_write_per_member(self):
        factory, _ = clocked_factory(line_rate=0)
        members = room(factory, 5)
        sender = members[1][0]
        sender.dataReceived(b"".join(b"line %d\n" % n for n in range(50)))
        for _, transport in members:
            assert transport.value().count(b"m1> line ") == 50
            assert transport.value().endswith(b"m1> line 49\r\n")
            assert transport.writes == 1

    def test_slow_reader_output_is_held_then_sent_when_the_buffer_drains(self):
        factory, _ = clocked_factory(line_rate=0, max_output=10_000)
        (owner, owner_wire), (_, slow_wire) = room(factory, 2)
        slow_wire.producer.pauseProducing()  # the transport's buffer is full
        owner.dataReceived(b"hello\n")
        assert slow_wire.value() == b""
        assert owner_wire.value() == b"m0> hello\r\n"
        slow_wire.producer.resumeProducing()
        assert slow_wire.value() == b"m0> hello\r\n"

    def test_slow_reader_past_max_output_is_dropped_and_cleaned_up(self):
        factory, _ = clocked_factory(line_rate=0, max_output=1000)
        (owner, _owner_wire), (_, slow_wire), (_, third_wire) = room(factory, 3)
        slow_wire.producer.pauseProducing()
        with capturedLogs() as events:
            owner.dataReceived(b"".join(b"message %03d\n" % n for n in range(100)))
        assert slow_wire.aborted
        assert not slow_wire.connected
        assert [u.name for u in factory.hub.users()] == ["m0", "m2"]
        received = third_wire.value()
        assert received.count(b"m0> message ") == 100
        assert b"m1 disconnected from the chat." in received
        assert any("unread" in e.get("log_format", "") for e in events)

    def test_sets_tcp_nodelay_on_tcp_transports(self):
        from twisted.internet.interfaces import ITCPTransport
        from zope.interface import directlyProvides

        protocol = self.factory.buildProtocol(IPv4Address("TCP", "127.0.0.1", 1))
        transport = Wire()
        directlyProvides(transport, ITCPTransport)
        calls = []
        transport.setTcpNoDelay = calls.append
        protocol.makeConnection(transport)
        assert calls == [True]

    def test_a_client_that_does_not_read_its_replies_is_not_read_either(self):
        factory, clock = clocked_factory(line_rate=0)
        protocol = factory.buildProtocol(IPv4Address("TCP", "127.0.0.1", 1))
        transport = FullWire()
        transport.protocol = protocol
        transport.clock = clock
        protocol.makeConnection(transport)
        protocol.dataReceived(b"Nina\n")
        flood = b"\n" * 65536  # every empty line asks for the whole menu again
        protocol.dataReceived(flood)
        clock.advance(0)
        assert transport.full
        assert transport.producerState == "paused"
        answered = transport.io.getvalue().count(texts.MENU.encode())
        assert answered < 400
        # Nothing beyond about one buffer's worth is held for it anywhere.
        assert protocol._queued < 2 * 65536
        assert len(protocol._buffer) <= len(flood) - answered + 1
        # Reading on, it is served in full, in order, losing nothing.
        total = answered
        for _ in range(1000):
            if transport.producerState == "producing" and not protocol._buffer:
                break
            transport.drain()
            clock.advance(0)
            total += transport.io.getvalue().count(texts.MENU.encode())
        assert total == 1 + 65536
        assert transport.producerState == "producing"

    def test_an_answer_does_not_resume_reading_while_output_is_backed_up(self):
        protocol, handler, transport = bare_connection(FullWire, line_rate=0)
        answer = Deferred()
        handler.answers.append(answer)
        handler.reply = "x" * (OUTPUT_PAUSE + 1)  # fills the send buffer
        protocol.dataReceived(b"first\nsecond\n")
        assert transport.full
        assert handler.lines == ["first"]
        answer.callback(None)  # the store answers; the peer has not read
        assert handler.lines == ["first"]
        assert transport.producerState == "paused"
        transport.drain()
        assert handler.lines == ["first", "second"]
        assert transport.producerState == "producing"

    def test_lines_of_a_client_with_a_full_buffer_wait_for_it_to_drain(self):
        factory, _ = clocked_factory(line_rate=0)
        protocol, transport = login(factory, "Nina")
        transport.producer.pauseProducing()
        protocol.dataReceived(b"1\n1\n")
        assert transport.value() == b""
        assert transport.producerState == "paused"
        transport.producer.resumeProducing()
        assert transport.value().count(b"Users in server: Nina:1") == 2
        assert transport.producerState == "producing"

    def test_direct_sends_never_overtake_what_the_transport_holds(self):
        factory, clock = clocked_factory(line_rate=0)
        reactor = MemoryReactorClock()
        sock = FakeSocket(room=10_000)
        protocol = factory.buildProtocol(IPv4Address("TCP", "127.0.0.1", 50000))
        transport = SocketConnection(sock, protocol, reactor)
        transport.connected = True
        protocol.makeConnection(transport)
        clock.advance(0)  # the greeting goes straight to the socket
        assert bytes(sock.received).endswith(b"Your id key (i.e your name): ")
        sock.room = 10
        protocol.write("A" * 100)
        clock.advance(0)  # ten bytes fit; the transport keeps the other ninety
        sock.room = 1000  # the peer reads, before the transport tries again
        protocol.write("B")
        protocol.close()
        transport.doWrite()
        assert bytes(sock.received).endswith(b"A" * 100 + b"B")

    def queue_then_read_a_line(self, queued):
        """Queue C{queued} bytes, then read one line in the same turn; the
        transport's writes."""
        protocol, transport = login(self.factory, "Nina")
        transport.writes = 0
        protocol.write("x" * queued)
        protocol.dataReceived(b"1\n")
        transport.value()
        return transport.writes

    def test_input_goes_on_below_output_pause(self):
        # The line is answered at once: its reply leaves with the rest.
        assert self.queue_then_read_a_line(OUTPUT_PAUSE - 1) == 1

    def test_input_waits_at_output_pause(self):
        # The line waits for the queue to go out, then is answered.
        assert OUTPUT_PAUSE == 64 * 1024
        assert self.queue_then_read_a_line(OUTPUT_PAUSE) == 2

    def test_a_slow_reader_is_dropped_one_byte_past_max_output(self):
        factory, _ = clocked_factory(max_output=100)
        protocol, transport = login(factory, "Nina")
        transport.producer.pauseProducing()
        protocol.write("x" * 100)
        assert transport.connected
        protocol.write("x")
        assert transport.aborted
        assert not transport.connected

    def test_a_dropped_slow_reader_is_logged_and_counted_once(self):
        factory, _ = clocked_factory(max_output=1000)
        protocol, transport = login(factory, "Nina")
        transport.producer.pauseProducing()
        with capturedLogs() as events:
            protocol.write("x" * 1001)
            protocol.write("more after the drop")  # ignored: it is closed
        assert [formatEvent(e) for e in events if "unread" in e["log_format"]] == [
            "127.0.0.1:40000 dropped: 1001 bytes of output unread, over the limit"
            " of 1000"
        ]
        assert factory.stats.drops == {"slow_reader": 1}
        assert factory.stats.output_high_water == 1001
        assert protocol._queued == 1001  # nothing more was queued

    def test_write_now_sends_at_once_behind_what_is_queued(self):
        factory, clock = clocked_factory()
        protocol, transport = login(factory, "Nina")
        clock.advance(0)
        transport.clear()
        transport.writes = 0
        protocol.write_bytes(b"queued first\r\n")
        protocol.write_now(b"now\r\n")
        assert transport.io.getvalue() == b"queued first\r\nnow\r\n"
        assert transport.writes == 1
        clock.advance(0)  # the turn's flush of "queued first": nothing left
        protocol.write_now(b"alone\r\n")
        assert transport.io.getvalue().endswith(b"now\r\nalone\r\n")
        assert clock.getDelayedCalls() == []  # no turn's flush asked for it

    def test_write_now_waits_while_the_transport_is_full(self):
        factory, _ = clocked_factory(max_output=10)
        protocol, transport = login(factory, "Nina")
        transport.clear()
        transport.producer.pauseProducing()
        with capturedLogs():
            protocol.write_now(b"12345\r\n")
            assert transport.io.getvalue() == b""
            assert protocol._queued == 7
            protocol.write_now(b"12345\r\n")  # past max_output: dropped
        assert transport.aborted

    def test_each_dropped_slow_reader_is_counted(self):
        factory, _ = clocked_factory(line_rate=0, max_output=1000)
        (owner, _), (_, first), (_, second) = room(factory, 3)
        first.producer.pauseProducing()
        second.producer.pauseProducing()
        owner.dataReceived(b"".join(b"message %03d\n" % n for n in range(100)))
        assert first.aborted
        assert second.aborted
        assert factory.stats.drops == {"slow_reader": 2}

    def test_a_dropped_slow_reader_is_told_nothing_more_before_it_goes(self):
        # A real transport aborts later, in a turn of its own; until then
        # nothing more is queued or written for the dropped peer.
        factory, clock = clocked_factory(line_rate=0, max_output=1000)
        protocol = factory.buildProtocol(IPv4Address("TCP", "127.0.0.1", 1))
        transport = StringTransport()  # notes the abort, stays connected
        protocol.makeConnection(transport)
        protocol.dataReceived(b"Nina\n")
        clock.advance(0)
        transport.clear()
        transport.producer.pauseProducing()
        protocol.write("x" * 1001)
        assert transport.disconnected  # aborted
        protocol.write("after the drop\r\n")
        transport.producer.resumeProducing()  # the peer reads after all
        protocol.flush()
        clock.advance(0)
        assert transport.value() == b""
        assert factory.stats.drops == {"slow_reader": 1}

    def test_send_line_queues_the_line_with_crlf(self):
        protocol, transport = login(self.factory, "Nina")
        protocol.sendLine(b"one")
        protocol.sendLine(b"two")
        assert transport.value() == b"one\r\ntwo\r\n"

    def test_output_is_never_capped_while_the_transport_takes_it(self):
        factory, _ = clocked_factory(max_output=100)
        protocol, transport = login(factory, "Nina")
        protocol.write("x" * 1000)
        assert transport.value() == b"x" * 1000
        assert transport.connected

    def test_the_valve_is_a_push_producer_on_other_transports(self):
        _, transport = connect(self.factory)
        assert transport.producer is not None
        assert transport.streaming is True

    def direct_socket_connection(self, sock):
        factory, clock = clocked_factory(line_rate=0)
        protocol = factory.buildProtocol(IPv4Address("TCP", "127.0.0.1", 50000))
        transport = SocketConnection(sock, protocol, MemoryReactorClock())
        transport.connected = True
        protocol.makeConnection(transport)
        return protocol, transport, clock

    def test_the_valve_is_a_pull_producer_on_a_socket(self):
        _, transport, _ = self.direct_socket_connection(FakeSocket(room=10_000))
        assert transport.producer is not None
        assert transport.streamingProducer is False

    def test_a_send_raising_oserror_leaves_the_data_to_the_transport(self):
        sock = BrokenSocket(room=10_000)
        protocol, transport, clock = self.direct_socket_connection(sock)
        clock.advance(0)
        sock.broken = True
        protocol.write("after the error\r\n")
        clock.advance(0)  # send() raises: nothing is lost, nothing raised
        assert b"after the error" not in sock.received
        assert transport.connected
        sock.broken = False
        transport.doWrite()
        assert bytes(sock.received).endswith(b"after the error\r\n")

    def test_output_queued_before_the_buffer_filled_waits_for_it_to_drain(self):
        protocol, _, transport = bare_connection(login_timeout=0)
        protocol.write("queued\r\n")  # for the turn's flush
        transport.producer.pauseProducing()
        protocol.factory.clock.advance(0)
        assert transport.io.getvalue() == b""
        transport.producer.resumeProducing()
        assert transport.io.getvalue() == b"queued\r\n"

    def test_a_new_connection_is_dropped_one_byte_past_max_output_too(self):
        # Nothing was ever sent to it (no greeting): its count starts at 0.
        protocol, _, transport = bare_connection(max_output=100)
        transport.producer.pauseProducing()
        protocol.write("x" * 100)
        assert not transport.aborted
        with capturedLogs():
            protocol.write("x")
        assert transport.aborted

    def test_a_socket_that_took_everything_is_written_to_directly_again(self):
        sock = FakeSocket(room=10_000)
        protocol, transport, clock = self.direct_socket_connection(sock)
        clock.advance(0)  # the greeting
        for line in ("one\r\n", "two\r\n"):
            protocol.write(line)
            clock.advance(0)
        assert bytes(sock.received).endswith(b"one\r\ntwo\r\n")
        assert transport.dataBuffer == b""
        assert transport._tempDataBuffer == []

    def test_input_waits_while_a_socket_takes_only_part_of_what_was_held(self):
        factory, _ = bare_factory(line_rate=0, login_timeout=0)
        sock = FakeSocket(room=0)
        protocol = factory.buildProtocol(IPv4Address("TCP", "127.0.0.1", 50000))
        transport = SocketConnection(sock, protocol, MemoryReactorClock())
        transport.connected = True
        protocol.makeConnection(transport)
        handler = protocol.handler
        handler.reply = "r" * 98 + "\r\n"
        protocol.dataReceived(b"a\n")  # its reply: the transport keeps it all
        protocol.dataReceived(b"b\n")  # waits for that reply to go out
        protocol.write("q" * 48 + "\r\n")  # held here meanwhile
        sock.room = 100  # the transport's reply fits; the rest does not
        transport.doWrite()
        assert bytes(sock.received) == b"r" * 98 + b"\r\n"
        assert handler.lines == ["a"]
        sock.room = 1000
        transport.doWrite()  # all out: "b" is read and answered
        assert handler.lines == ["a", "b"]
        reply = b"r" * 98 + b"\r\n"
        assert bytes(sock.received) == reply + b"q" * 48 + b"\r\n" + reply

    def test_a_greeting_is_not_counted_among_the_turns_output_to_others(self):
        # A connection's greeting leaves as a reply does, and its end sends
        # what the turn queued for a few others, as the end of a read does.
        factory, clock = clocked_factory(login_timeout=0)
        others = [login(factory, f"n{n}", port=41000 + n) for n in range(FEW)]
        clock.advance(0)
        for protocol, transport in others:
            transport.writes = 0
            protocol.write("news\r\n")
        _, newcomer = connect(factory, port=42000)
        assert newcomer.writes == 1
        assert [transport.writes for _, transport in others] == [1] * FEW


class SharedLinesTests(SynchronousTestCase):
    """Lines queued for several connections at once (a room's)."""

    def connections(self, count, **limits):
        factory, clock = bare_factory(login_timeout=0, line_rate=0, **limits)
        made = [bare_connection(factory=factory, port=n) for n in range(count)]
        return factory, clock, made

    def test_lines_shared_by_many_are_sealed_once_at_the_turn_end(self):
        _, clock, made = self.connections(3)
        shared = SharedLines(b"one\r\n")
        for protocol, _, _ in made:
            protocol.write_shared(shared)
        shared.append(b"two\r\n")
        assert shared.turn  # the flusher seals it
        assert len(clock.getDelayedCalls()) == 1
        clock.advance(0)
        assert not shared.open
        for _, _, transport in made:
            assert transport.io.getvalue() == b"one\r\ntwo\r\n"
            assert transport.writes == 1
        assert clock.getDelayedCalls() == []

    def test_output_after_shared_lines_seals_them_and_follows_them(self):
        _, clock, made = self.connections(2)
        (first, _, first_wire), (second, _, second_wire) = made
        shared = SharedLines(b"room\r\n")
        first.write_shared(shared)
        second.write_shared(shared)
        first.write("private 1\r\n")
        # A room line said now starts new shared lines: none overtakes this.
        assert not shared.open
        first.write("private 2\r\n")
        second.write("private\r\n")
        clock.advance(0)
        assert first_wire.io.getvalue() == b"room\r\nprivate 1\r\nprivate 2\r\n"
        assert second_wire.io.getvalue() == b"room\r\nprivate\r\n"

    def test_shared_lines_held_for_a_full_reader_are_counted_at_the_turn_end(self):
        factory, clock, [(protocol, _, transport)] = self.connections(1, max_output=100)
        transport.producer.pauseProducing()
        shared = SharedLines(b"x" * 60)
        protocol.write_shared(shared)
        shared.append(b"y" * 41)
        assert not transport.aborted  # not counted while open
        with capturedLogs():
            clock.advance(0)
        assert not shared.open
        assert transport.aborted
        assert factory.stats.drops == {"slow_reader": 1}

    def test_held_shared_lines_are_counted_with_what_was_queued_before(self):
        factory, clock, made = self.connections(2, max_output=100)
        (kept, _, kept_wire), (dropped, _, dropped_wire) = made
        for protocol, queued, wire in (
            (kept, 59, kept_wire),
            (dropped, 60, dropped_wire),
        ):
            wire.producer.pauseProducing()
            protocol.write("q" * queued)
            protocol.write_shared(SharedLines(b"s" * 41))
        with capturedLogs():
            clock.advance(0)
        assert not kept_wire.aborted  # 100 bytes: at the limit
        assert dropped_wire.aborted  # 101
        assert factory.stats.drops == {"slow_reader": 1}
        kept_wire.producer.resumeProducing()
        assert kept_wire.io.getvalue() == b"q" * 59 + b"s" * 41

    def test_a_read_sends_at_once_the_output_of_a_few_each_counted_once(self):
        _, clock, made = self.connections(FEW + 1)
        reader = made[0][0]
        listeners = made[1:]
        shared = SharedLines(b"room\r\n")
        for protocol, _, _ in listeners:
            protocol.write("own\r\n")
            protocol.write_shared(shared)
        reader.dataReceived(b"hi\n")  # says nothing; its read ends
        assert [wire.writes for _, _, wire in listeners] == [1] * FEW
        assert clock.getDelayedCalls() == []

    def test_a_dropped_slow_reader_lets_go_of_what_it_held(self):
        _, clock, [(protocol, _, transport)] = self.connections(1, max_output=100)
        transport.producer.pauseProducing()
        protocol.write_shared(SharedLines(b"room\r\n"))
        protocol.write("q" * 60)
        with capturedLogs():
            protocol.write("q" * 60)
        assert transport.aborted
        assert (protocol._queue, protocol._has_shared, protocol._tail) == (
            None,
            False,
            None,
        )
        clock.advance(0)
        assert transport.io.getvalue() == b""

    def test_a_lost_connection_lets_go_of_what_it_held(self):
        _, clock, [(protocol, _, transport)] = self.connections(1)
        transport.producer.pauseProducing()
        protocol.write("queued\r\n")
        protocol.write_shared(SharedLines(b"room\r\n"))
        transport.loseConnection()
        assert (protocol._queue, protocol._has_shared, protocol._tail) == (
            None,
            False,
            None,
        )
        clock.advance(0)
        assert transport.io.getvalue() == b""


class KeptReplyTests(SynchronousTestCase):
    """A reply kept back for an answer still to come (reply_later): it
    leaves with the next thing written, and replies leave at once again
    after it."""

    def setUp(self):
        self.factory, self.clock = bare_factory(line_rate=0)
        self.protocol, self.handler, self.wire = bare_connection(factory=self.factory)
        self.clock.advance(0)
        self.wire.clear()
        self.wire.writes = 0

    def keep_replies(self):
        """Each line's reply waits for the rest of it (an answer owed)."""

        def line_received(line):
            self.protocol.write(f"{line} asked\r\n")
            self.protocol.reply_later()

        self.handler.line_received = line_received

    def sent(self):
        """What the transport was given so far, with no turn ending."""
        return self.wire.io.getvalue()

    def test_a_kept_reply_leaves_with_the_answer_in_one_write(self):
        self.keep_replies()
        self.protocol.dataReceived(b"a\n")
        self.clock.advance(0)
        assert self.sent() == b""
        self.protocol.write("a answered\r\n")  # the answer, later
        self.clock.advance(0)
        assert self.sent() == b"a asked\r\na answered\r\n"
        assert self.wire.writes == 1

    def test_replies_leave_in_their_read_again_after_the_answer(self):
        self.keep_replies()
        self.protocol.dataReceived(b"a\n")
        self.protocol.write("a answered\r\n")
        self.clock.advance(0)
        self.handler.line_received = lambda line: self.protocol.write("b done\r\n")
        self.protocol.dataReceived(b"b\n")
        assert self.sent().endswith(b"a answered\r\nb done\r\n")

    def test_shared_lines_bring_a_kept_reply_along(self):
        self.keep_replies()
        self.protocol.dataReceived(b"a\n")
        self.protocol.write_shared(SharedLines(b"room line\r\n"))
        assert self.sent() == b""
        self.clock.advance(0)
        assert self.sent() == b"a asked\r\nroom line\r\n"
        assert self.wire.writes == 1

    def test_after_shared_lines_replies_leave_in_their_read_again(self):
        self.keep_replies()
        self.protocol.dataReceived(b"a\n")
        self.protocol.write_shared(SharedLines(b"room line\r\n"))
        self.clock.advance(0)

        def own_room_line(line):
            self.protocol.write_shared(SharedLines(b"own line\r\n"))

        self.handler.line_received = own_room_line
        self.protocol.dataReceived(b"b\n")
        assert self.sent().endswith(b"room line\r\nown line\r\n")

    def few_others(self):
        """FEW other connections, their greetings sent and cleared."""
        others = [bare_connection(factory=self.factory, port=2 + n) for n in range(FEW)]
        self.clock.advance(0)
        for _, _, wire in others:
            wire.clear()
        return others

    def make_whole_with_a_few_others(self, rest):
        """A read that keeps its reply back, writes to FEW others, and
        makes the reply whole with C{rest}(); what the others got."""
        others = self.few_others()

        def line_received(line):
            self.protocol.write("kept ")
            self.protocol.reply_later()
            for other, _, _ in others:
                other.write("to a few\r\n")
            rest()

        self.handler.line_received = line_received
        self.protocol.dataReceived(b"a\n")
        return [wire.io.getvalue() for _, _, wire in others]

    def test_a_reply_made_whole_in_its_read_lets_a_few_others_have_theirs(self):
        got = self.make_whole_with_a_few_others(
            lambda: self.protocol.write("and whole\r\n")  # the answer came at once
        )
        assert self.sent() == b"kept and whole\r\n"
        assert got == [b"to a few\r\n"] * FEW  # in the read, not at the turn's end

    def test_shared_lines_making_a_reply_whole_let_a_few_others_have_theirs(self):
        got = self.make_whole_with_a_few_others(
            lambda: self.protocol.write_shared(SharedLines(b"and shared\r\n"))
        )
        assert self.sent() == b"kept and shared\r\n"
        assert got == [b"to a few\r\n"] * FEW
