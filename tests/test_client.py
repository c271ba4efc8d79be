"""The client: its wire logic alone, its conversation, its command line, its
two front ends, and the whole program against a real server."""

from __future__ import annotations

import contextlib
import os
import sys

import pytest
import pytest_twisted
from hypothesis import given
from hypothesis import strategies as st
from twisted.conch.insults import insults
from twisted.conch.insults.helper import TerminalBuffer
from twisted.internet import defer, protocol, reactor
from twisted.internet.address import IPv4Address
from twisted.internet.endpoints import (
    HostnameEndpoint,
    TCP4ClientEndpoint,
    serverFromString,
)
from twisted.internet.error import (
    ConnectionDone,
    ConnectionLost,
    ConnectionRefusedError,
)
from twisted.internet.interfaces import IStreamClientEndpoint
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport, StringTransportWithDisconnection
from twisted.python.failure import Failure
from zope.interface import implementer

from menuchat.client import console as _console
from menuchat.client.arguments import endpoint_for, parse_arguments
from menuchat.client.conversation import (
    HOST_QUESTION,
    INTERRUPTED,
    PORT_QUESTION,
    ChatClient,
    Ending,
    MenuChatClientProtocol,
    ending_for,
)
from menuchat.client.stream import (
    KNOWN_PROMPTS,
    ServerStream,
    encode_line,
    printable,
)
from menuchat.server import Limits, MenuChatFactory
from tests.iosim_support import InMemoryEndpoint

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TIMEOUT = 5
# A new Python process imports Twisted before it says anything.
PROCESS_TIMEOUT = 20

OPTION = "Your option <enter a number>: "
NAME = "Your id key (i.e your name): "
NOTICE = "New message from Bob:2 (1 unread). Choose option 3 to read it."


# Fakes


class RecordingConsole:
    """A console that keeps every line shown and the last prompt."""

    def __init__(self):
        self.lines = []
        self.prompt = ""
        self.calls = []

    def display(self, lines, prompt):
        self.calls.append((list(lines), prompt))
        self.lines.extend(lines)
        self.prompt = prompt


class RecordingHandler:
    """A console handler that keeps what the user did."""

    def __init__(self):
        self.lines = []
        self.events = []

    def line_entered(self, text):
        self.lines.append(text)

    def input_ended(self):
        self.events.append("input ended")

    def quit(self):
        self.events.append("quit")

    def interrupt(self):
        self.events.append("interrupt")


@implementer(IStreamClientEndpoint)
class FakeEndpoint:
    """An endpoint whose connection attempts the test completes or fails."""

    def __init__(self):
        self.attempts = []

    def connect(self, factory):
        attempt = defer.Deferred()
        self.attempts.append((factory, attempt))
        return attempt

    def succeed(self):
        factory, attempt = self.attempts.pop(0)
        client = factory.buildProtocol(IPv4Address("TCP", "127.0.0.1", 12000))
        transport = StringTransportWithDisconnection()
        transport.protocol = client
        client.makeConnection(transport)
        attempt.callback(client)
        return client, transport

    def fail(self, reason):
        _, attempt = self.attempts.pop(0)
        attempt.errback(reason)


def sent(transport):
    data = transport.value()
    transport.clear()
    return data


# The wire: lines, prompts, decoding


def test_complete_lines_and_the_prompt_after_them():
    stream = ServerStream()
    lines = stream.feed(b"Welcome to menuchat.\r\nsecond\n" + NAME.encode())
    assert lines == ["Welcome to menuchat.", "second"]
    assert stream.prompt == NAME


def test_a_line_split_across_reads_is_one_line():
    stream = ServerStream()
    assert stream.feed(b"Users in ser") == []
    assert stream.prompt == "Users in ser"
    assert stream.feed(b"ver: Nina:1\r") == []
    assert stream.prompt == "Users in server: Nina:1"
    assert stream.feed(b"\n") == ["Users in server: Nina:1"]
    assert stream.prompt == ""


def test_a_character_split_across_reads_is_decoded_whole():
    stream = ServerStream()
    data = "José> olá ☃\r\n".encode()
    cut = data.index(b"\xc3") + 1
    assert stream.feed(data[:cut]) == []
    assert stream.prompt == "Jos"
    assert stream.feed(data[cut:]) == ["José> olá ☃"]


