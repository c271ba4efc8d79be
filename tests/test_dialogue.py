"""The dialogue, state by state: Sessions on a real Hub, text in and out."""

import time

from twisted.internet.defer import fail, maybeDeferred
from twisted.internet.task import Clock
from twisted.logger import LogLevel, capturedLogs, formatEvent
from twisted.trial.unittest import SynchronousTestCase

from menuchat.core.accounts import Accounts
from menuchat.core.hub import Hub
from menuchat.frontends.menu import texts
from menuchat.frontends.menu.dialogue import Session, State, clean
from menuchat.store import StoreError
from menuchat.store.memory import MemoryStore
from tests.support import Screen, resolved

STAMP = time.mktime((2019, 8, 5, 17, 45, 0, 0, 0, -1))


def connect(chat):
    screen = Screen()
    session = Session(chat, screen, Accounts(chat._store, Clock(), maybeDeferred))
    session.start()
    return session, screen


def person(chat, name):
    """A session logged in as C{name}, its screen cleared."""
    session, screen = connect(chat)
    session.line_received(name)
    screen.take()
    return session, screen


def room_of_two(chat):
    nina, nina_screen = person(chat, "Nina")
    jose, jose_screen = person(chat, "Jose")
    for line in ["4", "lobby"]:
        nina.line_received(line)
    for line in ["5", "Lobby"]:
        jose.line_received(line)
    return nina, nina_screen, jose, jose_screen


class DialogueCase(SynchronousTestCase):
    """Sessions on a hub with small limits and a fixed time."""

    def setUp(self):
        self.store = MemoryStore()
        self.chat = Hub(
            self.store,
            now=lambda: STAMP,
            mailbox_size=2,
            max_rooms=5,
            max_room_members=3,
        )


class LoginTests(DialogueCase):
    """The name prompt: names taken, refused and accepted."""

    def test_greeting_ends_with_the_name_prompt(self):
        session, screen = connect(Hub(MemoryStore(), now=time.time))
        assert screen.text.endswith("Your id key (i.e your name): ")
        assert session.state is State.NAME

    def test_login_shows_name_id_menu_and_prompt(self):
        session, screen = connect(self.chat)
        screen.take()
        session.line_received("Nina")
        assert screen.text == (
            "Successfully connected to server\r\n"
            "Client Name: Nina\r\n"
            "Client ID: 1\r\n"
            "****** TCP Message App ******\r\n"
            "Options Available:\r\n"
            "1. Get user list\r\n"
            "2. Send a message\r\n"
            "3. Get my messages\r\n"
            "4. Create a new chat room\r\n"
            "5. Join an existing chat room\r\n"
            "6. Disconnect from server\r\n"
            "7. List chat rooms\r\n"
            "8. My account\r\n"
            "Your option <enter a number>: "
        )
        assert session.state is State.MENU
        assert screen.admitted == ("Nina", 1)

    def test_name_is_stripped_of_surrounding_blanks(self):
        session, screen = connect(self.chat)
        session.line_received("  Nina  ")
        assert "Client Name: Nina\r\n" in screen.text

    def test_taken_name_is_refused_then_another_accepted(self):
        person(self.chat, "Nina")
        session, screen = connect(self.chat)
        screen.take()
        session.line_received("NINA")
        assert screen.take() == (
            "Error: the name 'NINA' is taken. Choose another.\r\n"
            "Your id key (i.e your name): "
        )
        session.line_received("Jose")
        assert "Client ID: 2\r\n" in screen.text

    def test_a_store_failing_at_login_is_a_fault_and_the_name_asked_again(self):
        self.patch(self.store, "find_account", lambda key: fail(OSError("disk")))
        session, screen = connect(self.chat)
        screen.take()
        with capturedLogs() as events:
            session.line_received("Nina")
        assert screen.take() == (
            "Error: the server could not do that just now; nothing was changed.\r\n"
            "Your id key (i.e your name): "
        )
        [failed] = [e for e in events if "log_failure" in e]
        assert failed["log_format"] == "Request failed"
        assert len(self.flushLoggedErrors(OSError)) == 1
        assert session.state is State.NAME and self.chat.users() == []

    def test_a_registered_user_without_mail_is_told_of_none(self):
        nina, screen = person(self.chat, "Nina")
        for line in ("8", "secret12", "secret12", "6"):
            nina.line_received(line)
        again, screen = connect(self.chat)
        again.line_received("Nina")
        screen.take()
        again.line_received("secret12")
        assert screen.take() == (
            "\r\nSuccessfully connected to server\r\nClient Name: Nina\r\n"
            "Client ID: 1\r\n" + texts.MENU + texts.OPTION_PROMPT
        )

    def assert_bad_name(self, line, reason):
        """C{line} is refused as a name with C{reason}, and asked again."""
        session, screen = connect(self.chat)
        screen.take()
        session.line_received(line)
        assert screen.text.startswith("Error: ")
        assert reason in screen.text
        assert screen.text.endswith("\r\nYour id key (i.e your name): ")
        assert session.state is State.NAME
        assert self.chat.users() == []

    def test_empty_name(self):
        self.assert_bad_name("", "cannot be empty")

    def test_blank_name(self):
        self.assert_bad_name("   ", "cannot be empty")

    def test_name_with_a_space(self):
        self.assert_bad_name("two words", "cannot contain spaces")

    def test_name_with_an_escape_sequence(self):
        self.assert_bad_name("\x1b[31mred", "control or format characters")

    def test_name_too_long(self):
        self.assert_bad_name("x" * 40, "at most 32 characters")

    def test_name_with_a_colon(self):
        self.assert_bad_name("a:b", "cannot contain ',' or ':'")


