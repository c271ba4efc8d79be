"""The terminal front end: a line editor that keeps the half-typed line."""

from __future__ import annotations

from twisted.internet.error import ConnectionDone
from twisted.python.failure import Failure
from twisted.trial.unittest import SynchronousTestCase

from menuchat.client.terminal import TerminalConsole, cell_widths, layout
from tests.client_doubles import RecordingHandler, Screen

OPTION = "Your option <enter a number>: "
NAME = "Your id key (i.e your name): "
NOTICE = "New message from Bob:2 (1 unread). Choose option 3 to read it."

LEFT = b"\x1b[D"
RIGHT = b"\x1b[C"
UP = b"\x1b[A"
HOME = b"\x1b[H"
END = b"\x1b[F"
BACKSPACE = b"\x7f"


def terminal_console(
    handler: RecordingHandler | None = None, columns: int = 80
) -> tuple[TerminalConsole, Screen]:
    console = TerminalConsole(handler or RecordingHandler())
    return console, Screen(console, columns)


class TerminalConsoleTests(SynchronousTestCase):
    """L{TerminalConsole} keeps the half-typed line below arriving output."""

    def test_starts_where_the_cursor_is_without_clearing(self) -> None:
        console, screen = terminal_console()
        console.display([], NAME)
        self.assertEqual(screen.rows()[:2], ["$ menuchat-client", NAME.rstrip()])
        self.assertEqual(screen.cursor, (len(NAME), 1))

    def test_arriving_lines_go_above_the_half_typed_line(self) -> None:
        console, screen = terminal_console()
        console.display([], OPTION)
        screen.type("12")
        console.display([NOTICE, "Bob> hi"], OPTION)
        self.assertEqual(screen.rows()[1:4], [NOTICE, "Bob> hi", OPTION + "12"])
        self.assertEqual(screen.cursor, (len(OPTION) + 2, 3))
        screen.type("3")
        self.assertEqual(screen.rows()[3], OPTION + "123")

    def test_the_cursor_stays_inside_the_half_typed_line(self) -> None:
        console, screen = terminal_console()
        screen.type("abcd", LEFT, LEFT)
        console.display(["Bob> hi"], "")
        self.assertEqual(screen.rows()[1:3], ["Bob> hi", "abcd"])
        self.assertEqual(screen.cursor, (2, 2))
        screen.type("X")
        self.assertEqual(screen.rows()[2], "abXcd")

    def test_a_wrapped_input_line_is_erased_whole(self) -> None:
        console, screen = terminal_console()
        console.display([], OPTION)
        typed = "w" * 100
        screen.type(typed)
        console.display(["Bob> hi"], OPTION)
        first = 80 - len(OPTION)
        self.assertEqual(
            screen.rows()[1:5], ["Bob> hi", OPTION + typed[:first], typed[first:], ""]
        )
        self.assertEqual(screen.cursor, ((len(OPTION) + 100) % 80, 3))

    def test_a_line_that_fills_its_last_row_exactly(self) -> None:
        console, screen = terminal_console()
        console.display([], OPTION)
        typed = "w" * (160 - len(OPTION))
        screen.type(typed)
        self.assertEqual(screen.cursor, (0, 3))
        console.display(["Bob> hi"], OPTION)
        self.assertEqual(
            screen.rows()[1:5], ["Bob> hi", OPTION + typed[:50], typed[50:], ""]
        )
        self.assertEqual(screen.cursor, (0, 4))
        screen.type(LEFT, "X")
        self.assertEqual(screen.rows()[3], typed[50:-1] + "X")
        self.assertEqual(screen.rows()[4], "w")

    def test_a_new_prompt_replaces_the_old_one(self) -> None:
        console, screen = terminal_console()
        console.display([], "Your opt")
        console.display([], OPTION)
        self.assertEqual(screen.rows()[1], OPTION.rstrip())

    def test_return_sends_the_line_and_leaves_it_on_screen(self) -> None:
        handler = RecordingHandler()
        console, screen = terminal_console(handler)
        console.display([], OPTION)
        screen.type("1", b"\r")
        self.assertEqual(handler.lines, ["1"])
        console.display(["Users in server: Nina:1"], OPTION)
        self.assertEqual(
            screen.rows()[1:4],
            [OPTION + "1", "Users in server: Nina:1", OPTION.rstrip()],
        )

    def test_room_history_is_shown_as_lines(self) -> None:
        console, screen = terminal_console()
        console.display([], "Enter chat room id to join: ")
        screen.type("lobby", b"\r")
        console.display(["Joined to chat room lobby", "[17:45] 李雷> 你好"], "")
        screen.type("hi")
        console.display(["[17:46] Bob> Your option <enter a number>: "], "")
        self.assertEqual(
            screen.rows()[1:5],
            [
                "Enter chat room id to join: lobby",
                "Joined to chat room lobby",
                "[17:45] 李雷> 你好",
                "[17:46] Bob> Your option <enter a number>:",
            ],
        )
        self.assertEqual(screen.rows()[5], "hi")
        self.assertEqual(screen.cursor, (2, 5))

    def test_utf8_keys_make_whole_characters(self) -> None:
        handler = RecordingHandler()
        _, screen = terminal_console(handler)
        screen.type("olé☃", LEFT, BACKSPACE, b"\r")
        self.assertEqual(handler.lines, ["ol☃"])

    def test_history_recalls_a_line(self) -> None:
        handler = RecordingHandler()
        _, screen = terminal_console(handler)
        screen.type("olé", b"\r", UP, b"\r")
        self.assertEqual(handler.lines, ["olé", "olé"])

    def test_ctrl_d_deletes_or_quits_and_ctrl_c_interrupts(self) -> None:
        handler = RecordingHandler()
        console, screen = terminal_console(handler)
        screen.type("ab", LEFT, b"\x04")
        self.assertEqual(console.lineBuffer, [b"a"])
        self.assertEqual(handler.events, [])
        screen.type(b"\x15", b"\x04")  # Ctrl-U empties the line
        self.assertEqual(handler.events, ["quit"])
        screen.type(b"\x03")
        self.assertEqual(handler.events, ["quit", "interrupt"])

    def test_control_keys_are_not_typed(self) -> None:
        handler = RecordingHandler()
        _, screen = terminal_console(handler)
        screen.type(b"\x0b", "a", "\u0085", b"\r")
        self.assertEqual(handler.lines, ["a"])

    def test_close_clears_the_input_line_and_insert_mode(self) -> None:
        handler = RecordingHandler()
        console, screen = terminal_console(handler)
        console.display(["last line"], OPTION)
        screen.type("half")
        self.assertIn(4, screen.screen.mode)  # insert mode (IRM)
        console.close()
        self.assertEqual(screen.rows()[1:3], ["last line", ""])
        self.assertNotIn(4, screen.screen.mode)
        self.assertTrue(screen.disconnecting)
        console.connectionLost(Failure(ConnectionDone()))
        self.assertTrue(console.when_closed.called)
        self.assertEqual(handler.events, [])

    def test_a_lost_terminal_quits(self) -> None:
        handler = RecordingHandler()
        console, _ = terminal_console(handler)
        console.connectionLost(Failure(ConnectionDone()))
        self.assertEqual(handler.events, ["quit"])


