"""The client's connection and conversation, and the whole program.

The tests that wire the client to a real server (in memory, over loopback
TCP, or as a child process) are together at the end of this module.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Callable, Iterator, Sequence

import pytest
import pytest_twisted
from twisted.internet import defer, protocol, reactor
from twisted.internet.address import IPv4Address
from twisted.internet.endpoints import TCP4ClientEndpoint, serverFromString
from twisted.internet.error import (
    ConnectionDone,
    ConnectionLost,
    ConnectionRefusedError,
)
from twisted.internet.interfaces import IProtocolFactory, IStreamClientEndpoint
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport, StringTransportWithDisconnection
from twisted.python.failure import Failure
from twisted.trial.unittest import SynchronousTestCase
from zope.interface import implementer

from menuchat.client import stdio
from menuchat.client.conversation import (
    HOST_QUESTION,
    INTERRUPTED,
    PORT_QUESTION,
    ChatClient,
    Ending,
    MenuChatClientProtocol,
    ending_for,
)
from menuchat.config import Limits
from tests.iosim_support import InMemoryEndpoint
from tests.support import make_factory

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TIMEOUT = 5
# A new Python process imports Twisted before it says anything.
PROCESS_TIMEOUT = 20

OPTION = "Your option <enter a number>: "
NAME = "Your id key (i.e your name): "


class RecordingConsole:
    """A console that keeps every line shown and the last prompt."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.prompt = ""
        self.calls: list[tuple[list[str], str]] = []

    def display(self, lines: Sequence[str], prompt: str) -> None:
        self.calls.append((list(lines), prompt))
        self.lines.extend(lines)
        self.prompt = prompt


@implementer(IStreamClientEndpoint)
class FakeEndpoint:
    """An endpoint whose connection attempts the test completes or fails."""

    def __init__(self) -> None:
        self.attempts: list[tuple[IProtocolFactory, defer.Deferred[object]]] = []

    def connect(self, factory: IProtocolFactory) -> defer.Deferred[object]:
        attempt: defer.Deferred[object] = defer.Deferred()
        self.attempts.append((factory, attempt))
        return attempt

    def succeed(
        self,
    ) -> tuple[MenuChatClientProtocol, StringTransportWithDisconnection]:
        factory, attempt = self.attempts.pop(0)
        client = factory.buildProtocol(IPv4Address("TCP", "127.0.0.1", 12000))
        assert isinstance(client, MenuChatClientProtocol)
        transport = StringTransportWithDisconnection()
        transport.protocol = client
        client.makeConnection(transport)
        attempt.callback(client)
        return client, transport

    def fail(self, reason: Exception) -> None:
        _, attempt = self.attempts.pop(0)
        attempt.errback(reason)


def sent(transport: StringTransport) -> bytes:
    data = transport.value()
    transport.clear()
    return data


class ProtocolTests(SynchronousTestCase):
    """L{MenuChatClientProtocol} shows what arrives and sends what is typed."""

    def test_shows_each_read_that_changes_something(self) -> None:
        shown: list[tuple[Sequence[str], str]] = []
        client = MenuChatClientProtocol(lambda *args: shown.append(args))
        client.makeConnection(StringTransport())
        client.dataReceived(b"Welcome to menuchat.\r\nJos")
        client.dataReceived(b"\xc3")  # half a character: nothing to show
        self.assertEqual(shown, [(["Welcome to menuchat."], "Jos")])
        client.dataReceived(b"\xa9 joined\r\n")
        self.assertEqual(shown[-1], (["Jos\u00e9 joined"], ""))

    def test_sends_a_line_and_answers_the_prompt(self) -> None:
        transport = StringTransport()
        client = MenuChatClientProtocol(lambda lines, prompt: None)
        client.makeConnection(transport)
        client.dataReceived(NAME.encode())
        client.send_line("Nina")
        self.assertEqual(transport.value(), b"Nina\r\n")
        self.assertEqual(client.stream.prompt, "")

    def test_close_fires_closed_with_the_reason(self) -> None:
        shown: list[tuple[Sequence[str], str]] = []
        client = MenuChatClientProtocol(lambda *args: shown.append(args))
        client.makeConnection(StringTransport())
        client.dataReceived(b"Goodbye")
        client.connectionLost(Failure(ConnectionDone()))
        self.assertEqual(shown[-1], (["Goodbye"], ""))
        self.assertIsInstance(self.successResultOf(client.closed), ConnectionDone)