class MenuTests(DialogueCase):
    """The option prompt: the user list, goodbye and errors."""

    def test_option_1_lists_everyone_as_name_colon_id(self):
        nina, screen = person(self.chat, "Nina")
        person(self.chat, "Jose")
        nina.line_received("1")
        assert (
            screen.text
            == "Users in server: Nina:1, Jose:2\r\nYour option <enter a number>: "
        )

    def test_option_6_says_goodbye_closes_and_forgets(self):
        nina, screen = person(self.chat, "Nina")
        nina.line_received("6")
        assert screen.text == "Goodbye\r\n"
        assert screen.closed
        assert self.chat.users() == []
        nina.line_received("1")
        assert screen.text == "Goodbye\r\n"

    def test_a_logout_the_store_fails_is_logged_and_still_says_goodbye(self):
        nina, screen = person(self.chat, "Nina")
        self.patch(self.store, "drop_mail", lambda user_id: fail(OSError("disk")))
        with capturedLogs() as events:
            nina.line_received("6")
        assert screen.text == "Goodbye\r\n" and screen.closed
        assert self.chat.users() == []
        [failed] = [e for e in events if "log_failure" in e]
        assert failed["log_format"] == "Logout failed"
        assert len(self.flushLoggedErrors(OSError)) == 1

    def test_unknown_option_gets_an_error_and_the_prompt(self):
        nina, screen = person(self.chat, "Nina")
        nina.line_received("9")
        assert screen.take() == (
            "Error: '9' is not an option. Enter a number from 1 to 8.\r\n"
            "Your option <enter a number>: "
        )
        nina.line_received("\x1b[Hx")
        assert "\x1b" not in screen.take()
        nina.line_received("9" * 50)
        assert screen.take().startswith("Error: '" + "9" * 40 + "' is not")

    def test_option_7_lists_the_rooms(self):
        nina, screen = person(self.chat, "Nina")
        nina.line_received("7")
        assert screen.take() == texts.NO_ROOMS + texts.OPTION_PROMPT
        jose, _ = person(self.chat, "Jose")
        for line in ("4", "lobby"):
            jose.line_received(line)
        nina.line_received("7")
        assert screen.take() == "Chat rooms: lobby (1)\r\n" + texts.OPTION_PROMPT

    def test_empty_line_at_the_menu_is_an_error_with_the_menu_again(self):
        nina, screen = person(self.chat, "Nina")
        nina.line_received("  ")
        assert screen.take() == (
            "Error: no option given. Enter a number from 1 to 8:\r\n"
            + texts.MENU
            + texts.OPTION_PROMPT
        )

    def test_line_too_long_is_an_error_with_the_prompt_again(self):
        nina, screen = person(self.chat, "Nina")
        nina.line_too_long(2048)
        assert screen.take() == (
            "Error: that line was longer than 2048 bytes and was discarded.\r\n"
            "Your option <enter a number>: "
        )

    def test_a_line_too_long_at_a_password_prompt_shows_input_again(self):
        nina, screen = person(self.chat, "Nina")
        for lines in (["8"], ["8", "secret12"]):  # new password; again
            for line in lines:
                nina.line_received(line)
            assert screen.hidden is True
            nina.line_too_long(2048)
            assert screen.hidden is False
            assert screen.take().endswith(texts.OPTION_PROMPT)
        for line in ("8", "secret12", "secret12", "6"):
            nina.line_received(line)
        again, screen = connect(self.chat)
        again.line_received("Nina")
        assert screen.hidden is True  # the password prompt
        again.line_too_long(2048)
        assert screen.hidden is False
        assert screen.take().endswith(texts.NAME_PROMPT)