class WideCharacterTests(SynchronousTestCase):
    """Characters two columns wide, or none, keep the cursor with the text."""

    def test_the_cursor_steps_over_a_wide_character_whole(self) -> None:
        console, screen = terminal_console()
        console.display([], OPTION)
        screen.type("中文")
        self.assertEqual(screen.cursor, (len(OPTION) + 4, 1))
        screen.type(LEFT)
        self.assertEqual(screen.cursor, (len(OPTION) + 2, 1))
        screen.type("x")
        self.assertEqual(screen.rows()[1], OPTION + "中x文")
        self.assertEqual(screen.cursor, (len(OPTION) + 3, 1))
        screen.type(HOME, RIGHT)
        self.assertEqual(screen.cursor, (len(OPTION) + 2, 1))

    def test_arriving_output_keeps_a_wide_half_typed_line(self) -> None:
        console, screen = terminal_console()
        console.display([], OPTION)
        screen.type("日本😀語", LEFT, LEFT)
        console.display(["Bob> 你好 🎉"], OPTION)
        self.assertEqual(screen.rows()[1:4], ["Bob> 你好 🎉", OPTION + "日本😀語", ""])
        self.assertEqual(screen.cursor, (len(OPTION) + 4, 2))
        screen.type("!")
        self.assertEqual(screen.rows()[2], OPTION + "日本!😀語")

    def test_backspace_and_delete_take_a_wide_character_whole(self) -> None:
        console, screen = terminal_console()
        console.display([], OPTION)
        screen.type("中文", BACKSPACE)
        self.assertEqual(screen.rows()[1], OPTION + "中")
        self.assertEqual(screen.cursor, (len(OPTION) + 2, 1))
        screen.type(HOME, b"\x04")
        self.assertEqual(screen.rows()[1], OPTION.rstrip())
        self.assertEqual(screen.cursor, (len(OPTION), 1))

    def test_a_wrapped_line_of_wide_characters(self) -> None:
        console, screen = terminal_console(columns=20)
        console.display([], "> ")
        screen.type("中" * 10)
        self.assertEqual(screen.rows()[1:3], ["> " + "中" * 9, "中"])
        self.assertEqual(screen.cursor, (2, 2))
        screen.type(LEFT, LEFT)
        self.assertEqual(screen.cursor, (18, 1))
        screen.type("ab")
        self.assertEqual(screen.rows()[1:3], ["> " + "中" * 8 + "ab", "中中"])
        self.assertEqual(screen.cursor, (0, 2))
        console.display(["Bob> hi"], "> ")
        self.assertEqual(
            screen.rows()[1:5], ["Bob> hi", "> " + "中" * 8 + "ab", "中中", ""]
        )
        self.assertEqual(screen.cursor, (0, 3))

    def test_combining_marks_go_with_their_letter(self) -> None:
        handler = RecordingHandler()
        console, screen = terminal_console(handler)
        console.display([], "> ")
        screen.type("e\u0301x", LEFT, LEFT)
        self.assertEqual(console.lineBufferIndex, 0)
        self.assertEqual(screen.cursor, (2, 1))
        screen.type(RIGHT)
        self.assertEqual(console.lineBufferIndex, 2)
        self.assertEqual(screen.cursor, (3, 1))
        screen.type(END, b"\r")
        self.assertEqual(handler.lines, ["e\u0301x"])


