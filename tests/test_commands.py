"""Slash commands and life in a room (frontends/menu/commands.py), over the
menu protocol: every command at the menu and in a room, and its errors."""

from __future__ import annotations

from twisted.internet.error import ConnectionDone
from twisted.logger import capturedLogs
from twisted.python.failure import Failure

from tests.menu_people import PeopleCase

PROMPT = "Your option <enter a number>: "


class MenuCommandTests(PeopleCase):
    """At the option prompt, a command answers like its option, then the prompt."""

    def test_who_is_option_1(self) -> None:
        nina = self.person("Nina")
        self.person("Jose")
        assert nina.say("/who") == "Users in server: Nina:1, Jose:2\r\n" + PROMPT
        assert nina.say("/WHO") == nina.say("1")

    def test_msg_sends_in_one_line(self) -> None:
        nina = self.person("Nina")
        jose = self.person("Jose")
        assert nina.say("/msg jose Hello there") == "Message sent!\r\n" + PROMPT
        assert "New message from Nina:1 (1 unread)" in jose.read()
        assert "Hello there (from: Nina)" in jose.say("/read")

    def test_msg_by_id_and_its_errors(self) -> None:
        nina = self.person("Nina")
        self.person("Jose")
        assert nina.say("/msg 2 hi") == "Message sent!\r\n" + PROMPT
        assert nina.say("/msg nobody hi") == (
            "Error: no user has the id or name 'nobody'; nothing was sent.\r\n" + PROMPT
        )
        assert nina.say("/msg Jose") == (
            "Error: usage: /msg <id|name> <text>\r\n" + PROMPT
        )
        assert nina.say("/msg") == "Error: usage: /msg <id|name> <text>\r\n" + PROMPT

    def test_read_is_option_3(self) -> None:
        nina = self.person("Nina")
        assert nina.say("/read") == "You have no messages.\r\n" + PROMPT

    def test_rooms_is_option_7(self) -> None:
        nina = self.person("Nina")
        assert nina.say("/rooms") == (
            "There are no chat rooms. Choose option 4 to create one.\r\n" + PROMPT
        )
        jose = self.person("Jose")
        jose.say("/create math")
        self.person("Ana").say("/join math")
        nina.say("/create lobby")
        assert self.person("Lou").say("/rooms") == (
            "Chat rooms: math (2), lobby (1)\r\n" + PROMPT
        )

    def test_create_and_join_enter_the_room(self) -> None:
        nina = self.person("Nina")
        assert nina.say("/create lobby") == (
            "Chat Room lobby\r\nType 'exit' to close the chat room.\r\n"
        )
        jose = self.person("Jose")
        said = jose.say("/join LOBBY")
        assert said.startswith("Joined to chat room lobby\r\n")
        assert "In this room: Nina, Jose\r\n" in said
        assert nina.read() == "Jose joined\r\n"

    def test_create_and_join_errors(self) -> None:
        nina = self.person("Nina")
        assert nina.say("/join nowhere") == (
            "Error: there is no chat room 'nowhere'.\r\n" + PROMPT
        )
        assert nina.say("/create") == "Error: usage: /create <room>\r\n" + PROMPT
        assert "cannot contain ',' or ':'" in nina.say("/create a:b")

    def test_leave_at_the_menu_is_an_error(self) -> None:
        nina = self.person("Nina")
        assert nina.say("/leave") == "Error: you are in no chat room.\r\n" + PROMPT

    def test_quit_is_option_6(self) -> None:
        nina = self.person("Nina")
        assert nina.say("/quit") == "Goodbye\r\n"
        assert nina.wire.disconnecting

    def test_help_lists_every_command(self) -> None:
        said = self.person("Nina").say("/help")
        for command in ("/who", "/msg", "/read", "/rooms", "/create", "/join",
                        "/leave", "/quit", "/kick", "/mute", "/unmute", "/owner",
                        "/topic", "/close", "/broadcast", "/disconnect"):  # fmt: skip
            assert command in said, command
        assert said.endswith(PROMPT)

    def test_an_unknown_command_is_an_error(self) -> None:
        nina = self.person("Nina")
        assert nina.say("/dance") == (
            "Error: '/dance' is not a command; /help lists them.\r\n" + PROMPT
        )

    def test_the_numbered_menu_works_as_before(self) -> None:
        nina = self.person("Nina")
        assert nina.say("2") == "Enter your message: "
        assert nina.say("/who") == "Enter recipient id: "  # text, not a command
        assert "no user has the id or name 'Nina'" not in nina.say("Nina")