class MailTests(DialogueCase):
    """Options 2 and 3: private messages and the notices they cause."""

    def test_option_2_sends_a_message(self):
        nina, nina_screen = person(self.chat, "Nina")
        _jose, jose_screen = person(self.chat, "Jose")
        nina.line_received("2")
        assert nina_screen.take() == "Enter your message: "
        nina.line_received("Hello World!")
        assert nina_screen.take() == "Enter recipient id: "
        nina.line_received("2")
        assert nina_screen.take() == "Message sent!\r\nYour option <enter a number>: "
        assert nina.state is State.MENU
        assert jose_screen.take() == (
            "\r\nNew message from Nina:1 (1 unread). Choose option 3 to read it.\r\n"
            "Your option <enter a number>: "
        )

    def test_a_message_to_yourself_is_noted_without_a_second_prompt(self):
        lou, screen = person(self.chat, "Lou")
        for line in ["2", "note to self"]:
            lou.line_received(line)
        screen.take()
        lou.line_received("1")
        assert screen.take() == (
            "New message from Lou:1 (1 unread). Choose option 3 to read it.\r\n"
            "Message sent!\r\nYour option <enter a number>: "
        )

    def test_option_3_reads_messages_oldest_first_then_none(self):
        nina, _ = person(self.chat, "Nina")
        jose, jose_screen = person(self.chat, "Jose")
        for text in ["Hello World!", "again"]:
            for line in ["2", text, "2"]:
                nina.line_received(line)
        jose_screen.take()
        jose.line_received("3")
        assert jose_screen.take() == (
            "My messages:\r\n"
            "2019-08-05 17:45: Hello World! (from: Nina)\r\n"
            "2019-08-05 17:45: again (from: Nina)\r\n"
            "Your option <enter a number>: "
        )
        jose.line_received("3")
        assert jose_screen.take() == (
            "You have no messages.\r\nYour option <enter a number>: "
        )

    def test_option_2_empty_message_fails_before_asking_the_recipient(self):
        nina, screen = person(self.chat, "Nina")
        nina.line_received("2")
        screen.take()
        nina.line_received("  ")
        assert screen.take() == (
            "Error: the message is empty; nothing was sent.\r\n"
            "Your option <enter a number>: "
        )
        assert nina.state is State.MENU

    def test_option_2_full_mailbox(self):
        nina, screen = person(self.chat, "Nina")
        jose, _ = person(self.chat, "Jose")
        for text in ["a", "b", "c"]:
            for line in ["2", text, "2"]:
                nina.line_received(line)
        assert "Error: the mailbox of Jose is full; nothing was sent." in screen.text
        assert [m.text for m in resolved(self.chat.read_messages(jose.user))] == [
            "a",
            "b",
        ]

    def test_messages_are_cleaned_of_control_characters(self):
        nina, _ = person(self.chat, "Nina")
        jose, jose_screen = person(self.chat, "Jose")
        for line in ["2", "\x1b[2Jhi\x07\u202e there\x08", "2"]:
            nina.line_received(line)
        jose_screen.take()
        jose.line_received("3")
        assert ": hi there (from: Nina)\r\n" in jose_screen.text
        assert "\x1b" not in jose_screen.text

    def test_notice_while_typing_a_message_reprompts_that_prompt(self):
        nina, _ = person(self.chat, "Nina")
        jose, jose_screen = person(self.chat, "Jose")
        jose.line_received("2")
        jose_screen.take()
        for line in ["2", "hi", "2"]:
            nina.line_received(line)
        assert jose_screen.take().endswith("read it.\r\nEnter your message: ")
        assert jose.state is State.MESSAGE_TEXT

    def test_a_notice_in_a_room_says_how_to_read_it(self):
        nina, _ = person(self.chat, "Nina")
        jose, jose_screen = person(self.chat, "Jose")
        for line in ["4", "den"]:
            jose.line_received(line)
        jose_screen.take()
        for line in ["2", "hi", "2"]:
            nina.line_received(line)
        assert jose_screen.take() == (
            "New message from Nina:1 (1 unread). "
            "Leave the room, then choose option 3 to read it.\r\n"
        )

    def test_sender_is_told_when_a_message_goes_unread(self):
        nina, nina_screen = person(self.chat, "Nina")
        jose, _ = person(self.chat, "Jose")
        for line in ["2", "ping", "2"]:
            nina.line_received(line)
        nina_screen.take()
        jose.connection_lost()
        assert nina_screen.take() == (
            "\r\nYour message to Jose was not read: they disconnected. "
            "It said: ping\r\n"
            "Your option <enter a number>: "
        )

    def assert_send_fails(self, message, recipient, error):
        """Sending C{message} to C{recipient} fails with C{error}, storing
        nothing, back at the option prompt."""
        nina, screen = person(self.chat, "Nina")
        for line in ["2", message, recipient]:
            nina.line_received(line)
        text = screen.take()
        *_, last_line, prompt = text.split("\r\n")
        assert error in last_line.split("Error: ", 1)[1]
        assert prompt == "Your option <enter a number>: "
        assert nina.state is State.MENU
        assert resolved(self.chat.read_messages(nina.user)) == []

    def test_option_2_to_an_unknown_id(self):
        self.assert_send_fails("hello", "99", "no user has the id or name '99'")

    def test_option_2_to_a_word(self):
        self.assert_send_fails("hello", "abc", "no user has the id or name 'abc'")

    def test_option_2_to_no_one(self):
        self.assert_send_fails("hello", "", "no recipient id given")

    def test_option_2_to_a_huge_number(self):
        self.assert_send_fails("hello", "9" * 5000, "no user has the id or name '999")

    def test_option_2_to_a_negative_id(self):
        self.assert_send_fails("hello", "-1", "no user has the id or name '-1'")

    def test_option_2_to_a_non_ascii_digit(self):
        self.assert_send_fails("hello", "\u0663", "no user has the id or name '\u0663'")