class EndingTests(SynchronousTestCase):
    """L{ending_for} turns how the connection closed into an exit status."""

    def test_exit_status_from_how_the_connection_closed(self) -> None:
        cases: list[tuple[Exception, bool, bool, int]] = [
            (ConnectionDone(), True, False, 0),
            (ConnectionDone(), False, True, 0),
            (ConnectionDone(), False, False, 1),
            (ConnectionLost(), True, False, 1),
            (ConnectionLost(), False, True, 1),
        ]
        for reason, said_goodbye, user_quit, status in cases:
            ending = ending_for(reason, said_goodbye, user_quit)
            case = (reason, said_goodbye, user_quit)
            self.assertEqual(ending.status, status, case)
            self.assertNotIn("\n", ending.message)


class Run:
    """A ChatClient on a recording console, a fake endpoint and a clock."""

    def __init__(self, ask: bool = False, linger: float = 2.0) -> None:
        self.clock = Clock()
        self.endpoint = FakeEndpoint()
        self.made: list[tuple[str, int]] = []
        self.client = ChatClient(
            self.clock,
            None if ask else self.endpoint,
            "127.0.0.1:12000",
            make_endpoint=self.make_endpoint,
            linger=linger,
        )
        self.console = RecordingConsole()
        self.ending = self.client.run(self.console)

    def make_endpoint(self, host: str, port: int) -> IStreamClientEndpoint:
        self.made.append((host, port))
        return self.endpoint