class CompletionTests(SynchronousTestCase):
    """Tab completes commands and the names the console has shown."""

    def setUp(self) -> None:
        self.handler = RecordingHandler()
        self.console, self.screen = terminal_console(self.handler)
        self.console.display(["Users in server: Nina:1, Nils:2, Bob:3"], OPTION)

    def test_a_command(self) -> None:
        self.screen.type("/wh", b"\t")
        self.assertEqual(self.screen.rows()[2], OPTION + "/who")
        self.assertEqual(self.screen.cursor, (len(OPTION) + 4, 2))
        self.screen.type(b"\r")
        self.assertEqual(self.handler.lines, ["/who"])

    def test_a_unique_name(self) -> None:
        self.screen.type("/msg b", b"\t", "hi", b"\r")
        self.assertEqual(self.handler.lines, ["/msg Bob hi"])

    def test_several_names_then_the_list(self) -> None:
        self.screen.type("/msg n", b"\t")
        self.assertEqual(self.screen.rows()[2], OPTION + "/msg Ni")
        self.screen.type(b"\t")
        self.assertEqual(
            self.screen.rows()[1:5],
            [
                "Users in server: Nina:1, Nils:2, Bob:3",
                "Nils  Nina",
                OPTION + "/msg Ni",
                "",
            ],
        )
        self.assertEqual(self.screen.cursor, (len(OPTION) + 7, 3))
        self.screen.type("n", b"\t")
        self.assertEqual(self.screen.rows()[3], OPTION + "/msg Nina")

    def test_another_key_between_two_tabs(self) -> None:
        self.screen.type("/msg Ni", b"\t", "x", BACKSPACE, b"\t")
        self.assertEqual(self.screen.rows()[2:4], [OPTION + "/msg Ni", ""])

    def test_inside_the_line(self) -> None:
        self.screen.type("/msg b hi", LEFT, LEFT, LEFT, b"\t")
        self.assertEqual(self.screen.rows()[2], OPTION + "/msg Bob  hi")
        self.assertEqual(self.screen.cursor, (len(OPTION) + 9, 2))

    def test_names_from_room_lines(self) -> None:
        self.console.display(["Zoë joined", "[17:45] 李雷> 你好"], "")
        self.screen.type("z", b"\t", "李", b"\t")
        self.assertEqual(self.screen.rows()[4], "Zoë 李雷")

    def test_a_long_list_is_cut(self) -> None:
        self.console.max_listed = 3
        self.console.display(["In this room: a1, a2, a3, a4, a5"], "")
        self.screen.type("a", b"\t", b"\t")
        self.assertEqual(self.screen.rows()[3:6], ["a1  a2  a3", "(and 2 more)", "a"])