class RoomTests(DialogueCase):
    """Options 4 and 5 and life in a room."""

    def test_option_4_creates_and_enters_a_room(self):
        nina, screen = person(self.chat, "Nina")
        nina.line_received("4")
        assert screen.take() == "Enter new chat room id: "
        nina.line_received("lobby")
        assert (
            screen.take()
            == "Chat Room lobby\r\nType 'exit' to close the chat room.\r\n"
        )
        assert nina.state is State.IN_ROOM
        assert self.chat.room("lobby").owner_id == nina.user.id

    def test_option_5_joins_and_everyone_sees_it(self):
        nina, nina_screen = person(self.chat, "Nina")
        jose, jose_screen = person(self.chat, "Jose")
        for line in ["4", "lobby"]:
            nina.line_received(line)
        nina_screen.take()
        jose.line_received("5")
        assert jose_screen.take() == "Enter chat room id to join: "
        jose.line_received("lobby")
        assert jose_screen.take() == (
            "Joined to chat room lobby\r\n"
            "Type 'bye' to exit this chat room.\r\n"
            "In this room: Nina, Jose\r\n"
        )
        assert nina_screen.take() == "Jose joined\r\n"
        assert jose.state is State.IN_ROOM

    def test_option_5_unknown_room(self):
        nina, screen = person(self.chat, "Nina")
        nina.line_received("5")
        screen.take()
        nina.line_received("nowhere")
        assert screen.take() == (
            "Error: there is no chat room 'nowhere'.\r\nYour option <enter a number>: "
        )

    def test_option_5_full_room(self):
        owner, _ = person(self.chat, "Owner")
        for line in ["4", "r"]:
            owner.line_received(line)
        for name in ["a", "b"]:
            session, _ = person(self.chat, name)
            for line in ["5", "r"]:
                session.line_received(line)
        late, screen = person(self.chat, "late")
        for line in ["5", "r"]:
            late.line_received(line)
        assert "Error: chat room 'r' is full." in screen.text
        assert late.state is State.MENU

    def test_room_lines_reach_every_member_including_the_sender(self):
        _nina, nina_screen, jose, jose_screen = room_of_two(self.chat)
        nina_screen.take()
        jose_screen.take()
        jose.line_received("Hello")
        assert nina_screen.take() == "Jose> Hello\r\n"
        assert jose_screen.take() == "Jose> Hello\r\n"

    def test_room_lines_are_cleaned_and_blank_ones_dropped(self):
        _nina, nina_screen, jose, _ = room_of_two(self.chat)
        nina_screen.take()
        jose.line_received("\x1b]0;pwned\x07ok\r")
        jose.line_received("   ")
        assert nina_screen.take() == "Jose> ok\r\n"

    def test_member_bye_leaves_and_returns_to_the_menu(self):
        nina, nina_screen, jose, jose_screen = room_of_two(self.chat)
        nina_screen.take()
        jose_screen.take()
        jose.line_received("bye")
        assert jose_screen.take() == (
            "You left chat room lobby.\r\n" + texts.MENU + texts.OPTION_PROMPT
        )
        assert nina_screen.take() == "Jose left the chat room.\r\n"
        assert jose.state is State.MENU
        assert nina.state is State.IN_ROOM

    def test_owner_bye_and_member_exit_are_explained_not_said(self):
        nina, nina_screen, jose, jose_screen = room_of_two(self.chat)
        nina_screen.take()
        jose_screen.take()
        nina.line_received("bye")
        jose.line_received("exit")
        assert nina_screen.take() == "You own this room: type 'exit' to close it.\r\n"
        assert jose_screen.take() == "Type 'bye' to leave this chat room.\r\n"
        assert (nina.state, jose.state) == (State.IN_ROOM, State.IN_ROOM)

    def test_owner_exit_closes_the_room_for_everyone(self):
        nina, nina_screen, jose, jose_screen = room_of_two(self.chat)
        nina_screen.take()
        jose_screen.take()
        nina.line_received("EXIT")
        assert nina_screen.take() == (
            "Chat room lobby is closed.\r\n" + texts.MENU + texts.OPTION_PROMPT
        )
        assert jose_screen.take() == (
            "Chat room lobby was closed by its owner.\r\n"
            + texts.MENU
            + texts.OPTION_PROMPT
        )
        assert (nina.state, jose.state) == (State.MENU, State.MENU)
        assert self.chat.rooms() == []

    def test_owner_dropping_closes_the_room(self):
        nina, _, jose, jose_screen = room_of_two(self.chat)
        jose_screen.take()
        nina.connection_lost()
        assert jose_screen.take() == (
            "Chat room lobby closed: its owner disconnected.\r\n"
            + texts.MENU
            + texts.OPTION_PROMPT
        )
        assert jose.state is State.MENU

    def test_member_dropping_is_announced(self):
        _nina, nina_screen, jose, _ = room_of_two(self.chat)
        nina_screen.take()
        jose.connection_lost()
        assert nina_screen.take() == "Jose disconnected from the chat.\r\n"
        assert [u.name for u in self.chat.users()] == ["Nina"]

    def test_end_says_farewell_on_its_own_line_and_forgets(self):
        nina, screen = person(self.chat, "Nina")
        nina.end(texts.IDLE_TIMEOUT)
        # The user sat at the option prompt: the farewell starts a new line.
        assert screen.text == "\r\n" + texts.IDLE_TIMEOUT
        assert screen.closed
        assert self.chat.users() == []

    def test_farewell_in_a_room_needs_no_new_line(self):
        nina, _ = person(self.chat, "Nina")
        for line in ["4", "den"]:
            nina.line_received(line)
        assert nina.farewell(texts.SHUTDOWN) == texts.SHUTDOWN

    def test_room_ids_with_control_characters_are_refused_not_cleaned(self):
        nina, screen = person(self.chat, "Nina")
        for line in ["4", "lob\x1b[1mby"]:
            nina.line_received(line)
        assert "cannot contain control or format characters" in screen.take()
        assert self.chat.rooms() == []

    def assert_create_fails(self, room_id, error):
        """Creating C{room_id} fails with C{error}, back at the option prompt."""
        owner, _ = person(self.chat, "Owner")
        owner.line_received("4")
        owner.line_received("lobby")
        nina, screen = person(self.chat, "Nina")
        nina.line_received("4")
        screen.take()
        nina.line_received(room_id)
        text = screen.take()
        assert text.startswith("Error: ") and error in text
        assert text.endswith("\r\nYour option <enter a number>: ")
        assert nina.state is State.MENU

    def test_option_4_empty_room_id(self):
        self.assert_create_fails("", "cannot be empty")

    def test_option_4_room_id_with_a_space(self):
        self.assert_create_fails("a b", "cannot contain spaces")

    def test_option_4_room_id_taken(self):
        self.assert_create_fails("lobby", "exists")


