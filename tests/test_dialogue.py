"""The dialogue, state by state: Sessions on a real Hub, text in and out."""

import time

import pytest

from menuchat.core.hub import Hub
from menuchat.frontends.menu import texts
from menuchat.frontends.menu.dialogue import Session, State, clean
from menuchat.store.memory import MemoryStore
from tests.support import resolved

STAMP = time.mktime((2019, 8, 5, 17, 45, 0, 0, 0, -1))


class Screen:
    """A session's Output: what the person at the other end would read."""

    def __init__(self):
        self.text = ""
        self.closed = False

    def write(self, text):
        assert not self.closed, "wrote after close"
        self.text += text

    def write_bytes(self, data):
        self.write(data.decode())

    def close(self):
        self.closed = True

    def logged_in(self, name, user_id):
        self.admitted = (name, user_id)

    def take(self):
        text, self.text = self.text, ""
        return text


@pytest.fixture
def chat():
    return Hub(
        MemoryStore(),
        now=lambda: STAMP,
        mailbox_size=2,
        max_rooms=5,
        max_room_members=3,
    )


def connect(chat):
    screen = Screen()
    session = Session(chat, screen)
    session.start()
    return session, screen


def person(chat, name):
    """A session logged in as C{name}, its screen cleared."""
    session, screen = connect(chat)
    session.line_received(name)
    screen.take()
    return session, screen


def test_greeting_ends_with_the_name_prompt():
    session, screen = connect(Hub(MemoryStore(), now=time.time))
    assert screen.text.endswith("Your id key (i.e your name): ")
    assert session.state is State.NAME


def test_login_shows_name_id_menu_and_prompt(chat):
    session, screen = connect(chat)
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
        "Your option <enter a number>: "
    )
    assert session.state is State.MENU
    assert screen.admitted == ("Nina", 1)


def test_name_is_stripped_of_surrounding_blanks(chat):
    session, screen = connect(chat)
    session.line_received("  Nina  ")
    assert "Client Name: Nina\r\n" in screen.text


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("", "cannot be empty"),
        ("   ", "cannot be empty"),
        ("two words", "cannot contain spaces"),
        ("\x1b[31mred", "control or format characters"),
        ("x" * 40, "at most 32 characters"),
        ("a:b", "cannot contain ',' or ':'"),
    ],
)
def test_bad_name_gets_a_reason_and_the_prompt_again(chat, line, reason):
    session, screen = connect(chat)
    screen.take()
    session.line_received(line)
    assert screen.text.startswith("Error: ")
    assert reason in screen.text
    assert screen.text.endswith("\r\nYour id key (i.e your name): ")
    assert session.state is State.NAME
    assert chat.users() == []


def test_taken_name_is_refused_then_another_accepted(chat):
    person(chat, "Nina")
    session, screen = connect(chat)
    screen.take()
    session.line_received("NINA")
    assert "taken" in screen.take()
    session.line_received("Jose")
    assert "Client ID: 2\r\n" in screen.text


def test_option_1_lists_everyone_as_name_colon_id(chat):
    nina, screen = person(chat, "Nina")
    person(chat, "Jose")
    nina.line_received("1")
    assert (
        screen.text
        == "Users in server: Nina:1, Jose:2\r\nYour option <enter a number>: "
    )


def test_option_2_sends_a_message(chat):
    nina, nina_screen = person(chat, "Nina")
    _jose, jose_screen = person(chat, "Jose")
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


def test_a_message_to_yourself_is_noted_without_a_second_prompt(chat):
    lou, screen = person(chat, "Lou")
    for line in ["2", "note to self"]:
        lou.line_received(line)
    screen.take()
    lou.line_received("1")
    assert screen.take() == (
        "New message from Lou:1 (1 unread). Choose option 3 to read it.\r\n"
        "Message sent!\r\nYour option <enter a number>: "
    )