class SuspendTests(SynchronousTestCase):
    """Ctrl-Z hides the input line for the shell; L{show} draws it again."""

    def setUp(self) -> None:
        self.console, self.screen = terminal_console(columns=40)
        self.hidden: list[bytes] = []
        self.console.suspend = self.hidden.append
        self.console.display([], OPTION)

    def test_ctrl_z_hands_over_a_clear_line_and_show_takes_it_back(self) -> None:
        self.screen.type("half", LEFT, b"\x1a")
        self.assertEqual(len(self.hidden), 1)
        self.screen.feed(self.hidden[0])  # written straight to the terminal
        self.assertEqual(self.screen.rows()[1:3], ["", ""])
        self.assertEqual(self.screen.cursor, (0, 1))
        self.assertNotIn(4, self.screen.screen.mode)  # insert mode is off
        self.screen.feed(b"\r\n[1]+  Stopped   menuchat-client\r\n$ fg\r\n")
        self.console.show()
        self.assertEqual(
            self.screen.rows()[2:6],
            ["[1]+  Stopped   menuchat-client", "$ fg", OPTION + "half", ""],
        )
        self.assertEqual(self.screen.cursor, (len(OPTION) + 3, 4))
        self.assertIn(4, self.screen.screen.mode)
        self.screen.type("X")
        self.assertEqual(self.screen.rows()[4], OPTION + "halXf")

    def test_a_wrapped_input_line_is_hidden_whole(self) -> None:
        self.screen.type("x" * 50)
        self.assertEqual(self.screen.cursor, (0, 3))
        self.screen.type(b"\x1a")
        self.screen.feed(self.hidden[0])
        self.assertEqual(self.screen.rows()[1:4], ["", "", ""])
        self.assertEqual(self.screen.cursor, (0, 1))

    def test_without_job_control_ctrl_z_does_nothing(self) -> None:
        self.console.suspend = None
        self.screen.type("half", b"\x1a", "!")
        self.assertEqual(self.screen.rows()[1], OPTION + "half!")

    def test_show_after_a_stop_that_was_not_ours(self) -> None:
        self.screen.type("half", LEFT)
        self.console.show()
        self.assertEqual(self.screen.rows()[1:3], [OPTION + "half", ""])
        self.assertEqual(self.screen.cursor, (len(OPTION) + 3, 1))


class LayoutTests(SynchronousTestCase):
    """L{layout} says where each character lands, as a terminal puts it."""

    def test_widths(self) -> None:
        self.assertEqual(cell_widths("aé中😀\u0301\x07"), [1, 1, 2, 2, 0, 0])

    def test_a_wide_character_that_does_not_fit_goes_to_the_next_row(self) -> None:
        places = layout(cell_widths("> x" + "中" * 9), 20)
        self.assertEqual(places[3:5], [(0, 3), (0, 5)])
        self.assertEqual(places[10:], [(0, 17), (1, 0), (1, 2)])

    def test_the_place_past_a_full_row_is_the_next_row(self) -> None:
        self.assertEqual(layout([1] * 20, 20)[-2:], [(0, 19), (1, 0)])
        self.assertEqual(layout([2] * 10, 20)[-1], (1, 0))
        self.assertEqual(layout([], 20), [(0, 0)])