def test_invalid_utf8_is_replaced_not_fatal():
    assert ServerStream().feed(b"bad \xff\xfe bytes\r\n") == ["bad \ufffd\ufffd bytes"]


@given(
    st.lists(
        st.text(
            st.characters(blacklist_categories=("Cs",), blacklist_characters="\r\n"),
            max_size=40,
        ),
        min_size=1,
        max_size=6,
    ),
    st.data(),
)
def test_any_split_of_the_stream_gives_the_same_lines(lines, data):
    wire = "".join(line + "\r\n" for line in lines).encode()
    cuts = sorted(data.draw(st.sets(st.integers(1, max(len(wire) - 1, 1)))))
    stream = ServerStream()
    got = []
    for start, end in zip([0, *cuts], [*cuts, len(wire)], strict=True):
        got.extend(stream.feed(wire[start:end]))
    # A line that is nothing but a prompt is the server finishing that
    # prompt before a notice: never shown as a line, however it arrives.
    shown = [printable(line) for line in lines]
    assert got == [line for line in shown if line not in KNOWN_PROMPTS]


def test_a_line_ending_like_a_prompt_split_before_its_end_is_kept():
    stream = ServerStream()
    assert stream.feed(b"Alice> ready: ") == []
    assert stream.feed(b"\r\n") == ["Alice> ready: "]


def test_a_notice_after_a_prompt_finishes_the_prompt():
    # The server sends CRLF, the notice and the prompt again to a user
    # sitting at a prompt.
    stream = ServerStream()
    stream.feed(OPTION.encode())
    assert stream.feed(f"\r\n{NOTICE}\r\n{OPTION}".encode()) == [NOTICE]
    assert stream.prompt == OPTION


def test_answering_the_prompt_starts_a_new_line():
    stream = ServerStream()
    stream.feed(OPTION.encode())
    stream.answer()
    assert stream.prompt == ""
    assert stream.feed(b"Users in server: Nina:1\r\n") == ["Users in server: Nina:1"]


def test_a_reply_glued_to_the_prompt_it_answers_is_split_off():
    # Lines typed ahead: the server answers them all in one write.
    stream = ServerStream()
    lines = stream.feed(f"{NAME}Client Name: Nina\r\n{OPTION}Goodbye\r\n".encode())
    assert lines == [NAME, "Client Name: Nina", OPTION, "Goodbye"]
    assert stream.said_goodbye


def test_goodbye_counts_only_as_the_last_line_on_its_own():
    stream = ServerStream()
    stream.feed(b"Goodbye\r\n")
    assert stream.said_goodbye
    stream.feed(b"Nina> Goodbye\r\n")
    assert not stream.said_goodbye
    stream.feed(b"Idle for too long. Goodbye\r\n")
    assert not stream.said_goodbye


def test_control_characters_never_reach_the_terminal():
    stream = ServerStream()
    lines = stream.feed(b"\x1b[2J\x07evil\x08\x9b\ta\r\n\x1b]0;title: ")
    assert lines == ["\ufffd[2J\ufffdevil\ufffd\ufffd     a"]
    assert stream.prompt == "\ufffd]0;title: "


def test_a_partial_line_without_end_is_cut_at_the_limit():
    stream = ServerStream()
    stream.max_line_length = 10
    assert stream.feed(b"x" * 25) == ["x" * 10, "x" * 10]
    assert stream.prompt == "x" * 5


def test_at_close_an_unfinished_line_is_kept_and_a_prompt_dropped():
    stream = ServerStream()
    stream.feed(b"Error: the server is full")
    assert stream.finish() == ["Error: the server is full"]
    stream.feed(OPTION.encode())
    assert stream.finish() == []


def test_lines_are_sent_in_utf8_with_crlf():
    assert encode_line("olá") == "olá\r\n".encode()
    assert encode_line("a\rb\nc") == b"abc\r\n"


# The connection


def test_protocol_shows_each_read_that_changes_something():
    shown = []
    client = MenuChatClientProtocol(lambda lines, prompt: shown.append((lines, prompt)))
    client.makeConnection(StringTransport())
    client.dataReceived(b"Welcome to menuchat.\r\nJos")
    client.dataReceived(b"\xc3")  # half a character: nothing to show
    assert shown == [(["Welcome to menuchat."], "Jos")]
    client.dataReceived(b"\xa9 joined\r\n")
    assert shown[-1] == (["Jos\u00e9 joined"], "")


