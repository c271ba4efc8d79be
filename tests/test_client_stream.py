"""The client's view of the wire: the server's bytes as lines and a prompt."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from twisted.trial.unittest import SynchronousTestCase

from menuchat.client.stream import (
    KNOWN_PROMPTS,
    ServerStream,
    encode_line,
    printable,
)

OPTION = "Your option <enter a number>: "
NAME = "Your id key (i.e your name): "
NOTICE = "New message from Bob:2 (1 unread). Choose option 3 to read it."


class ServerStreamTests(SynchronousTestCase):
    """L{ServerStream} splits what the server sends into lines and a prompt."""

    def test_complete_lines_and_the_prompt_after_them(self) -> None:
        stream = ServerStream()
        lines = stream.feed(b"Welcome to menuchat.\r\nsecond\n" + NAME.encode())
        self.assertEqual(lines, ["Welcome to menuchat.", "second"])
        self.assertEqual(stream.prompt, NAME)

    def test_a_line_split_across_reads_is_one_line(self) -> None:
        stream = ServerStream()
        self.assertEqual(stream.feed(b"Users in ser"), [])
        self.assertEqual(stream.prompt, "Users in ser")
        self.assertEqual(stream.feed(b"ver: Nina:1\r"), [])
        self.assertEqual(stream.prompt, "Users in server: Nina:1")
        self.assertEqual(stream.feed(b"\n"), ["Users in server: Nina:1"])
        self.assertEqual(stream.prompt, "")

    def test_a_character_split_across_reads_is_decoded_whole(self) -> None:
        stream = ServerStream()
        data = "José> olá ☃\r\n".encode()
        cut = data.index(b"\xc3") + 1
        self.assertEqual(stream.feed(data[:cut]), [])
        self.assertEqual(stream.prompt, "Jos")
        self.assertEqual(stream.feed(data[cut:]), ["José> olá ☃"])

    def test_invalid_utf8_is_replaced_not_fatal(self) -> None:
        self.assertEqual(
            ServerStream().feed(b"bad \xc0\xfe bytes\r\n"),
            ["bad \ufffd\ufffd bytes"],
        )

    # differing_executors: mutmut runs the test several times in one
    # process, each time on a new TestCase instance.
    @settings(suppress_health_check=[HealthCheck.differing_executors])
    @given(
        st.lists(
            st.text(
                st.characters(
                    blacklist_categories=("Cs",), blacklist_characters="\r\n"
                ),
                max_size=40,
            ),
            min_size=1,
            max_size=6,
        ),
        st.data(),
    )
    def test_any_split_of_the_stream_gives_the_same_lines(
        self, lines: list[str], data: st.DataObject
    ) -> None:
        wire = "".join(line + "\r\n" for line in lines).encode()
        cuts = sorted(data.draw(st.sets(st.integers(1, max(len(wire) - 1, 1)))))
        stream = ServerStream()
        got = []
        for start, end in zip([0, *cuts], [*cuts, len(wire)], strict=True):
            got.extend(stream.feed(wire[start:end]))
        # A line that is nothing but a prompt is the server finishing that
        # prompt before a notice: never shown as a line, however it arrives.
        shown = [printable(line) for line in lines]
        self.assertEqual(got, [line for line in shown if line not in KNOWN_PROMPTS])

    def test_a_line_ending_like_a_prompt_split_before_its_end_is_kept(self) -> None:
        stream = ServerStream()
        self.assertEqual(stream.feed(b"Alice> ready: "), [])
        self.assertEqual(stream.feed(b"\r\n"), ["Alice> ready: "])

    def test_a_notice_after_a_prompt_finishes_the_prompt(self) -> None:
        # The server sends CRLF, the notice and the prompt again to a user
        # sitting at a prompt.
        stream = ServerStream()
        stream.feed(OPTION.encode())
        self.assertEqual(stream.feed(f"\r\n{NOTICE}\r\n{OPTION}".encode()), [NOTICE])
        self.assertEqual(stream.prompt, OPTION)

    def test_answering_the_prompt_starts_a_new_line(self) -> None:
        stream = ServerStream()
        stream.feed(OPTION.encode())
        stream.answer()
        self.assertEqual(stream.prompt, "")
        self.assertEqual(
            stream.feed(b"Users in server: Nina:1\r\n"), ["Users in server: Nina:1"]
        )

    def test_a_reply_glued_to_the_prompt_it_answers_is_split_off(self) -> None:
        # Lines typed ahead: the server answers them all in one write.
        stream = ServerStream()
        lines = stream.feed(f"{NAME}Client Name: Nina\r\n{OPTION}Goodbye\r\n".encode())
        self.assertEqual(lines, [NAME, "Client Name: Nina", OPTION, "Goodbye"])
        self.assertTrue(stream.said_goodbye)

    def test_goodbye_counts_only_as_the_last_line_on_its_own(self) -> None:
        stream = ServerStream()
        stream.feed(b"Goodbye\r\n")
        self.assertTrue(stream.said_goodbye)
        stream.feed(b"Nina> Goodbye\r\n")
        self.assertFalse(stream.said_goodbye)
        stream.feed(b"Idle for too long. Goodbye\r\n")
        self.assertFalse(stream.said_goodbye)

    def test_control_characters_never_reach_the_terminal(self) -> None:
        stream = ServerStream()
        lines = stream.feed(b"\x1b[2J\x07evil\x08\x9b\ta\r\n\x1b]0;title: ")
        self.assertEqual(lines, ["\ufffd[2J\ufffdevil\ufffd\ufffd     a"])
        self.assertEqual(stream.prompt, "\ufffd]0;title: ")

    def test_a_partial_line_without_end_is_cut_at_the_limit(self) -> None:
        stream = ServerStream()
        stream.max_line_length = 10
        self.assertEqual(stream.feed(b"x" * 25), ["x" * 10, "x" * 10])
        self.assertEqual(stream.prompt, "x" * 5)

    def test_at_close_an_unfinished_line_is_kept_and_a_prompt_dropped(self) -> None:
        stream = ServerStream()
        stream.feed(b"Error: the server is full")
        self.assertEqual(stream.finish(), ["Error: the server is full"])
        stream.feed(OPTION.encode())
        self.assertEqual(stream.finish(), [])


JOIN = "Enter chat room id to join: "
JOINED = "Joined to chat room lobby\r\nType 'bye' to exit this chat room.\r\n"
HISTORY = [
    "[17:45] Alice> Hello",
    f"[17:46] Bob> {OPTION}",
    "[17:47] Alice> Goodbye",
    "[17:48] Bob> note: ",
]


class RoomHistoryTests(SynchronousTestCase):
    """The recent lines a room sends on joining are lines like live ones."""

    def test_history_then_live_lines(self) -> None:
        stream = ServerStream()
        stream.feed(JOIN.encode())
        stream.answer()
        wire = JOINED + "".join(line + "\r\n" for line in HISTORY) + "Alice> live\r\n"
        lines = stream.feed(wire.encode())
        self.assertEqual(
            lines,
            [
                "Joined to chat room lobby",
                "Type 'bye' to exit this chat room.",
                *HISTORY,
                "Alice> live",
            ],
        )
        self.assertEqual(stream.prompt, "")
        self.assertFalse(stream.said_goodbye)

    def test_history_glued_to_the_join_prompt(self) -> None:
        # The room id was typed ahead: the answer follows the prompt at once.
        stream = ServerStream()
        wire = JOIN + JOINED + "".join(line + "\r\n" for line in HISTORY)
        lines = stream.feed(wire.encode())
        self.assertEqual(lines[0], JOIN)
        self.assertEqual(lines[-4:], HISTORY)

    def test_a_history_line_split_where_it_looks_like_a_prompt(self) -> None:
        stream = ServerStream()
        line = f"[17:46] Bob> {OPTION}".encode()
        self.assertEqual(stream.feed(line), [])
        self.assertEqual(stream.feed(b"\r\n"), [line.decode()])
        self.assertEqual(stream.finish(), [])


class EncodeLineTests(SynchronousTestCase):
    """L{encode_line} puts one line on the wire."""

    def test_lines_are_sent_in_utf8_with_crlf(self) -> None:
        self.assertEqual(encode_line("olá"), "olá\r\n".encode())
        self.assertEqual(encode_line("a\rb\nc"), b"abc\r\n")


class TelnetCommandTests(SynchronousTestCase):
    """The server's telnet commands never reach the screen."""

    def test_echo_offer_and_withdrawal_are_taken_out_and_noted(self):
        stream = ServerStream()
        assert stream.feed(b"Welcome\r\n\xff\xfb\x01Password: ") == ["Welcome"]
        assert stream.prompt == "Password: "
        assert stream.hiding_input
        # The prompt's line end comes after the withdrawal: a prompt, not a line.
        assert stream.feed(b"\xff\xfc\x01\r\nClient Name: Nina\r\n") == [
            "Client Name: Nina"
        ]
        assert not stream.hiding_input

    def test_a_command_split_across_reads_is_kept_until_whole(self):
        stream = ServerStream()
        assert stream.feed(b"Pass\xff") == []
        assert stream.feed(b"\xfb") == []
        assert stream.feed(b"\x01word: ") == []
        assert stream.prompt == "Password: "
        assert stream.hiding_input
