"""The terminal front end: a line editor that keeps the half-typed line."""

from __future__ import annotations

from collections.abc import Sequence

from twisted.conch.insults import insults
from twisted.conch.insults.helper import TerminalBuffer
from twisted.internet.error import ConnectionDone
from twisted.internet.testing import StringTransport
from twisted.python.failure import Failure
from twisted.trial.unittest import SynchronousTestCase

from menuchat.client.terminal import TerminalConsole
from tests.client_doubles import RecordingHandler

OPTION = "Your option <enter a number>: "
NAME = "Your id key (i.e your name): "
NOTICE = "New message from Bob:2 (1 unread). Choose option 3 to read it."


def terminal_console(
    handler: RecordingHandler | None = None,
) -> tuple[TerminalConsole, TerminalBuffer]:
    screen = TerminalBuffer()
    screen.makeConnection(StringTransport())
    screen.write(b"$ menuchat-client\n")
    console = TerminalConsole(handler or RecordingHandler())
    console.makeConnection(screen)
    return console, screen


def rows(screen: TerminalBuffer) -> list[str]:
    return bytes(screen).decode("utf-8").split("\n")


def type_keys(console: TerminalConsole, keys: Sequence[str | bytes | object]) -> None:
    """Press C{keys}: a str is typed byte by byte, anything else is one key."""
    for key in keys:
        if isinstance(key, str):
            for byte in key.encode():
                console.keystrokeReceived(bytes([byte]), None)
        else:
            console.keystrokeReceived(key, None)


class TerminalConsoleTests(SynchronousTestCase):
    """L{TerminalConsole} keeps the half-typed line below arriving output."""

    def test_starts_where_the_cursor_is_without_clearing(self) -> None:
        console, screen = terminal_console()
        console.display([], NAME)
        self.assertEqual(rows(screen)[:2], ["$ menuchat-client", NAME])
        self.assertEqual(screen.reportCursorPosition(), (len(NAME), 1))

    def test_arriving_lines_go_above_the_half_typed_line(self) -> None:
        console, screen = terminal_console()
        console.display([], OPTION)
        type_keys(console, ["12"])
        console.display([NOTICE, "Bob> hi"], OPTION)
        self.assertEqual(rows(screen)[1:4], [NOTICE, "Bob> hi", OPTION + "12"])
        self.assertEqual(screen.reportCursorPosition(), (len(OPTION) + 2, 3))
        type_keys(console, ["3"])
        self.assertEqual(rows(screen)[3], OPTION + "123")

    def test_the_cursor_stays_inside_the_half_typed_line(self) -> None:
        console, screen = terminal_console()
        type_keys(console, ["abcd", screen.LEFT_ARROW, screen.LEFT_ARROW])
        console.display(["Bob> hi"], "")
        self.assertEqual(rows(screen)[1:3], ["Bob> hi", "abcd"])
        self.assertEqual(screen.reportCursorPosition(), (2, 2))
        type_keys(console, ["X"])
        self.assertEqual(rows(screen)[2], "abXcd")

    def test_a_wrapped_input_line_is_erased_whole(self) -> None:
        console, screen = terminal_console()
        console.display([], OPTION)
        typed = "w" * 100
        type_keys(console, [typed])
        console.display(["Bob> hi"], OPTION)
        first = 80 - len(OPTION)
        self.assertEqual(
            rows(screen)[1:4], ["Bob> hi", OPTION + typed[:first], typed[first:]]
        )
        self.assertEqual(screen.reportCursorPosition(), ((len(OPTION) + 100) % 80, 3))

    def test_a_new_prompt_replaces_the_old_one(self) -> None:
        console, screen = terminal_console()
        console.display([], "Your opt")
        console.display([], OPTION)
        self.assertEqual(rows(screen)[1], OPTION)

    def test_return_sends_the_line_and_leaves_it_on_screen(self) -> None:
        handler = RecordingHandler()
        console, screen = terminal_console(handler)
        console.display([], OPTION)
        type_keys(console, ["1", b"\r"])
        self.assertEqual(handler.lines, ["1"])
        console.display(["Users in server: Nina:1"], OPTION)
        self.assertEqual(
            rows(screen)[1:4], [OPTION + "1", "Users in server: Nina:1", OPTION]
        )

    def test_utf8_keys_make_whole_characters(self) -> None:
        handler = RecordingHandler()
        console, screen = terminal_console(handler)
        type_keys(console, ["olé☃", screen.LEFT_ARROW, b"\x7f", b"\r"])
        self.assertEqual(handler.lines, ["ol☃"])

    def test_history_recalls_a_line(self) -> None:
        handler = RecordingHandler()
        console, screen = terminal_console(handler)
        type_keys(console, ["olé", b"\r", screen.UP_ARROW, b"\r"])
        self.assertEqual(handler.lines, ["olé", "olé"])

    def test_ctrl_d_deletes_or_quits_and_ctrl_c_interrupts(self) -> None:
        handler = RecordingHandler()
        console, screen = terminal_console(handler)
        type_keys(console, ["ab", screen.LEFT_ARROW, b"\x04"])
        self.assertEqual(console.lineBuffer, [b"a"])
        self.assertEqual(handler.events, [])
        type_keys(console, [b"\x15", b"\x04"])  # Ctrl-U empties the line
        self.assertEqual(handler.events, ["quit"])
        type_keys(console, [b"\x03"])
        self.assertEqual(handler.events, ["quit", "interrupt"])

    def test_control_keys_are_not_typed(self) -> None:
        handler = RecordingHandler()
        console, _ = terminal_console(handler)
        type_keys(console, [b"\x0b", b"\x1b", "a", b"\t", b"\r"])
        self.assertEqual(handler.lines, ["a"])

    def test_close_clears_the_input_line_and_insert_mode(self) -> None:
        handler = RecordingHandler()
        console, screen = terminal_console(handler)
        console.display(["last line"], OPTION)
        type_keys(console, ["half"])
        self.assertTrue(screen.modes.get(insults.modes.IRM))
        console.close()
        self.assertEqual(rows(screen)[1:3], ["last line", ""])
        self.assertFalse(screen.modes.get(insults.modes.IRM))
        self.assertTrue(screen.transport.disconnecting)
        console.connectionLost(Failure(ConnectionDone()))
        self.assertTrue(console.when_closed.called)
        self.assertEqual(handler.events, [])

    def test_a_lost_terminal_quits(self) -> None:
        handler = RecordingHandler()
        console, _ = terminal_console(handler)
        console.connectionLost(Failure(ConnectionDone()))
        self.assertEqual(handler.events, ["quit"])