def test_protocol_sends_a_line_and_answers_the_prompt():
    transport = StringTransport()
    client = MenuChatClientProtocol(lambda lines, prompt: None)
    client.makeConnection(transport)
    client.dataReceived(NAME.encode())
    client.send_line("Nina")
    assert transport.value() == b"Nina\r\n"
    assert client.stream.prompt == ""


def test_protocol_close_fires_closed_with_the_reason():
    shown = []
    client = MenuChatClientProtocol(lambda lines, prompt: shown.append((lines, prompt)))
    client.makeConnection(StringTransport())
    client.dataReceived(b"Goodbye")
    client.connectionLost(Failure(ConnectionDone()))
    assert shown[-1] == (["Goodbye"], "")
    assert isinstance(client.closed.result, ConnectionDone)


@pytest.mark.parametrize(
    ("reason", "said_goodbye", "user_quit", "status"),
    [
        (ConnectionDone(), True, False, 0),
        (ConnectionDone(), False, True, 0),
        (ConnectionDone(), False, False, 1),
        (ConnectionLost(), True, False, 1),
        (ConnectionLost(), False, True, 1),
    ],
)
def test_exit_status_from_how_the_connection_closed(
    reason, said_goodbye, user_quit, status
):
    ending = ending_for(reason, said_goodbye, user_quit)
    assert ending.status == status
    assert "\n" not in ending.message


# The conversation


class Run:
    """A ChatClient on a recording console, a fake endpoint and a clock."""

    def __init__(self, ask=False, **kwargs):
        self.clock = Clock()
        self.endpoint = FakeEndpoint()
        self.made = []
        self.client = ChatClient(
            self.clock,
            None if ask else self.endpoint,
            "127.0.0.1:12000",
            make_endpoint=self.make_endpoint,
            **kwargs,
        )
        self.console = RecordingConsole()
        self.ending = self.client.run(self.console)

    def make_endpoint(self, host, port):
        self.made.append((host, port))
        return self.endpoint


def test_questions_until_a_valid_address_then_connect():
    run = Run(ask=True)
    assert run.console.prompt == HOST_QUESTION
    run.client.line_entered("  ")
    assert run.console.calls[-1] == (
        ["Error: enter the server's IP address or host name."],
        HOST_QUESTION,
    )
    run.client.line_entered("127.0.0.1")
    assert run.console.prompt == PORT_QUESTION
    run.client.line_entered("port")
    run.client.line_entered("70000")
    assert run.console.lines.count("Error: the port is a number from 1 to 65535.") == 2
    assert not run.endpoint.attempts
    run.client.line_entered(" 12000 ")
    assert run.made == [("127.0.0.1", 12000)]
    assert len(run.endpoint.attempts) == 1
    assert run.console.prompt == ""


def test_end_of_input_during_the_questions():
    run = Run(ask=True)
    run.client.line_entered("127.0.0.1")
    run.client.input_ended()
    assert run.ending.result == Ending(1, "menuchat-client: no server address given.")
    assert run.made == []


def test_ctrl_c_during_the_questions():
    run = Run(ask=True)
    run.client.interrupt()
    assert run.ending.result.status == INTERRUPTED


def test_lines_typed_while_connecting_are_sent_in_order():
    run = Run()
    run.client.line_entered("Nina")
    run.client.line_entered("1")
    _, transport = run.endpoint.succeed()
    assert transport.value() == b"Nina\r\n1\r\n"


def test_server_output_reaches_the_console_and_lines_the_server():
    run = Run()
    server, transport = run.endpoint.succeed()
    server.dataReceived(f"Welcome to menuchat.\r\n{NAME}".encode())
    assert run.console.lines == ["Welcome to menuchat."]
    assert run.console.prompt == NAME
    run.client.line_entered("Nina")
    assert sent(transport) == b"Nina\r\n"
    assert run.console.prompt == ""


def test_refused_connection_is_one_line_and_status_1():
    run = Run()
    run.endpoint.fail(ConnectionRefusedError("111: Connection refused"))
    result = run.ending.result
    assert result.status == 1
    assert result.message.startswith(
        "menuchat-client: cannot connect to 127.0.0.1:12000: Connection was refused"
    )
    assert "\n" not in result.message


def test_server_closing_after_goodbye_is_status_0():
    run = Run()
    server, transport = run.endpoint.succeed()
    server.dataReceived(b"Goodbye\r\n")
    transport.loseConnection()
    assert run.ending.result == Ending(0, "The server closed the connection.")