class RoomCommandTests(PeopleCase):
    """In a room, commands answer with lines; other lines go to the room."""

    def setUp(self) -> None:
        super().setUp()
        self.nina = self.person("Nina")
        self.jose = self.person("Jose")
        self.nina.say("4", "lobby")
        self.jose.say("5", "lobby")
        self.nina.read()

    def test_commands_in_a_room_never_reach_the_room(self) -> None:
        assert self.jose.say("/who") == "Users in server: Nina:1, Jose:2\r\n"
        assert self.jose.say("/dance") == (
            "Error: '/dance' is not a command; /help lists them.\r\n"
        )
        assert self.nina.read() == ""

    def test_a_double_slash_says_a_slash(self) -> None:
        self.jose.say("//shrug")
        assert self.nina.read() == "Jose> /shrug\r\n"

    def test_msg_and_read_from_a_room(self) -> None:
        assert self.jose.say("/msg Nina psst") == "Message sent!\r\n"
        notice = self.nina.read()
        assert "Leave the room, then choose option 3 to read it." in notice
        assert "psst (from: Jose)" in self.nina.say("/read")

    def test_create_and_join_in_a_room_say_leave_first(self) -> None:
        assert self.jose.say("/join lobby") == (
            "Error: you are in chat room lobby already; leave it first.\r\n"
        )
        assert self.jose.say("/create other") == (
            "Error: you are in chat room lobby already; leave it first.\r\n"
        )

    def test_leave_is_bye_and_is_announced(self) -> None:
        said = self.jose.say("/leave")
        assert said.startswith("You left chat room lobby.\r\n")
        assert said.endswith(PROMPT)
        assert self.nina.read() == "Jose left the chat room.\r\n"

    def test_a_dropped_member_is_announced_differently(self) -> None:
        self.jose.protocol.connectionLost(Failure(ConnectionDone()))
        assert self.nina.read() == "Jose disconnected from the chat.\r\n"

    def test_a_guest_owner_must_close_with_exit(self) -> None:
        assert (
            self.nina.say("/leave") == "You own this room: type 'exit' to close it.\r\n"
        )
        assert self.nina.say("bye") == "You own this room: type 'exit' to close it.\r\n"
        assert self.nina.say("exit").startswith("Chat room lobby is closed.\r\n")
        assert self.jose.read().startswith("Chat room lobby was closed by its owner.")

    def test_the_owner_kicks_mutes_and_hands_over(self) -> None:
        ana = self.person("Ana")
        ana.say("/join lobby")
        self.nina.read()
        self.jose.read()
        assert self.nina.say("/mute Jose") == "Jose was muted by Nina.\r\n"
        assert self.jose.read() == "Jose was muted by Nina.\r\n"
        assert self.jose.say("let me speak") == (
            "Error: you are muted in this room; your line was not sent.\r\n"
        )
        assert ana.read() == "Jose was muted by Nina.\r\n"
        self.nina.say("/unmute Jose")
        self.jose.say("thanks")
        assert "Jose> thanks" in ana.read()
        assert self.nina.say("/topic Exams next week") == (
            "Nina set the topic: Exams next week\r\n"
        )
        assert "Topic: Exams next week\r\n" in self.person("Lou").say("/join lobby")
        self.nina.read()
        ana.read()
        assert self.nina.say("/kick Ana").startswith(
            "Ana was put out of the room by Nina"
        )
        kicked = ana.read()
        assert kicked.startswith("You were put out of chat room lobby by Nina.\r\n")
        assert kicked.endswith(PROMPT)
        assert "Jose owns chat room lobby now, given by Nina.\r\n" in self.nina.say(
            "/owner Jose"
        )
        assert self.jose.say("exit").startswith("Chat room lobby is closed.")

    def test_members_may_not_moderate(self) -> None:
        for command in ("/kick Nina", "/mute Nina", "/owner Jose", "/topic mine"):
            assert self.jose.say(command) == (
                "Error: only the room's owner or an operator may do that.\r\n"
            ), command
        assert (
            self.nina.say("/kick Nobody")
            == "Error: 'Nobody' is not in the chat room.\r\n"
        )
        assert self.nina.say("/kick") == "Error: usage: /kick <name>\r\n"