def test_option_3_reads_messages_oldest_first_then_none(chat):
    nina, _ = person(chat, "Nina")
    jose, jose_screen = person(chat, "Jose")
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


@pytest.mark.parametrize(
    ("message", "recipient", "error"),
    [
        ("hello", "99", "no user has id 99"),
        ("hello", "abc", "is not a user id"),
        ("hello", "", "no recipient id given"),
        ("hello", "9" * 5000, "is not a user id"),
        ("hello", "-1", "is not a user id"),
        ("hello", "٣", "is not a user id"),
    ],
)
def test_option_2_errors_store_nothing_and_return_to_the_prompt(
    chat, message, recipient, error
):
    nina, screen = person(chat, "Nina")
    for line in ["2", message, recipient]:
        nina.line_received(line)
    text = screen.take()
    *_, last_line, prompt = text.split("\r\n")
    assert error in last_line.split("Error: ", 1)[1]
    assert prompt == "Your option <enter a number>: "
    assert nina.state is State.MENU
    assert resolved(chat.read_messages(nina.user)) == []


def test_option_2_empty_message_fails_before_asking_the_recipient(chat):
    nina, screen = person(chat, "Nina")
    nina.line_received("2")
    screen.take()
    nina.line_received("  ")
    assert screen.take() == (
        "Error: the message is empty; nothing was sent.\r\n"
        "Your option <enter a number>: "
    )
    assert nina.state is State.MENU


def test_option_2_full_mailbox(chat):
    nina, screen = person(chat, "Nina")
    jose, _ = person(chat, "Jose")
    for text in ["a", "b", "c"]:
        for line in ["2", text, "2"]:
            nina.line_received(line)
    assert "Error: the mailbox of user 2 is full; nothing was sent." in screen.text
    assert [m.text for m in resolved(chat.read_messages(jose.user))] == ["a", "b"]


def test_messages_are_cleaned_of_control_characters(chat):
    nina, _ = person(chat, "Nina")
    jose, jose_screen = person(chat, "Jose")
    for line in ["2", "\x1b[2Jhi\x07\u202e there\x08", "2"]:
        nina.line_received(line)
    jose_screen.take()
    jose.line_received("3")
    assert ": hi there (from: Nina)\r\n" in jose_screen.text
    assert "\x1b" not in jose_screen.text


def test_notice_while_typing_a_message_reprompts_that_prompt(chat):
    nina, _ = person(chat, "Nina")
    jose, jose_screen = person(chat, "Jose")
    jose.line_received("2")
    jose_screen.take()
    for line in ["2", "hi", "2"]:
        nina.line_received(line)
    assert jose_screen.take().endswith("read it.\r\nEnter your message: ")
    assert jose.state is State.MESSAGE_TEXT


def test_option_4_creates_and_enters_a_room(chat):
    nina, screen = person(chat, "Nina")
    nina.line_received("4")
    assert screen.take() == "Enter new chat room id: "
    nina.line_received("lobby")
    assert screen.take() == "Chat Room lobby\r\nType 'exit' to close the chat room.\r\n"
    assert nina.state is State.IN_ROOM
    assert chat.room("lobby").owner is nina.user


@pytest.mark.parametrize(
    ("room_id", "error"),
    [("", "cannot be empty"), ("a b", "cannot contain spaces"), ("lobby", "exists")],
)
def test_option_4_errors_return_to_the_prompt(chat, room_id, error):
    owner, _ = person(chat, "Owner")
    owner.line_received("4")
    owner.line_received("lobby")
    nina, screen = person(chat, "Nina")
    nina.line_received("4")
    screen.take()
    nina.line_received(room_id)
    text = screen.take()
    assert text.startswith("Error: ") and error in text
    assert text.endswith("\r\nYour option <enter a number>: ")
    assert nina.state is State.MENU