def test_server_closing_without_goodbye_is_status_1():
    run = Run()
    server, transport = run.endpoint.succeed()
    server.dataReceived(b"Error: the server is full; try again later.\r\n")
    transport.loseConnection()
    assert run.ending.result == Ending(
        1, "menuchat-client: the server closed the connection."
    )


def test_lost_connection_is_status_1():
    run = Run()
    server, _ = run.endpoint.succeed()
    server.dataReceived(b"Goodbye\r\n")
    server.connectionLost(Failure(ConnectionLost("reset by peer")))
    assert run.ending.result.status == 1
    assert run.ending.result.message.startswith(
        "menuchat-client: connection to the server lost:"
    )


def test_quit_closes_the_connection_with_status_0():
    run = Run()
    _, transport = run.endpoint.succeed()
    run.client.quit()
    assert not transport.connected
    assert run.ending.result == Ending(0, "Disconnected.")


def test_ctrl_c_closes_the_connection_with_status_130():
    run = Run()
    run.endpoint.succeed()
    run.client.interrupt()
    assert run.ending.result == Ending(INTERRUPTED, "Interrupted.")


def test_quit_while_connecting_cancels():
    run = Run()
    run.client.quit()
    assert run.ending.result == Ending(0, "Connection cancelled.")


def test_end_of_input_waits_for_the_server_to_close():
    run = Run(linger=2.0)
    server, transport = run.endpoint.succeed()
    run.client.line_entered("6")
    run.client.input_ended()
    run.clock.advance(1.5)
    assert transport.connected
    server.dataReceived(b"Goodbye\r\n")
    transport.loseConnection()
    assert run.ending.result.status == 0
    assert run.console.lines == ["Goodbye"]
    assert run.clock.getDelayedCalls() == []


def test_end_of_input_closes_once_the_server_is_quiet():
    run = Run(linger=2.0)
    run.client.input_ended()  # before the connection is made
    server, transport = run.endpoint.succeed()
    run.clock.advance(1.5)
    server.dataReceived(b"Nina> still talking\r\n")  # silence starts again
    run.clock.advance(1.5)
    assert transport.connected
    run.clock.advance(0.5)
    assert not transport.connected
    assert run.ending.result == Ending(0, "Disconnected.")
    assert run.clock.getDelayedCalls() == []


def test_end_of_input_waits_no_longer_than_the_cap():
    run = Run(linger=2.0)
    server, transport = run.endpoint.succeed()
    run.client.input_ended()
    for _ in range(int(run.client.max_linger)):
        server.dataReceived(b"Nina> chatter\r\n")
        run.clock.advance(1)
    assert not transport.connected
    assert run.ending.result.status == 0
    assert run.clock.getDelayedCalls() == []


# In memory against the real server


def test_login_and_option_1_against_the_real_server():
    clock = Clock()
    endpoint = InMemoryEndpoint(MenuChatFactory(clock, Limits()), clock)
    client = ChatClient(clock, endpoint, "memory")
    console = RecordingConsole()
    ending = client.run(console)
    assert console.lines[0] == "Welcome to menuchat."
    assert console.prompt == NAME
    client.line_entered("Nina")
    endpoint.flush()
    assert "Successfully connected to server" in console.lines
    assert "Client Name: Nina" in console.lines
    assert console.lines[-1] == "6. Disconnect from server"
    assert console.prompt == OPTION
    client.line_entered("1")
    endpoint.flush()
    assert console.lines[-1] == "Users in server: Nina:1"
    assert console.prompt == OPTION
    client.line_entered("6")
    endpoint.flush()
    assert console.lines[-1] == "Goodbye"
    assert ending.result == Ending(0, "The server closed the connection.")


def test_a_whole_session_typed_ahead_against_the_real_server():
    clock = Clock()
    endpoint = InMemoryEndpoint(MenuChatFactory(clock, Limits()), clock)
    client = ChatClient(clock, endpoint, "memory")
    console = RecordingConsole()
    ending = client.run(console)
    for line in ("Nina", "1", "6"):
        client.line_entered(line)
    client.input_ended()
    endpoint.flush()
    assert "Users in server: Nina:1" in console.lines
    assert console.lines[-1] == "Goodbye"
    assert ending.result.status == 0
    assert clock.getDelayedCalls() == []


# The command line