class OperatorTests(PeopleCase):
    """--operator names registered accounts that moderate everywhere."""

    operators = ("Olga",)

    def test_an_operator_closes_broadcasts_and_disconnects_from_the_menu(self) -> None:
        olga = self.registered("Olga")
        nina = self.person("Nina")
        jose = self.person("Jose")
        nina.say("/create lobby")
        jose.say("/join lobby")
        nina.read()
        assert olga.say("/kick Jose") == "Done.\r\n" + PROMPT
        assert jose.read().startswith("You were put out of chat room lobby by Olga.")
        said = olga.say("/broadcast Server restarts at noon")
        assert "*** Olga to everyone: Server restarts at noon\r\n" in said
        assert "*** Olga to everyone: Server restarts at noon\r\n" in jose.read()
        assert olga.say("/close lobby") == "Chat room lobby is closed.\r\n" + PROMPT
        assert "was closed by its owner" in nina.read()
        assert olga.say("/disconnect Jose") == "Done.\r\n" + PROMPT
        assert "You were disconnected by the operator Olga. Goodbye" in jose.read()
        assert jose.wire.disconnecting

    def test_an_unregistered_namesake_is_no_operator(self) -> None:
        olga = self.person("Olga")
        assert olga.say("/broadcast hi") == (
            "Error: only the room's owner or an operator may do that.\r\n" + PROMPT
        )


class RefusalTextTests(PeopleCase):
    """Refused commands name what they were given, cut to 40 characters."""

    operators = ("Olga",)

    def test_an_unknown_command_is_quoted_in_part(self) -> None:
        nina = self.person("Nina")
        assert nina.say("/" + "x" * 50) == (
            "Error: '/"
            + "x" * 39
            + "' is not a command; /help lists them.\r\n"
            + PROMPT
        )

    def test_moderating_someone_absent_names_them_in_part(self) -> None:
        nina = self.person("Nina")
        nina.say("/create lobby")
        for command in ("/mute", "/unmute", "/owner"):
            assert nina.say(f"{command} Nobody") == (
                "Error: 'Nobody' is not in the chat room.\r\n"
            )
        assert nina.say("/kick " + "y" * 50) == (
            "Error: '" + "y" * 40 + "' is not in the chat room.\r\n"
        )

    def test_an_operator_names_the_absent_and_the_unknown_room(self) -> None:
        olga = self.registered("Olga")
        assert olga.say("/disconnect Nobody") == (
            "Error: 'Nobody' is not in the chat room.\r\n" + PROMPT
        )
        assert olga.say("/close " + "r" * 50) == (
            "Error: there is no chat room '" + "r" * 40 + "'.\r\n" + PROMPT
        )

    def test_setting_a_topic_outside_a_room(self) -> None:
        nina = self.person("Nina")
        assert nina.say("/topic hello") == (
            "Error: you are in no chat room.\r\n" + PROMPT
        )

    def test_creating_a_room_that_exists(self) -> None:
        self.person("Nina").say("/create lobby")
        assert self.person("Jose").say("/create Lobby") == (
            "Error: chat room 'Lobby' exists already.\r\n" + PROMPT
        )


