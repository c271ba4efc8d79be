"""What Tab completes: slash commands and the names seen."""

from __future__ import annotations

from twisted.trial.unittest import SynchronousTestCase

from menuchat.client.completion import COMMANDS, Completer, Completion, common_prefix


def seen(*lines: str) -> Completer:
    completer = Completer()
    for line in lines:
        completer.observe(line)
    return completer


class ObserveTests(SynchronousTestCase):
    """L{Completer.observe} learns names from the lines that show them."""

    def test_the_user_list(self) -> None:
        completer = seen("Users in server: Jose:2345, Nina:8763")
        self.assertEqual(completer.names, ["Jose", "Nina"])

    def test_the_members_of_a_room(self) -> None:
        self.assertEqual(seen("In this room: Ana, Bea").names, ["Ana", "Bea"])

    def test_a_member_joining(self) -> None:
        self.assertEqual(seen("Alice joined").names, ["Alice"])

    def test_room_lines_live_and_from_history(self) -> None:
        completer = seen("Bob> hi> there", "[17:45] Zoë> Hello", "a>b> x")
        self.assertEqual(completer.names, ["Bob", "Zoë", "a>b"])

    def test_other_lines_name_nobody(self) -> None:
        completer = seen(
            "Welcome to menuchat.",
            "Joined to chat room lobby",
            "Type 'bye' to exit this chat room.",
            "Your option <enter a number>: ",
            "New message from Bob:2 (1 unread). Choose option 3 to read it.",
            "2019-08-05 17:45: Hello World! (from: Nina)",
            "Alice left the chat room.",
            "Error: 'x' is not an option. Enter a number from 1 to 6.",
        )
        self.assertEqual(completer.names, [])

    def test_a_name_seen_again_is_the_newest(self) -> None:
        completer = seen("Users in server: A:1, B:2", "A> hi", "b> hi")
        self.assertEqual(completer.names, ["A", "b"])

    def test_the_oldest_names_are_forgotten(self) -> None:
        completer = Completer()
        completer.max_names = 2
        for line in ("A joined", "B joined", "C joined"):
            completer.observe(line)
        self.assertEqual(completer.names, ["B", "C"])


class CompleteTests(SynchronousTestCase):
    """L{Completer.complete} completes the word before the cursor."""

    def test_a_command_completes_alone(self) -> None:
        completer = Completer()
        self.assertEqual(completer.complete("/wh"), Completion(0, "/who", ("/who",)))
        self.assertEqual(completer.complete("/cr").word, "/create ")
        self.assertEqual(completer.complete("/MU").word, "/mute ")

    def test_commands_sharing_a_start(self) -> None:
        completion = Completer().complete("/c")
        self.assertEqual(completion, Completion(0, "/c", ("/close", "/create")))
        self.assertEqual(Completer().complete("/un").word, "/unmute ")
        self.assertEqual(Completer().complete("/").candidates, tuple(sorted(COMMANDS)))

    def test_a_command_only_starts_the_line(self) -> None:
        completer = seen("/whoami joined")
        self.assertEqual(completer.complete("say /wh").candidates, ("/whoami",))

    def test_a_name_after_a_command(self) -> None:
        completer = seen("Users in server: Nina:1, Nils:2, Bob:3")
        self.assertEqual(completer.complete("/msg b"), Completion(5, "Bob ", ("Bob",)))
        self.assertEqual(
            completer.complete("/msg n"), Completion(5, "Ni", ("Nils", "Nina"))
        )
        self.assertEqual(completer.complete("/msg Nin").word, "Nina ")
        self.assertEqual(completer.complete("hello Ni").word, "Ni")

    def test_nothing_matches(self) -> None:
        completer = seen("Nina joined")
        self.assertEqual(completer.complete("/msg x"), Completion(5, "x", ()))
        self.assertEqual(completer.complete("/nope"), Completion(0, "/nope", ()))
        self.assertEqual(completer.complete("/msg "), Completion(5, "", ()))
        self.assertEqual(completer.complete(""), Completion(0, "", ()))


class CommonPrefixTests(SynchronousTestCase):
    """L{common_prefix} ignores letter case and spells as the first word."""

    def test_prefixes(self) -> None:
        self.assertEqual(common_prefix([]), "")
        self.assertEqual(common_prefix(["Nina"]), "Nina")
        self.assertEqual(common_prefix(["Nina", "nino", "NIls"]), "Ni")
        self.assertEqual(common_prefix(["abc", "ab"]), "ab")
        self.assertEqual(common_prefix(["x", "y"]), "")