def test_host_and_port():
    arguments = parse_arguments(["127.0.0.1", "12000"])
    assert (arguments.host, arguments.port, arguments.connect) == (
        "127.0.0.1",
        12000,
        None,
    )
    endpoint, address = endpoint_for(reactor, arguments)
    assert isinstance(endpoint, HostnameEndpoint)
    assert address == "127.0.0.1:12000"


def test_connect_takes_any_client_endpoint():
    arguments = parse_arguments(["--connect", "tcp:host=127.0.0.1:port=12000"])
    endpoint, address = endpoint_for(reactor, arguments)
    assert isinstance(endpoint, TCP4ClientEndpoint)
    assert address == "tcp:host=127.0.0.1:port=12000"


def test_no_address_means_asking():
    arguments = parse_arguments([])
    assert endpoint_for(reactor, arguments) == (None, "")
    assert arguments.linger == 2.0


@pytest.mark.parametrize(
    ("argv", "complaint"),
    [
        (["127.0.0.1"], "give both HOST and PORT"),
        (["127.0.0.1", "http"], "bad port 'http'"),
        (["127.0.0.1", "0"], "bad port '0'"),
        (["127.0.0.1", "12000", "--connect", "tcp:x:1"], "not both"),
        (["--bogus"], "unrecognized arguments: --bogus"),
        (["--linger", "-1"], "bad number of seconds"),
        (["a", "1", "extra"], "unrecognized arguments: extra"),
    ],
)
def test_bad_arguments_are_a_one_line_usage_error(argv, complaint, capsys):
    with pytest.raises(SystemExit) as exit:
        parse_arguments(argv)
    assert exit.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith("menuchat-client: error: ")
    assert complaint in err


def test_a_bad_endpoint_is_a_one_line_usage_error(capsys):
    arguments = parse_arguments(["--connect", "nonsense:whatever"])
    with pytest.raises(SystemExit) as exit:
        endpoint_for(reactor, arguments)
    assert exit.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "bad endpoint 'nonsense:whatever'" in err


def test_help(capsys):
    with pytest.raises(SystemExit) as exit:
        parse_arguments(["--help"])
    assert exit.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: menuchat-client")
    assert "--connect ENDPOINT" in out


# The plain console


def plain_console(handler=None):
    console = _console.PlainConsole(handler or RecordingHandler())
    transport = StringTransport()
    console.makeConnection(transport)
    return console, transport


def test_plain_console_sends_each_input_line():
    handler = RecordingHandler()
    console, transport = plain_console(handler)
    console.dataReceived(b"Nina\r\n1\nol")
    console.dataReceived("á\nno end".encode())
    assert handler.lines == ["Nina", "1", "olá"]
    console.readConnectionLost()
    assert handler.lines[-1] == "no end"
    assert handler.events == ["input ended"]
    assert not transport.disconnecting  # stdout stays open for the server


def test_plain_console_transcript():
    console, transport = plain_console()
    console.display(["Welcome to menuchat."], NAME)
    console.display([], "")  # the user answered
    console.display(["Client Name: Nina"], "Your opt")
    console.display(["Your option <enter a number>: ?"], OPTION)  # completed
    console.display([NOTICE], OPTION)  # the prompt was interrupted
    console.close()
    assert transport.value().decode() == (
        f"Welcome to menuchat.\n{NAME}\nClient Name: Nina\n"
        f"Your option <enter a number>: ?\n{OPTION}\n{NOTICE}\n{OPTION}\n"
    )
    assert transport.disconnecting


def test_plain_console_closed_stdout_quits():
    handler = RecordingHandler()
    console, _ = plain_console(handler)
    console.writeConnectionLost()
    assert handler.events == ["quit"]


@pytest.fixture
def pipes():
    fds = []

    def make():
        read, write = os.pipe()
        fds.extend([read, write])
        return read, write

    yield make
    for fd in fds:
        with contextlib.suppress(OSError):
            os.close(fd)


@pytest_twisted.async_yield_fixture
async def server_port():
    factory = MenuChatFactory(reactor, Limits(line_rate=0))
    port = await serverFromString(reactor, "tcp:0:interface=127.0.0.1").listen(factory)
    yield port.getHost().port
    await port.stopListening()
    await factory.shutdown().addTimeout(TIMEOUT, reactor)