def room_of_two(chat):
    nina, nina_screen = person(chat, "Nina")
    jose, jose_screen = person(chat, "Jose")
    for line in ["4", "lobby"]:
        nina.line_received(line)
    for line in ["5", "Lobby"]:
        jose.line_received(line)
    return nina, nina_screen, jose, jose_screen


def test_option_5_joins_and_everyone_sees_it(chat):
    nina, nina_screen = person(chat, "Nina")
    jose, jose_screen = person(chat, "Jose")
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


def test_option_5_unknown_room(chat):
    nina, screen = person(chat, "Nina")
    nina.line_received("5")
    screen.take()
    nina.line_received("nowhere")
    assert screen.take() == (
        "Error: there is no chat room 'nowhere'.\r\nYour option <enter a number>: "
    )


def test_option_5_full_room(chat):
    owner, _ = person(chat, "Owner")
    for line in ["4", "r"]:
        owner.line_received(line)
    for name in ["a", "b"]:
        session, _ = person(chat, name)
        for line in ["5", "r"]:
            session.line_received(line)
    late, screen = person(chat, "late")
    for line in ["5", "r"]:
        late.line_received(line)
    assert "Error: chat room 'r' is full." in screen.text
    assert late.state is State.MENU


def test_room_lines_reach_every_member_including_the_sender(chat):
    _nina, nina_screen, jose, jose_screen = room_of_two(chat)
    nina_screen.take()
    jose_screen.take()
    jose.line_received("Hello")
    assert nina_screen.take() == "Jose> Hello\r\n"
    assert jose_screen.take() == "Jose> Hello\r\n"


def test_room_lines_are_cleaned_and_blank_ones_dropped(chat):
    _nina, nina_screen, jose, _ = room_of_two(chat)
    nina_screen.take()
    jose.line_received("\x1b]0;pwned\x07ok\r")
    jose.line_received("   ")
    assert nina_screen.take() == "Jose> ok\r\n"


def test_member_bye_leaves_and_returns_to_the_menu(chat):
    nina, nina_screen, jose, jose_screen = room_of_two(chat)
    nina_screen.take()
    jose_screen.take()
    jose.line_received("bye")
    assert jose_screen.take() == (
        "You left chat room lobby.\r\n" + texts.MENU + texts.OPTION_PROMPT
    )
    assert nina_screen.take() == "Jose disconnected from the chat.\r\n"
    assert jose.state is State.MENU
    assert nina.state is State.IN_ROOM


def test_owner_bye_and_member_exit_are_explained_not_said(chat):
    nina, nina_screen, jose, jose_screen = room_of_two(chat)
    nina_screen.take()
    jose_screen.take()
    nina.line_received("bye")
    jose.line_received("exit")
    assert nina_screen.take() == "You own this room: type 'exit' to close it.\r\n"
    assert jose_screen.take() == "Type 'bye' to leave this chat room.\r\n"
    assert (nina.state, jose.state) == (State.IN_ROOM, State.IN_ROOM)


def test_owner_exit_closes_the_room_for_everyone(chat):
    nina, nina_screen, jose, jose_screen = room_of_two(chat)
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
    assert chat.rooms() == []


def test_owner_dropping_closes_the_room(chat):
    nina, _, jose, jose_screen = room_of_two(chat)
    jose_screen.take()
    nina.connection_lost()
    assert jose_screen.take() == (
        "Chat room lobby closed: its owner disconnected.\r\n"
        + texts.MENU
        + texts.OPTION_PROMPT
    )
    assert jose.state is State.MENU


def test_member_dropping_is_announced(chat):
    _nina, nina_screen, jose, _ = room_of_two(chat)
    nina_screen.take()
    jose.connection_lost()
    assert nina_screen.take() == "Jose disconnected from the chat.\r\n"
    assert [u.name for u in chat.users()] == ["Nina"]


