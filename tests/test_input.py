"""The input side of the line connection (net/input.py) through the menu
protocol, with in-memory transports and a Clock: framing, decoding, the
line limit, the line rate and lines waiting for an answer."""

from twisted.internet.defer import Deferred
from twisted.logger import capturedLogs, formatEvent
from twisted.trial.unittest import SynchronousTestCase

from menuchat.frontends.menu import texts
from menuchat.frontends.menu.dialogue import State
from menuchat.net.output import OUTPUT_PAUSE
from tests.support import PROMPT, clocked_factory, connect, login, room
from tests.test_connection import CLIENT_HELLO, ConnectionCase, bare_connection


class FramingTests(ConnectionCase):
    """Bytes in: line ends, pipelining, split reads, decoding."""

    def test_greets_and_prompts_without_a_line_end(self):
        _, transport = connect(self.factory)
        assert (
            transport.value()
            == b"Welcome to menuchat.\r\nYour id key (i.e your name): "
        )

    def test_login_over_the_wire(self):
        protocol, transport = connect(self.factory)
        transport.clear()
        protocol.dataReceived(b"Nina\r\n")
        text = transport.value()
        assert text.startswith(b"Successfully connected to server\r\nClient Name: Nina")
        assert text.endswith(PROMPT)
        assert [u.name for u in self.factory.hub.users()] == ["Nina"]

    def test_a_whole_session_pipelined_in_one_packet(self):
        _, jose_transport = login(self.factory, "Jose")
        protocol, transport = connect(self.factory, port=40001)
        protocol.dataReceived(
            b"Nina\r\n1\r\n2\r\nhello jose\r\n1\r\n3\r\n"
            b"4\r\nden\r\nhi all\r\nexit\r\n6\r\n"
        )
        text = transport.value().decode()
        order = [
            "Client ID: 2",
            "Users in server: Jose:1, Nina:2",
            "Enter your message: ",
            "Enter recipient id: ",
            "Message sent!",
            "You have no messages.",
            "Enter new chat room id: ",
            "Chat Room den",
            "Nina> hi all",
            "Chat room den is closed.",
            "Goodbye",
        ]
        positions = [text.index(part) for part in order]
        assert positions == sorted(positions)
        assert transport.disconnecting or not transport.connected
        assert b"New message from Nina:2" in jose_transport.value()
        assert [u.name for u in self.factory.hub.users()] == ["Jose"]

    def test_byte_by_byte_input_with_split_utf8(self):
        protocol, transport = connect(self.factory)
        transport.clear()
        for byte in "Zoë🙂\r\n1\r\n".encode():
            protocol.dataReceived(bytes([byte]))
        text = transport.value().decode("utf-8")
        assert "Client Name: Zoë🙂\r\n" in text
        assert "Users in server: Zoë🙂:1\r\n" in text

    def test_invalid_utf8_is_replaced_not_raised(self):
        protocol, transport = login(self.factory, "Nina")
        with capturedLogs() as events:
            protocol.dataReceived(b"\xc3\x28\xfe\x80\n")
        assert "is not an option" in transport.value().decode()
        assert not [e for e in events if e.get("log_failure")]

    def test_tls_handshake_on_the_plain_port_is_answered_at_once(self):
        protocol, transport = connect(self.factory)
        transport.clear()
        protocol.dataReceived(
            b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + b"\x00" * 40
        )
        assert transport.value() == texts.NOT_TLS.encode()
        assert not transport.connected
        assert self.factory.admission.connections == set()

    def test_only_the_first_read_is_looked_at_for_tls(self):
        protocol, handler, transport = bare_connection()
        protocol.dataReceived(b"hello\n")
        protocol.dataReceived(CLIENT_HELLO + b"\n")
        assert handler.lines == ["hello", CLIENT_HELLO.decode("utf-8", "replace")]
        assert transport.connected
        assert protocol.factory.stats.drops == {}

    def test_every_line_read_is_counted(self):
        protocol, _, _ = bare_connection(line_rate=0)
        protocol.dataReceived(b"one\ntwo\r\n")
        protocol.dataReceived(b"three\n")
        assert protocol.factory.stats.lines_in == 3

    def test_each_member_sees_only_lines_after_joining(self):
        members = room(self.factory, 2)
        owner = members[0][0]
        owner.dataReceived(b"before\n")
        late, late_wire = login(self.factory, "late", port=42000)
        late.dataReceived(b"5\nr\n")
        owner.dataReceived(b"after\n")
        text = late_wire.value()
        # "before" is history, with its time; only "after" comes live.
        assert b"] m0> before\r\n" in text
        assert b"\nm0> before" not in text
        assert text.endswith(b"m0> after\r\n")

    def test_lines_after_goodbye_are_ignored(self):
        protocol, transport = login(self.factory, "Nina")
        protocol.dataReceived(b"6\n1\n1\n")
        assert transport.value() == b"Goodbye\r\n"
        assert not transport.connected

    def test_state_after_login_is_the_menu(self):
        protocol, _ = login(self.factory, "Nina")
        assert protocol.session.state is State.MENU

    def assert_line_end(self, ending):
        protocol, transport = login(self.factory, "Nina")
        protocol.dataReceived(b"1" + ending)
        assert transport.value() == b"Users in server: Nina:1\r\n" + PROMPT

    def test_lf_is_a_line_end(self):
        self.assert_line_end(b"\n")

    def test_crlf_is_a_line_end(self):
        self.assert_line_end(b"\r\n")