@pytest_twisted.ensureDeferred
async def test_plain_console_on_pipes_against_a_server(pipes, server_port):
    stdin, typing = pipes()
    reading, stdout = pipes()
    os.write(typing, b"Nina\n1\n6\n")
    os.close(typing)
    endpoint = TCP4ClientEndpoint(reactor, "127.0.0.1", server_port)
    client = ChatClient(reactor, endpoint, "here")
    ending = await defer.Deferred.fromCoroutine(
        _console.converse(reactor, client, stdin, stdout)
    ).addTimeout(TIMEOUT, reactor)
    transcript = os.read(reading, 65536).decode()
    assert ending == Ending(0, "The server closed the connection.")
    assert "Users in server: Nina:" in transcript
    assert transcript.endswith(f"{OPTION}\nGoodbye\n")
    assert os.get_blocking(stdin) and os.get_blocking(stdout)


# The terminal console


def terminal_console(handler=None):
    screen = TerminalBuffer()
    screen.makeConnection(StringTransport())
    screen.write(b"$ menuchat-client\n")
    console = _console.TerminalConsole(handler or RecordingHandler())
    console.makeConnection(screen)
    return console, screen


def rows(screen):
    return bytes(screen).decode("ascii").split("\n")


def type_keys(console, keys):
    for key in keys:
        if isinstance(key, str):
            for byte in key.encode():
                console.keystrokeReceived(bytes([byte]), None)
        else:
            console.keystrokeReceived(key, None)


def test_terminal_starts_where_the_cursor_is_without_clearing():
    console, screen = terminal_console()
    console.display([], NAME)
    assert rows(screen)[:2] == ["$ menuchat-client", NAME]
    assert screen.reportCursorPosition() == (len(NAME), 1)


def test_arriving_lines_go_above_the_half_typed_line():
    console, screen = terminal_console()
    console.display([], OPTION)
    type_keys(console, ["12"])
    console.display([NOTICE, "Bob> hi"], OPTION)
    assert rows(screen)[1:4] == [NOTICE, "Bob> hi", OPTION + "12"]
    assert screen.reportCursorPosition() == (len(OPTION) + 2, 3)
    type_keys(console, ["3"])
    assert rows(screen)[3] == OPTION + "123"


def test_the_cursor_stays_inside_the_half_typed_line():
    console, screen = terminal_console()
    type_keys(console, ["abcd", screen.LEFT_ARROW, screen.LEFT_ARROW])
    console.display(["Bob> hi"], "")
    assert rows(screen)[1:3] == ["Bob> hi", "abcd"]
    assert screen.reportCursorPosition() == (2, 2)
    type_keys(console, ["X"])
    assert rows(screen)[2] == "abXcd"


def test_a_wrapped_input_line_is_erased_whole():
    console, screen = terminal_console()
    console.display([], OPTION)
    typed = "w" * 100
    type_keys(console, [typed])
    console.display(["Bob> hi"], OPTION)
    screen_rows = rows(screen)
    first = 80 - len(OPTION)
    assert screen_rows[1:4] == ["Bob> hi", OPTION + typed[:first], typed[first:]]
    assert screen.reportCursorPosition() == ((len(OPTION) + 100) % 80, 3)


def test_a_new_prompt_replaces_the_old_one():
    console, screen = terminal_console()
    console.display([], "Your opt")
    console.display([], OPTION)
    assert rows(screen)[1] == OPTION


def test_return_sends_the_line_and_leaves_it_on_screen():
    handler = RecordingHandler()
    console, screen = terminal_console(handler)
    console.display([], OPTION)
    type_keys(console, ["1", b"\r"])
    assert handler.lines == ["1"]
    console.display(["Users in server: Nina:1"], OPTION)
    assert rows(screen)[1:4] == [
        OPTION + "1",
        "Users in server: Nina:1",
        OPTION,
    ]


def test_utf8_keys_make_whole_characters():
    handler = RecordingHandler()
    console, screen = terminal_console(handler)
    type_keys(console, ["olé☃", screen.LEFT_ARROW, b"\x7f", b"\r"])
    assert handler.lines == ["ol☃"]


def test_history_recalls_a_line():
    handler = RecordingHandler()
    console, screen = terminal_console(handler)
    type_keys(console, ["olé", b"\r", screen.UP_ARROW, b"\r"])
    assert handler.lines == ["olé", "olé"]


