"""The client's connection and its conversation, free of any terminal.

The server drives the dialogue: the client prints its complete lines as they
arrive, shows its prompt (the partial line it sent without a line end) as
the input prompt, and sends every line typed. L{MenuChatClientProtocol} is
the connection, L{ChatClient} runs a whole conversation against any
L{Console}, and L{main} is the program: its command line comes from
L{menuchat.client.arguments}, the server's bytes become lines in
L{menuchat.client.stream}, and L{menuchat.client.stdio} runs it on a front
end (L{menuchat.client.terminal}'s line editor, or L{menuchat.client.console}'s
plain lines for pipes).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from enum import Enum
from typing import Any, NoReturn, cast

import attrs
from twisted.internet import protocol, task
from twisted.internet.defer import Deferred
from twisted.internet.endpoints import connectProtocol
from twisted.internet.error import ConnectionDone
from twisted.internet.interfaces import IStreamClientEndpoint
from twisted.python.failure import Failure

from menuchat.client.arguments import (
    DEFAULT_LINGER,
    MAX_LINGER,
    PROGRAM,
    describe_error,
    endpoint_for,
    hostname_endpoint,
    parse_arguments,
    parse_port,
)
from menuchat.client.interfaces import (
    Console,
    ConsoleHandler,
    PendingCall,
    Timer,
    Wire,
)
from menuchat.client.stream import ServerStream, encode_line
from menuchat.client.tls import CertificateRejected, certificate_problem

__all__ = [
    "ChatClient",
    "Console",
    "ConsoleHandler",
    "Ending",
    "MenuChatClientProtocol",
    "PendingCall",
    "Timer",
    "Wire",
    "ending_for",
    "main",
    "run",
]

HOST_QUESTION = "Enter the server IP Address: "
PORT_QUESTION = "Enter the server port: "
NO_HOST = "Error: enter the server's IP address or host name."
BAD_PORT = "Error: the port is a number from 1 to 65535."

# Exit status after Ctrl-C, as a shell reports a program ended by SIGINT.
INTERRUPTED = 130

# connectProtocol has no annotations; this is its type.
_connect: Callable[
    [IStreamClientEndpoint, MenuChatClientProtocol],
    Deferred[MenuChatClientProtocol],
] = connectProtocol


class MenuChatClientProtocol(protocol.Protocol):
    """The client's end of a connection to a menuchat server.

    @param show: called after each read that changes what the user sees,
        with the lines it completed and the prompt after them.
    @ivar closed: fires when the connection is lost, with the exception
        that says why (L{ConnectionDone} for a clean close, a
        L{CertificateRejected} when TLS failed).
    """

    def __init__(self, show: Callable[[Sequence[str], str], None]) -> None:
        self.stream = ServerStream()
        self.closed: Deferred[BaseException] = Deferred()
        self._show = show

    def dataReceived(self, data: bytes) -> None:
        before = self.stream.prompt
        lines = self.stream.feed(data)
        if lines or self.stream.prompt != before:
            self._show(lines, self.stream.prompt)

    def send_line(self, text: str) -> None:
        """Send C{text} as a line, answering the prompt."""
        self._wire().write(encode_line(text))
        self.stream.answer()

    def close(self) -> None:
        """Close the connection; L{closed} fires once it is closed."""
        self._wire().loseConnection()

    def connectionLost(self, reason: Failure = protocol.connectionDone) -> None:
        lines = self.stream.finish()
        if lines:
            self._show(lines, "")
        why = reason.value if reason.value is not None else ConnectionDone()
        self.closed.callback(certificate_problem(why, self.transport) or why)

    def _wire(self) -> Wire:
        if self.transport is None:
            raise RuntimeError("not connected")
        return cast(Wire, self.transport)


@attrs.frozen
class Ending:
    """How a run of the client ended: its exit status and a line for stderr."""

    status: int
    message: str


def ending_for(
    reason: BaseException,
    said_goodbye: bool,
    user_quit: bool,
    cafile: str | None = None,
) -> Ending:
    """How a conversation ended, from why its connection closed.

    Status 0 when the user left or the server closed after its C{Goodbye};
    1 when the server closed otherwise, the connection was lost or TLS
    failed (C{cafile} is the C{--cafile} given, named when it did not hold
    the server's certificate authority).
    """
    if isinstance(reason, CertificateRejected):
        return Ending(1, f"{PROGRAM}: {reason.describe(cafile)}.")
    if not isinstance(reason, ConnectionDone):
        return Ending(
            1, f"{PROGRAM}: connection to the server lost: {describe_error(reason)}"
        )
    if user_quit:
        return Ending(0, "Disconnected.")
    if said_goodbye:
        return Ending(0, "The server closed the connection.")
    return Ending(1, f"{PROGRAM}: the server closed the connection.")


class _Stage(Enum):
    NEW = "new"
    ASKING = "asking"
    CONNECTING = "connecting"
    CONNECTED = "connected"
    DONE = "done"


class ChatClient:
    """One conversation: find the server, connect, pass lines both ways.

    Asks the user where the server is when it has no endpoint. Lines typed
    before the connection is made are sent once it is. At the end of input
    it waits for the server to close (a piped session ends with option 6)
    or to fall silent for C{linger} seconds, then closes.

    @param clock: times that wait.
    @param endpoint: where the server is, or L{None} to ask the user.
    @param address: how messages name C{endpoint}.
    @param make_endpoint: the endpoint for a host and port the user gave.
    @param cafile: the C{--cafile} C{endpoint} trusts, for messages.
    """

    max_linger = MAX_LINGER

    def __init__(
        self,
        clock: Timer,
        endpoint: IStreamClientEndpoint | None = None,
        address: str = "",
        *,
        make_endpoint: Callable[[str, int], IStreamClientEndpoint] | None = None,
        linger: float = DEFAULT_LINGER,
        cafile: str | None = None,
    ) -> None:
        if endpoint is None and make_endpoint is None:
            raise ValueError("give an endpoint or a way to make one")
        self._clock = clock
        self._endpoint = endpoint
        self._address = address
        self._make_endpoint = make_endpoint
        self._linger = linger
        self._cafile = cafile
        self._stage = _Stage.NEW
        self._console: Console | None = None
        self._answer: Deferred[str | None] | None = None
        self._connecting: Deferred[MenuChatClientProtocol] | None = None
        self._protocol: MenuChatClientProtocol | None = None
        self._pending: list[str] = []
        self._input_ended = False
        self._user_quit = False
        self._interrupted = False
        self._lingering: list[PendingCall] = []

    def run(self, console: Console) -> Deferred[Ending]:
        """Hold the conversation on C{console}; fires with how it ended."""
        if self._stage is not _Stage.NEW:
            raise RuntimeError("a ChatClient runs once")
        self._console = console
        return Deferred.fromCoroutine(self._converse())

    # ConsoleHandler

    def line_entered(self, text: str) -> None:
        if self._stage is _Stage.ASKING:
            self._reply(text)
        elif self._stage is _Stage.CONNECTING:
            self._pending.append(text)
        elif self._stage is _Stage.CONNECTED:
            self._send(text)

    def input_ended(self) -> None:
        self._input_ended = True
        if self._stage is _Stage.ASKING:
            self._reply(None)
        elif self._stage is _Stage.CONNECTED:
            self._start_lingering()

    def quit(self) -> None:
        self._user_quit = True
        self._end_now()

    def interrupt(self) -> None:
        self._interrupted = True
        self._end_now()

    # The conversation

    async def _converse(self) -> Ending:
        endpoint, address = self._endpoint, self._address
        if endpoint is None:
            answer = await self._ask_address()
            if answer is None:
                return self._gave_up(f"{PROGRAM}: no server address given.")
            host, port = answer
            assert self._make_endpoint is not None
            endpoint, address = self._make_endpoint(host, port), f"{host}:{port}"
        self._stage = _Stage.CONNECTING
        self._connecting = _connect(endpoint, MenuChatClientProtocol(self._show))
        try:
            connection = await self._connecting
        except Exception as e:
            self._stage = _Stage.DONE
            if self._user_quit or self._interrupted:
                return self._gave_up("Connection cancelled.", status=0)
            return Ending(
                1, f"{PROGRAM}: cannot connect to {address}: {describe_error(e)}"
            )
        finally:
            self._connecting = None
        self._protocol = connection
        self._stage = _Stage.CONNECTED
        pending, self._pending = self._pending, []
        for line in pending:
            self._send(line)
        if self._input_ended:
            self._start_lingering()
        reason = await connection.closed
        self._stage = _Stage.DONE
        self._stop_lingering()
        if self._interrupted:
            return Ending(INTERRUPTED, "Interrupted.")
        return ending_for(
            reason, connection.stream.said_goodbye, self._user_quit, self._cafile
        )

    async def _ask_address(self) -> tuple[str, int] | None:
        """Ask for the host and the port until both are valid, or input ends."""
        self._stage = _Stage.ASKING
        error = None
        while True:
            host = await self._ask(HOST_QUESTION, error)
            if host is None:
                return None
            host = host.strip()
            if host:
                break
            error = NO_HOST
        error = None
        while True:
            text = await self._ask(PORT_QUESTION, error)
            if text is None:
                return None
            port = parse_port(text)
            if port is not None:
                return host, port
            error = BAD_PORT

    def _ask(self, question: str, error: str | None) -> Deferred[str | None]:
        assert self._console is not None
        self._console.display([error] if error else [], question)
        self._answer = Deferred()
        return self._answer

    def _reply(self, text: str | None) -> None:
        answer, self._answer = self._answer, None
        if answer is not None:
            if text is not None:
                assert self._console is not None
                self._console.display([], "")
            answer.callback(text)

    def _gave_up(self, message: str, status: int = 1) -> Ending:
        if self._interrupted:
            return Ending(INTERRUPTED, "Interrupted.")
        return Ending(status, message)

    def _show(self, lines: Sequence[str], prompt: str) -> None:
        assert self._console is not None
        self._console.display(lines, prompt)
        if self._lingering:
            self._lingering[0].reset(self._linger)

    def _send(self, text: str) -> None:
        assert self._protocol is not None and self._console is not None
        had_prompt = bool(self._protocol.stream.prompt)
        self._protocol.send_line(text)
        if had_prompt:
            self._console.display([], "")

    def _end_now(self) -> None:
        if self._stage is _Stage.ASKING:
            self._reply(None)
        elif self._stage is _Stage.CONNECTING and self._connecting is not None:
            self._connecting.cancel()
        elif self._stage is _Stage.CONNECTED and self._protocol is not None:
            self._protocol.close()

    def _start_lingering(self) -> None:
        if not self._lingering:
            self._lingering = [
                self._clock.callLater(self._linger, self._linger_over),
                self._clock.callLater(self.max_linger, self._linger_over),
            ]

    def _stop_lingering(self) -> None:
        calls, self._lingering = self._lingering, []
        for call in calls:
            if call.active():
                call.cancel()

    def _linger_over(self) -> None:
        self._stop_lingering()
        self.quit()


async def main(reactor: Any, *argv: str) -> None:
    """Run the client on this process's stdio; exits non-zero on failure."""
    # The front ends need termios and conch; the conversation does not.
    from menuchat.client import stdio

    arguments = parse_arguments(argv)
    endpoint, address = endpoint_for(reactor, arguments)
    client = ChatClient(
        reactor,
        endpoint,
        address,
        make_endpoint=lambda host, port: hostname_endpoint(reactor, host, port),
        linger=arguments.linger,
        cafile=arguments.cafile,
    )
    ending = await stdio.converse(reactor, client)
    sys.stderr.write(ending.message + "\n")
    sys.stderr.flush()
    if ending.status:
        raise SystemExit(ending.status)


def run() -> NoReturn:
    """The C{menuchat-client} console script."""
    task.react(main, sys.argv[1:])