class ConversationTests(SynchronousTestCase):
    """L{ChatClient}: the address, the connection, and how it ends."""

    def test_questions_until_a_valid_address_then_connect(self) -> None:
        run = Run(ask=True)
        self.assertEqual(run.console.prompt, HOST_QUESTION)
        run.client.line_entered("  ")
        self.assertEqual(
            run.console.calls[-1],
            (["Error: enter the server's IP address or host name."], HOST_QUESTION),
        )
        run.client.line_entered("127.0.0.1")
        self.assertEqual(run.console.prompt, PORT_QUESTION)
        run.client.line_entered("port")
        run.client.line_entered("70000")
        self.assertEqual(
            run.console.lines.count("Error: the port is a number from 1 to 65535."), 2
        )
        self.assertEqual(run.endpoint.attempts, [])
        run.client.line_entered(" 12000 ")
        self.assertEqual(run.made, [("127.0.0.1", 12000)])
        self.assertEqual(len(run.endpoint.attempts), 1)
        self.assertEqual(run.console.prompt, "")

    def test_end_of_input_during_the_questions(self) -> None:
        run = Run(ask=True)
        run.client.line_entered("127.0.0.1")
        run.client.input_ended()
        self.assertEqual(
            self.successResultOf(run.ending),
            Ending(1, "menuchat-client: no server address given."),
        )
        self.assertEqual(run.made, [])

    def test_ctrl_c_during_the_questions(self) -> None:
        run = Run(ask=True)
        run.client.interrupt()
        self.assertEqual(self.successResultOf(run.ending).status, INTERRUPTED)

    def test_lines_typed_while_connecting_are_sent_in_order(self) -> None:
        run = Run()
        run.client.line_entered("Nina")
        run.client.line_entered("1")
        _, transport = run.endpoint.succeed()
        self.assertEqual(transport.value(), b"Nina\r\n1\r\n")

    def test_server_output_reaches_the_console_and_lines_the_server(self) -> None:
        run = Run()
        server, transport = run.endpoint.succeed()
        server.dataReceived(f"Welcome to menuchat.\r\n{NAME}".encode())
        self.assertEqual(run.console.lines, ["Welcome to menuchat."])
        self.assertEqual(run.console.prompt, NAME)
        run.client.line_entered("Nina")
        self.assertEqual(sent(transport), b"Nina\r\n")
        self.assertEqual(run.console.prompt, "")

    def test_refused_connection_is_one_line_and_status_1(self) -> None:
        run = Run()
        run.endpoint.fail(ConnectionRefusedError("111: Connection refused"))
        result = self.successResultOf(run.ending)
        self.assertEqual(result.status, 1)
        self.assertTrue(
            result.message.startswith(
                "menuchat-client: cannot connect to 127.0.0.1:12000:"
                " Connection was refused"
            ),
            result.message,
        )
        self.assertNotIn("\n", result.message)

    def test_server_closing_after_goodbye_is_status_0(self) -> None:
        run = Run()
        server, transport = run.endpoint.succeed()
        server.dataReceived(b"Goodbye\r\n")
        transport.loseConnection()
        self.assertEqual(
            self.successResultOf(run.ending),
            Ending(0, "The server closed the connection."),
        )

    def test_server_closing_without_goodbye_is_status_1(self) -> None:
        run = Run()
        server, transport = run.endpoint.succeed()
        server.dataReceived(b"Error: the server is full; try again later.\r\n")
        transport.loseConnection()
        self.assertEqual(
            self.successResultOf(run.ending),
            Ending(1, "menuchat-client: the server closed the connection."),
        )

    def test_lost_connection_is_status_1(self) -> None:
        run = Run()
        server, _ = run.endpoint.succeed()
        server.dataReceived(b"Goodbye\r\n")
        server.connectionLost(Failure(ConnectionLost("reset by peer")))
        result = self.successResultOf(run.ending)
        self.assertEqual(result.status, 1)
        self.assertTrue(
            result.message.startswith(
                "menuchat-client: connection to the server lost:"
            ),
            result.message,
        )

    def test_quit_closes_the_connection_with_status_0(self) -> None:
        run = Run()
        _, transport = run.endpoint.succeed()
        run.client.quit()
        self.assertFalse(transport.connected)
        self.assertEqual(self.successResultOf(run.ending), Ending(0, "Disconnected."))

    def test_ctrl_c_closes_the_connection_with_status_130(self) -> None:
        run = Run()
        run.endpoint.succeed()
        run.client.interrupt()
        self.assertEqual(
            self.successResultOf(run.ending), Ending(INTERRUPTED, "Interrupted.")
        )

    def test_quit_while_connecting_cancels(self) -> None:
        run = Run()
        run.client.quit()
        self.assertEqual(
            self.successResultOf(run.ending), Ending(0, "Connection cancelled.")
        )

    def test_end_of_input_waits_for_the_server_to_close(self) -> None:
        run = Run(linger=2.0)
        server, transport = run.endpoint.succeed()
        run.client.line_entered("6")
        run.client.input_ended()
        run.clock.advance(1.5)
        self.assertTrue(transport.connected)
        server.dataReceived(b"Goodbye\r\n")
        transport.loseConnection()
        self.assertEqual(self.successResultOf(run.ending).status, 0)
        self.assertEqual(run.console.lines, ["Goodbye"])
        self.assertEqual(run.clock.getDelayedCalls(), [])

    def test_end_of_input_closes_once_the_server_is_quiet(self) -> None:
        run = Run(linger=2.0)
        run.client.input_ended()  # before the connection is made
        server, transport = run.endpoint.succeed()
        run.clock.advance(1.5)
        server.dataReceived(b"Nina> still talking\r\n")  # silence starts again
        run.clock.advance(1.5)
        self.assertTrue(transport.connected)
        run.clock.advance(0.5)
        self.assertFalse(transport.connected)
        self.assertEqual(self.successResultOf(run.ending), Ending(0, "Disconnected."))
        self.assertEqual(run.clock.getDelayedCalls(), [])

    def test_end_of_input_waits_no_longer_than_the_cap(self) -> None:
        run = Run(linger=2.0)
        server, transport = run.endpoint.succeed()
        run.client.input_ended()
        for _ in range(int(run.client.max_linger)):
            server.dataReceived(b"Nina> chatter\r\n")
            run.clock.advance(1)
        self.assertFalse(transport.connected)
        self.assertEqual(self.successResultOf(run.ending).status, 0)
        self.assertEqual(run.clock.getDelayedCalls(), [])