class OwnRoomTests(PeopleCase):
    """An owner closing or leaving its own room from inside it."""

    def test_the_owner_closes_its_room_with_a_command(self) -> None:
        nina = self.person("Nina")
        jose = self.person("Jose")
        nina.say("/create lobby")
        jose.say("/join lobby")
        said = nina.say("/close lobby")
        assert said.startswith("Chat room lobby is closed.\r\n"), said
        assert said.endswith(PROMPT), said
        assert "1. Get user list" in said
        assert nina.say("1") == "Users in server: Nina:1, Jose:2\r\n" + PROMPT

    def test_the_registered_owner_leaves_its_kept_room(self) -> None:
        nina = self.registered("Nina")
        nina.say("/create lobby")
        said = nina.say("bye")
        assert said.startswith(
            "You left chat room lobby; it stays open until you close it.\r\n"
        ), said


class MessageRefusalTests(PeopleCase):
    """What a refused private message says."""

    def test_an_unknown_recipient_is_quoted_in_part(self) -> None:
        nina = self.person("Nina")
        assert nina.say("/msg " + "z" * 50 + " hi") == (
            "Error: no user has the id or name '" + "z" * 40 + "'; nothing was"
            " sent.\r\n" + PROMPT
        )

    def test_the_full_mailbox_of_someone_offline(self) -> None:
        jose = self.registered("Jose")
        jose.say("6")
        nina = self.person("Nina")
        for n in range(100):
            nina.say(f"/msg jose {n}")
        assert nina.say("/msg jose one too many") == (
            "Error: the mailbox of jose is full; nothing was sent.\r\n" + PROMPT
        )

    def test_a_store_failing_to_read_mail_is_told_as_a_fault(self) -> None:
        from twisted.internet.defer import fail

        from menuchat.core import errors

        nina = self.person("Nina")
        self.patch(self.store, "take_mail", lambda user_id: fail(errors.UnknownUser(1)))
        assert nina.say("3") == (
            "Error: the server could not do that just now; nothing was changed.\r\n"
            + PROMPT
        )
        assert len(self.flushLoggedErrors(errors.UnknownUser)) == 1

    def test_a_store_failing_to_keep_a_message_later_is_told_as_a_fault(self) -> None:
        from twisted.internet.defer import Deferred

        from menuchat.core import errors

        nina = self.person("Nina")
        self.person("Jose")
        fault = (
            "Error: the server could not do that just now; nothing was changed.\r\n"
            + PROMPT
        )
        # A failure of the store, and a refusal the menu has no words for,
        # once the store answers: both a fault, both logged.
        with capturedLogs() as events:
            for error in (RuntimeError("disk"), errors.NotAllowed()):
                later: Deferred[int] = Deferred()
                self.patch(self.store, "deliver", lambda *args, d=later: d)
                assert nina.say("/msg jose hi") == ""  # the answer waits
                later.errback(error)
                assert nina.read() == fault
        assert [e["log_format"] for e in events if "log_failure" in e] == [
            "Request failed",
            "Request failed",
        ]
        assert len(self.flushLoggedErrors(RuntimeError, errors.NotAllowed)) == 2

    def test_a_recipient_the_store_finds_unknown_later_is_named(self) -> None:
        from twisted.internet.defer import Deferred

        nina = self.person("Nina")
        later: Deferred[None] = Deferred()
        self.patch(self.store, "find_account", lambda key: later)
        assert nina.say("/msg zed hi") == ""  # the answer waits for the store
        later.callback(None)
        assert nina.read() == (
            "Error: no user has the id or name 'zed'; nothing was sent.\r\n" + PROMPT
        )


class RoomLineLimitTests(PeopleCase):
    def test_a_long_line_in_a_room_is_refused_there(self) -> None:
        nina = self.person("Nina")
        nina.say("/create lobby")
        assert nina.say("x" * 3000) == (
            "Error: that line was longer than 2048 bytes and was discarded.\r\n"
        )