def test_ctrl_d_deletes_or_quits_and_ctrl_c_interrupts():
    handler = RecordingHandler()
    console, screen = terminal_console(handler)
    type_keys(console, ["ab", screen.LEFT_ARROW, b"\x04"])
    assert console.lineBuffer == [b"a"]
    assert handler.events == []
    type_keys(console, [b"\x15", b"\x04"])  # Ctrl-U empties the line
    assert handler.events == ["quit"]
    type_keys(console, [b"\x03"])
    assert handler.events == ["quit", "interrupt"]


def test_control_keys_are_not_typed():
    handler = RecordingHandler()
    console, _ = terminal_console(handler)
    type_keys(console, [b"\x0b", b"\x1b", "a", b"\t", b"\r"])
    assert handler.lines == ["a"]


def test_close_clears_the_input_line_and_insert_mode():
    handler = RecordingHandler()
    console, screen = terminal_console(handler)
    console.display(["last line"], OPTION)
    type_keys(console, ["half"])
    assert screen.modes.get(insults.modes.IRM)
    console.close()
    assert rows(screen)[1:3] == ["last line", ""]
    assert not screen.modes.get(insults.modes.IRM)
    assert screen.transport.disconnecting
    console.connectionLost(Failure(ConnectionDone()))
    assert console.when_closed.called
    assert handler.events == []


def test_a_lost_terminal_quits():
    handler = RecordingHandler()
    console, _ = terminal_console(handler)
    console.connectionLost(Failure(ConnectionDone()))
    assert handler.events == ["quit"]


# The program


class Process(protocol.ProcessProtocol):
    """Feeds a child its stdin, keeps its stdout and stderr, and its status."""

    def __init__(self, stdin):
        self.stdin = stdin
        self.out = b""
        self.err = b""
        self.ended = defer.Deferred()

    def connectionMade(self):
        self.transport.write(self.stdin)
        self.transport.closeStdin()

    def outReceived(self, data):
        self.out += data

    def errReceived(self, data):
        self.err += data

    def processEnded(self, reason):
        self.ended.callback(reason.value.exitCode)


async def run_program(stdin, *argv):
    child = Process(stdin)
    env = dict(os.environ, PYTHONPATH=ROOT)
    args = [sys.executable, "-m", "menuchat.client", *argv]
    reactor.spawnProcess(child, sys.executable, args, env=env, path=ROOT)
    status = await child.ended.addTimeout(PROCESS_TIMEOUT, reactor)
    return status, child.out.decode(), child.err.decode()


@pytest_twisted.ensureDeferred
async def test_program_with_piped_session(server_port):
    status, out, err = await run_program(
        b"Nina\n1\n6\n", "--connect", f"tcp:host=127.0.0.1:port={server_port}"
    )
    assert "Client Name: Nina" in out
    assert "Users in server: Nina:" in out
    assert out.endswith("Goodbye\n")
    assert err == "The server closed the connection.\n"
    assert status == 0


@pytest_twisted.ensureDeferred
async def test_program_asks_for_the_address(server_port):
    status, out, _ = await run_program(f"127.0.0.1\n{server_port}\nAda\n6\n".encode())
    assert out.startswith(f"{HOST_QUESTION}\n{PORT_QUESTION}\nWelcome to menuchat.\n")
    assert "Client Name: Ada" in out
    assert status == 0


@pytest_twisted.ensureDeferred
async def test_program_closes_after_the_end_of_input(server_port):
    status, out, err = await run_program(
        b"Nina\n1\n", "127.0.0.1", str(server_port), "--linger", "0.2"
    )
    assert "Users in server: Nina:" in out
    assert out.endswith(f"{OPTION}\n")
    assert err == "Disconnected.\n"
    assert status == 0


@pytest_twisted.ensureDeferred
async def test_program_refused_connection():
    port = await serverFromString(reactor, "tcp:0:interface=127.0.0.1").listen(
        protocol.Factory.forProtocol(protocol.Protocol)
    )
    number = port.getHost().port
    await port.stopListening()
    status, out, err = await run_program(b"", "127.0.0.1", str(number))
    assert err.startswith(f"menuchat-client: cannot connect to 127.0.0.1:{number}: ")
    assert err.count("\n") == 1
    assert "Traceback" not in err
    assert out == ""
    assert status == 1


@pytest_twisted.ensureDeferred
async def test_program_usage_error():
    status, _, err = await run_program(b"", "--port", "1")
    assert err.count("\n") == 1
    assert err.startswith("menuchat-client: error: unrecognized arguments: --port")
    assert status == 2
