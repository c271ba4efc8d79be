"""The plain front end: lines from a pipe, a transcript out."""

from __future__ import annotations

from twisted.internet.testing import StringTransport
from twisted.trial.unittest import SynchronousTestCase

from menuchat.client.console import PlainConsole
from tests.client_doubles import RecordingHandler

OPTION = "Your option <enter a number>: "
NAME = "Your id key (i.e your name): "
NOTICE = "New message from Bob:2 (1 unread). Choose option 3 to read it."


def plain_console(
    handler: RecordingHandler | None = None,
) -> tuple[PlainConsole, StringTransport]:
    console = PlainConsole(handler or RecordingHandler())
    transport = StringTransport()
    console.makeConnection(transport)
    return console, transport


class PlainConsoleTests(SynchronousTestCase):
    """L{PlainConsole} reads lines from a pipe and writes a transcript."""

    def test_sends_each_input_line(self) -> None:
        handler = RecordingHandler()
        console, transport = plain_console(handler)
        console.dataReceived(b"Nina\r\n1\nol")
        console.dataReceived("á\nno end".encode())
        self.assertEqual(handler.lines, ["Nina", "1", "olá"])
        console.readConnectionLost()
        self.assertEqual(handler.lines[-1], "no end")
        self.assertEqual(handler.events, ["input ended"])
        self.assertFalse(transport.disconnecting)  # stdout stays open

    def test_transcript(self) -> None:
        console, transport = plain_console()
        console.display(["Welcome to menuchat."], NAME)
        console.display([], "")  # the user answered
        console.display(["Client Name: Nina"], "Your opt")
        console.display(["Your option <enter a number>: ?"], OPTION)  # completed
        console.display([NOTICE], OPTION)  # the prompt was interrupted
        console.close()
        self.assertEqual(
            transport.value().decode(),
            f"Welcome to menuchat.\n{NAME}\nClient Name: Nina\n"
            f"Your option <enter a number>: ?\n{OPTION}\n{NOTICE}\n{OPTION}\n",
        )
        self.assertTrue(transport.disconnecting)

    def test_room_history_is_written_as_lines(self) -> None:
        console, transport = plain_console()
        join = "Enter chat room id to join: "
        console.display([], join)
        console.display([], "")
        console.display(["Joined to chat room lobby", "[17:45] Alice> Hello"], "")
        console.display([f"[17:46] Bob> {OPTION}", "Alice> live"], "")
        self.assertEqual(
            transport.value().decode(),
            f"{join}\nJoined to chat room lobby\n[17:45] Alice> Hello\n"
            f"[17:46] Bob> {OPTION}\nAlice> live\n",
        )

    def test_closed_stdout_quits(self) -> None:
        handler = RecordingHandler()
        console, _ = plain_console(handler)
        console.writeConnectionLost()
        self.assertEqual(handler.events, ["quit"])