class PackageTests(SynchronousTestCase):
    """The client stands apart from the server's code."""

    def test_the_client_imports_only_the_menu_texts_of_the_server(self) -> None:
        script = (
            "import sys, menuchat.client, menuchat.client.stdio;"
            " print(' '.join(sorted(m for m in sys.modules"
            " if m.startswith('menuchat'))))"
        )
        result = subprocess.run(
            [sys.executable, "-c", script],
            capture_output=True,
            text=True,
            cwd=ROOT,
            env=dict(os.environ, PYTHONPATH=ROOT),
            timeout=PROCESS_TIMEOUT,
            check=True,
        )
        loaded = set(result.stdout.split())
        self.assertIn("menuchat.client.conversation", loaded)
        for server in ("core", "hub", "menu", "server", "protocol", "net"):
            self.assertNotIn(f"menuchat.{server}", loaded)
        allowed = {
            "menuchat",
            "menuchat.frontends",
            "menuchat.frontends.menu",
            "menuchat.frontends.menu.texts",
        }
        self.assertEqual(
            {name for name in loaded if not name.startswith("menuchat.client")},
            allowed,
        )


# Against the real server. These import it; everything above does not.


class InMemoryServerTests(SynchronousTestCase):
    """A L{ChatClient} and the real server's factory, joined in memory."""

    def test_login_and_option_1(self) -> None:
        clock = Clock()
        endpoint = InMemoryEndpoint(make_factory(clock, Limits()), clock)
        client = ChatClient(clock, endpoint, "memory")
        console = RecordingConsole()
        ending = client.run(console)
        self.assertEqual(console.lines[0], "Welcome to menuchat.")
        self.assertEqual(console.prompt, NAME)
        client.line_entered("Nina")
        endpoint.flush()
        self.assertIn("Successfully connected to server", console.lines)
        self.assertIn("Client Name: Nina", console.lines)
        self.assertEqual(console.lines[-1], "8. My account")
        self.assertEqual(console.prompt, OPTION)
        client.line_entered("1")
        endpoint.flush()
        self.assertEqual(console.lines[-1], "Users in server: Nina:1")
        self.assertEqual(console.prompt, OPTION)
        client.line_entered("6")
        endpoint.flush()
        self.assertEqual(console.lines[-1], "Goodbye")
        self.assertEqual(
            self.successResultOf(ending),
            Ending(0, "The server closed the connection."),
        )

    def test_a_whole_session_typed_ahead(self) -> None:
        clock = Clock()
        endpoint = InMemoryEndpoint(make_factory(clock, Limits()), clock)
        client = ChatClient(clock, endpoint, "memory")
        console = RecordingConsole()
        ending = client.run(console)
        for line in ("Nina", "1", "6"):
            client.line_entered(line)
        client.input_ended()
        endpoint.flush()
        self.assertIn("Users in server: Nina:1", console.lines)
        self.assertEqual(console.lines[-1], "Goodbye")
        self.assertEqual(self.successResultOf(ending).status, 0)
        self.assertEqual(clock.getDelayedCalls(), [])


# Over real TCP and real pipes, on the global reactor (pytest-twisted).


@pytest.fixture
def pipes() -> Iterator[Callable[[], tuple[int, int]]]:
    fds: list[int] = []

    def make() -> tuple[int, int]:
        read, write = os.pipe()
        fds.extend([read, write])
        return read, write

    yield make
    for fd in fds:
        with contextlib.suppress(OSError):
            os.close(fd)


@pytest_twisted.async_yield_fixture
async def server_port() -> AsyncIterator[int]:
    factory = make_factory(reactor, Limits(line_rate=0))
    port = await serverFromString(reactor, "tcp:0:interface=127.0.0.1").listen(factory)
    yield port.getHost().port
    await port.stopListening()
    await factory.admission.shutdown().addTimeout(TIMEOUT, reactor)


@pytest_twisted.ensureDeferred
async def test_plain_console_on_pipes_against_a_server(pipes, server_port):
    stdin, typing = pipes()
    reading, stdout = pipes()
    os.write(typing, b"Nina\n1\n6\n")
    os.close(typing)
    endpoint = TCP4ClientEndpoint(reactor, "127.0.0.1", server_port)
    client = ChatClient(reactor, endpoint, "here")
    ending = await defer.Deferred.fromCoroutine(
        stdio.converse(reactor, client, stdin, stdout)
    ).addTimeout(TIMEOUT, reactor)
    transcript = os.read(reading, 65536).decode()
    assert ending == Ending(0, "The server closed the connection.")
    assert "Users in server: Nina:" in transcript
    assert transcript.endswith(f"{OPTION}\nGoodbye\n")
    assert os.get_blocking(stdin) and os.get_blocking(stdout)


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