class CleanTests(SynchronousTestCase):
    """clean() keeps printable text and drops every control sequence."""

    def test_plain(self):
        assert clean("plain") == "plain"

    def test_tab(self):
        assert clean("tab\there") == "tab here"

    def test_csi_colours(self):
        assert clean("\x1b[31mred\x1b[0m") == "red"

    def test_bell(self):
        assert clean("bell\x07") == "bell"

    def test_backspace(self):
        assert clean("back\x08\x08") == "back"

    def test_carriage_return(self):
        assert clean("cr\rtrick") == "crtrick"

    def test_bidi_overrides(self):
        assert clean("bidi\u202eevil\u2066") == "bidievil"

    def test_clear_and_osc_title(self):
        assert clean("\x1b[2Jclear\x1b]0;title\x07 done") == "clear done"

    def test_c1_csi(self):
        assert clean("csi\x9b31m c1") == "csi c1"

    def test_nul(self):
        assert clean("nul\x00") == "nul"

    def test_delete(self):
        assert clean("del\x7f") == "del"

    def test_line_separator(self):
        assert clean("line\u2028sep") == "linesep"

    def test_emoji_kept(self):
        assert clean("emoji 🙂 ok") == "emoji 🙂 ok"


class FaultyStore(MemoryStore):
    """A memory store whose calls named in C{failing} fail (a server fault)."""

    def __init__(self):
        super().__init__()
        self.failing = set()
        #: What a failing call raises: a fault by default.
        self.error = RuntimeError("disk on fire")

    def _call(self, name, *args):
        if name in self.failing:
            return fail(self.error)
        return getattr(MemoryStore, name)(self, *args)

    def find_account(self, key):
        return self._call("find_account", key)

    def take_mail(self, user_id):
        return self._call("take_mail", user_id)

    def drop_mail(self, user_id):
        return self._call("drop_mail", user_id)