def test_option_6_says_goodbye_closes_and_forgets(chat):
    nina, screen = person(chat, "Nina")
    nina.line_received("6")
    assert screen.text == "Goodbye\r\n"
    assert screen.closed
    assert chat.users() == []
    nina.line_received("1")
    assert screen.text == "Goodbye\r\n"


def test_unknown_option_gets_an_error_and_the_prompt(chat):
    nina, screen = person(chat, "Nina")
    nina.line_received("7")
    assert screen.take() == (
        "Error: '7' is not an option. Enter a number from 1 to 6.\r\n"
        "Your option <enter a number>: "
    )
    nina.line_received("\x1b[Hx")
    assert "\x1b" not in screen.take()


def test_empty_line_at_the_menu_is_an_error_with_the_menu_again(chat):
    nina, screen = person(chat, "Nina")
    nina.line_received("  ")
    assert screen.take() == (
        "Error: no option given. Enter a number from 1 to 6:\r\n"
        + texts.MENU
        + texts.OPTION_PROMPT
    )


def test_line_too_long_is_an_error_with_the_prompt_again(chat):
    nina, screen = person(chat, "Nina")
    nina.line_too_long(2048)
    assert screen.take() == (
        "Error: that line was longer than 2048 bytes and was discarded.\r\n"
        "Your option <enter a number>: "
    )


def test_end_says_farewell_on_its_own_line_and_forgets(chat):
    nina, screen = person(chat, "Nina")
    nina.end(texts.IDLE_TIMEOUT)
    # The user sat at the option prompt: the farewell starts a new line.
    assert screen.text == "\r\n" + texts.IDLE_TIMEOUT
    assert screen.closed
    assert chat.users() == []


def test_farewell_in_a_room_needs_no_new_line(chat):
    nina, _ = person(chat, "Nina")
    for line in ["4", "den"]:
        nina.line_received(line)
    assert nina.farewell(texts.SHUTDOWN) == texts.SHUTDOWN


def test_room_ids_with_control_characters_are_refused_not_cleaned(chat):
    nina, screen = person(chat, "Nina")
    for line in ["4", "lob\x1b[1mby"]:
        nina.line_received(line)
    assert "cannot contain control or format characters" in screen.take()
    assert chat.rooms() == []


def test_a_notice_in_a_room_says_how_to_read_it(chat):
    nina, _ = person(chat, "Nina")
    jose, jose_screen = person(chat, "Jose")
    for line in ["4", "den"]:
        jose.line_received(line)
    jose_screen.take()
    for line in ["2", "hi", "2"]:
        nina.line_received(line)
    assert jose_screen.take() == (
        "New message from Nina:1 (1 unread). "
        "Leave the room, then choose option 3 to read it.\r\n"
    )


def test_sender_is_told_when_a_message_goes_unread(chat):
    nina, nina_screen = person(chat, "Nina")
    jose, _ = person(chat, "Jose")
    for line in ["2", "ping", "2"]:
        nina.line_received(line)
    nina_screen.take()
    jose.connection_lost()
    assert nina_screen.take() == (
        "\r\nYour message to Jose was not read: they disconnected. It said: ping\r\n"
        "Your option <enter a number>: "
    )


@pytest.mark.parametrize(
    ("raw", "cleaned"),
    [
        ("plain", "plain"),
        ("tab\there", "tab here"),
        ("\x1b[31mred\x1b[0m", "red"),
        ("bell\x07", "bell"),
        ("back\x08\x08", "back"),
        ("cr\rtrick", "crtrick"),
        ("bidi\u202eevil\u2066", "bidievil"),
        ("\x1b[2Jclear\x1b]0;title\x07 done", "clear done"),
        ("csi\x9b31m c1", "csi c1"),
        ("nul\x00", "nul"),
        ("del\x7f", "del"),
        ("line\u2028sep", "linesep"),
        ("emoji 🙂 ok", "emoji 🙂 ok"),
    ],
)
def test_clean(raw, cleaned):
    assert clean(raw) == cleaned