class LineLimitTests(ConnectionCase):
    """max_line_length: long lines are discarded and the connection goes on."""

    def test_long_line_is_refused_and_the_connection_goes_on(self):
        factory, _ = clocked_factory(max_line_length=16)
        protocol, transport = login(factory, "Nina")
        protocol.dataReceived(b"x" * 17 + b"\n1\n")
        assert transport.value() == (
            b"Error: that line was longer than 16 bytes and was discarded.\r\n"
            + PROMPT
            + b"Users in server: Nina:1\r\n"
            + PROMPT
        )

    def test_a_long_line_is_logged(self):
        factory, _ = clocked_factory(max_line_length=16)
        protocol, _ = login(factory, "Nina")
        with capturedLogs() as events:
            protocol.dataReceived(b"x" * 17 + b"\n")
        assert [formatEvent(e) for e in events] == [
            "127.0.0.1:40000 sent a line over the limit"
        ]

    def test_long_line_at_a_sub_prompt_returns_to_the_option_prompt(self):
        factory, _ = clocked_factory(max_line_length=16)
        protocol, transport = login(factory, "Nina")
        protocol.dataReceived(b"2\n" + b"x" * 17 + b"\n")
        assert transport.value() == (
            b"Enter your message: "
            b"Error: that line was longer than 16 bytes and was discarded.\r\n" + PROMPT
        )
        assert protocol.session.state is State.MENU

    def test_endless_line_is_discarded_as_it_arrives(self):
        factory, _ = clocked_factory(max_line_length=2048)
        protocol, transport = login(factory, "Nina")
        chunk = b"y" * 65536
        for _ in range(160):  # 10 MiB, no newline
            protocol.dataReceived(chunk)
            assert len(protocol._buffer) <= 2049
        assert transport.take().count(b"longer than 2048 bytes") == 1
        protocol.dataReceived(b"tail of it\n1\n")
        assert transport.value() == b"Users in server: Nina:1\r\n" + PROMPT

    def test_a_line_of_exactly_the_limit_is_accepted(self):
        factory, _ = clocked_factory(max_line_length=8)
        protocol, transport = login(factory, "Nina")
        protocol.dataReceived(b"2\n" + b"m" * 8 + b"\r\n")
        assert transport.value().endswith(b"Enter recipient id: ")

    def test_a_partial_line_of_the_limit_and_a_cr_is_kept(self):
        factory, _ = clocked_factory(max_line_length=8)
        protocol, transport = login(factory, "Nina")
        protocol.dataReceived(b"2\n")
        transport.clear()
        # Nine bytes without their LF: the eighth-byte line and its CR.
        protocol.dataReceived(b"m" * 8 + b"\r")
        protocol.dataReceived(b"\n")
        assert transport.value() == b"Enter recipient id: "

    def test_a_partial_line_one_byte_past_that_is_discarded(self):
        factory, _ = clocked_factory(max_line_length=8)
        protocol, transport = login(factory, "Nina")
        protocol.dataReceived(b"2\n")
        transport.clear()
        protocol.dataReceived(b"m" * 9 + b"\r")
        assert b"longer than 8 bytes" in transport.take()
        protocol.dataReceived(b"\n1\n")
        assert transport.value() == b"Users in server: Nina:1\r\n" + PROMPT

    def test_a_long_line_whose_lf_starts_the_next_read(self):
        factory, _ = clocked_factory(max_line_length=16)
        protocol, transport = login(factory, "Nina")
        protocol.dataReceived(b"x" * 40)
        protocol.dataReceived(b"\n1\n")
        assert transport.value() == (
            b"Error: that line was longer than 16 bytes and was discarded.\r\n"
            + PROMPT
            + b"Users in server: Nina:1\r\n"
            + PROMPT
        )

    def test_lines_after_a_discarded_one_are_read_as_ever(self):
        factory, _ = clocked_factory(max_line_length=16)
        protocol, transport = login(factory, "Nina")
        protocol.dataReceived(b"x" * 40)
        protocol.dataReceived(b"\n1\n")
        protocol.dataReceived(b"1\n")
        protocol.dataReceived(b"1\n")
        assert transport.value().count(b"Users in server: Nina:1") == 3