class StoreFaultTests(SynchronousTestCase):
    """A store that fails: the user is told nothing changed, the fault logged."""

    def setUp(self):
        self.store = FaultyStore()
        self.chat = Hub(self.store, now=lambda: STAMP)

    def logged(self, events):
        self.assertEqual(len(self.flushLoggedErrors(RuntimeError)), 1)
        return [formatEvent(e) for e in events]

    def test_a_fault_at_login_is_told_at_the_name_prompt(self):
        self.store.failing.add("find_account")
        session, screen = connect(self.chat)
        screen.take()
        with capturedLogs() as events:
            session.line_received("Nina")
        error = texts.ERROR.format(reason=texts.STORE_FAILED)
        self.assertEqual(screen.take(), error + texts.NAME_PROMPT)
        self.assertIn("Request failed", self.logged(events))
        self.assertEqual(self.chat.users(), [])

    def test_a_fault_at_the_menu_is_told_with_the_option_prompt(self):
        session, screen = person(self.chat, "Nina")
        self.store.failing.add("take_mail")
        with capturedLogs() as events:
            session.line_received("3")
        error = texts.ERROR.format(reason=texts.STORE_FAILED)
        self.assertEqual(screen.take(), error + texts.OPTION_PROMPT)
        self.assertIn("Request failed", self.logged(events))

    def test_a_store_that_cannot_answer_is_logged_in_one_line(self):
        # A store that is down fails every request: one warning line each,
        # not a traceback, and the user told as for any fault.
        session, screen = person(self.chat, "Nina")
        self.store.failing.add("take_mail")
        self.store.error = StoreError("chat.sqlite3: its process ended")
        with capturedLogs() as events:
            session.line_received("3")
        error = texts.ERROR.format(reason=texts.STORE_FAILED)
        self.assertEqual(screen.take(), error + texts.OPTION_PROMPT)
        self.assertEqual(
            [formatEvent(e) for e in events],
            ["Request failed: chat.sqlite3: its process ended"],
        )
        self.assertEqual([e["log_level"] for e in events], [LogLevel.warn])
        self.assertNotIn("log_failure", events[0])
        self.assertEqual(self.flushLoggedErrors(), [])

    def test_a_failed_logout_is_logged(self):
        session, _ = person(self.chat, "Nina")
        self.store.failing.add("drop_mail")
        with capturedLogs() as events:
            session.connection_lost()
        self.assertIn("Logout failed", self.logged(events))
        self.assertEqual(self.chat.users(), [])