class LineRateTests(ConnectionCase):
    """line_rate and line_burst: reading pauses, nothing is lost."""

    def test_flood_pauses_reading_then_resumes_losing_nothing(self):
        factory, clock = clocked_factory(line_rate=2, line_burst=3)
        protocol, transport = login(factory, "Nina")  # spends one token
        protocol.dataReceived(b"1\n1\n1\n1\n1\n")
        assert transport.take().count(b"Users in server") == 2
        assert transport.producerState == "paused"
        clock.advance(0.5)
        assert transport.take().count(b"Users in server") == 1
        assert transport.producerState == "paused"
        clock.advance(0.5)
        assert transport.take().count(b"Users in server") == 1
        clock.advance(0.5)
        assert transport.take().count(b"Users in server") == 1
        assert transport.producerState == "producing"
        assert clock.getDelayedCalls() == []

    def test_refills_that_round_below_a_token_still_resume(self):
        # 10 lines a second with a burst of 6: refilling 0.05 s at a time adds
        # up to 0.9999999999999996 tokens, not 1.
        factory, clock = clocked_factory(line_rate=10.0, line_burst=6)
        protocol, transport = connect(factory)
        protocol.dataReceived(b"ann\n" + b"\n" * 50)
        for _ in range(120):
            clock.advance(0.05)
        assert transport.value().count(texts.MENU.encode()) == 1 + 50
        assert transport.producerState == "producing"
        assert clock.getDelayedCalls() == []

    def test_data_arriving_while_paused_is_kept_in_order(self):
        factory, clock = clocked_factory(line_rate=1, line_burst=1)
        protocol, transport = login(factory, "Nina")
        protocol.dataReceived(b"2\nsaved\n")
        protocol.dataReceived(b"1\n")
        for _ in range(3):
            clock.advance(1)
        text = transport.value()
        assert text.index(b"Enter your message") < text.index(b"Enter recipient id")
        assert text.index(b"Enter recipient id") < text.index(b"Message sent!")

    def test_rate_zero_means_no_limit(self):
        factory, _ = clocked_factory(line_rate=0, line_burst=1)
        protocol, transport = login(factory, "Nina")
        protocol.dataReceived(b"1\n" * 500)
        assert transport.value().count(b"Users in server") == 500
        assert transport.producerState == "producing"

    def test_going_over_the_line_rate_is_logged_once(self):
        factory, clock = clocked_factory(line_rate=1, line_burst=1)
        protocol, transport = login(factory, "Nina")
        with capturedLogs() as events:
            protocol.dataReceived(b"1\n" * 6)
            for _ in range(6):
                clock.advance(1)
        assert transport.value().count(b"Users in server") == 6
        throttled = [e for e in events if "over the line rate" in e["log_format"]]
        assert [formatEvent(e) for e in throttled] == [
            "127.0.0.1:40000 is over the line rate: reading paused until its"
            " budget refills (logged once a connection)"
        ]

    def test_no_token_is_spent_while_output_is_backed_up(self):
        factory, clock = clocked_factory(line_rate=1, line_burst=2)
        protocol, transport = connect(factory)
        protocol.dataReceived(b"Nina\n")  # one token
        clock.advance(1)  # the bucket is full again
        transport.clear()
        transport.producer.pauseProducing()  # the send buffer is full
        protocol.dataReceived(b"1\n1\n1\n")
        assert transport.value() == b""
        assert transport.producerState == "paused"
        transport.producer.resumeProducing()
        # The burst serves two lines; the third waits for a token.
        assert transport.take().count(b"Users in server") == 2
        assert transport.producerState == "paused"
        clock.advance(1)
        assert transport.take().count(b"Users in server") == 1
        assert transport.producerState == "producing"
        assert clock.getDelayedCalls() == []


class AnswerTests(SynchronousTestCase):
    """Lines wait for a pending answer, then are read on at once."""

    def test_lines_read_on_after_an_answer_are_answered_at_once(self):
        protocol, handler, transport = bare_connection(line_rate=0)
        handler.reply = "reply\r\n"
        answer = Deferred()
        handler.answers.append(answer)
        protocol.dataReceived(b"first\nsecond\n")
        assert handler.lines == ["first"]
        assert transport.producerState == "paused"
        answer.callback(None)
        assert handler.lines == ["first", "second"]
        assert transport.producerState == "producing"
        # Both replies are out in this turn, not at the next one's flush.
        assert transport.io.getvalue() == b"reply\r\nreply\r\n"

    def test_an_answer_resumes_reading_when_nothing_was_written(self):
        protocol, handler, transport = bare_connection(line_rate=0)
        answer = Deferred()
        handler.answers.append(answer)
        protocol.dataReceived(b"first\nsecond\n")
        assert handler.lines == ["first"]
        answer.callback(None)
        assert handler.lines == ["first", "second"]
        assert transport.producerState == "producing"

    def test_output_going_out_does_not_resume_reading_before_the_answer(self):
        protocol, handler, transport = bare_connection(line_rate=0)
        answer = Deferred()
        handler.answers.append(answer)
        handler.reply = "x" * OUTPUT_PAUSE  # enough to hold up reading too
        protocol.dataReceived(b"first\nsecond\n")
        # The reply is out, and nothing holds up reading but the answer.
        assert transport.io.getvalue() == b"x" * OUTPUT_PAUSE
        assert handler.lines == ["first"]
        assert transport.producerState == "paused"
        answer.callback(None)
        assert handler.lines == ["first", "second"]
        assert transport.producerState == "producing"
