"""The menuchat client: a console joined to a server connection.

``menuchat-client [HOST PORT | --connect ENDPOINT]``, or
``python -m menuchat.client``. The server drives the dialogue: the client
prints its complete lines as they arrive, shows its prompt (the partial line
it sent without a line end) as the input prompt, and sends every line typed.

This module decides what is on the wire and what the user is shown, free of
any terminal: L{ServerStream} turns bytes into lines and a prompt,
L{MenuChatClientProtocol} is the connection, L{ChatClient} runs a whole
conversation against any L{Console}. The front ends (a line editor for a
terminal, plain lines for pipes) live in L{menuchat._console}.
"""

from __future__ import annotations

import argparse
import codecs
import re
import sys
from collections.abc import Callable, Sequence
from enum import Enum
from typing import Any, NoReturn, Protocol

import attrs
from twisted.internet import protocol, task
from twisted.internet.defer import Deferred
from twisted.internet.endpoints import (
    HostnameEndpoint,
    clientFromString,
    connectProtocol,
)
from twisted.internet.error import ConnectionDone
from twisted.internet.interfaces import (
    IDelayedCall,
    IReactorTime,
    IStreamClientEndpoint,
)
from twisted.python.failure import Failure

from menuchat import menu

__all__ = [
    "Arguments",
    "ChatClient",
    "Console",
    "ConsoleHandler",
    "Ending",
    "MenuChatClientProtocol",
    "ServerStream",
    "encode_line",
    "ending_for",
    "endpoint_for",
    "main",
    "parse_arguments",
    "parse_port",
    "printable",
    "run",
]

PROGRAM = "menuchat-client"
HOST_QUESTION = "Enter the server IP Address: "
PORT_QUESTION = "Enter the server port: "
NO_HOST = "Error: enter the server's IP address or host name."
BAD_PORT = "Error: the port is a number from 1 to 65535."
GOODBYE = menu.GOODBYE.rstrip()

# The prompts of the menuchat dialogue, which the client recognises where
# the bytes alone are ambiguous (see ServerStream).
KNOWN_PROMPTS = tuple(prompt for prompt in menu.PROMPTS.values() if prompt)

# Seconds of silence from the server, after the end of input, before the
# client closes; and the longest it waits however much the server says.
DEFAULT_LINGER = 2.0
MAX_LINGER = 30.0

# Exit status after Ctrl-C, as a shell reports a program ended by SIGINT.
INTERRUPTED = 130

_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")


def printable(text: str) -> str:
    """C{text} safe for a terminal: tabs expanded, other controls as U+FFFD.

    Nothing a server sends may move the user's cursor, ring the bell or
    start an escape sequence.
    """
    if "\t" in text:
        text = text.expandtabs(8)
    return _CONTROL.sub("\ufffd", text)


def encode_line(text: str) -> bytes:
    """C{text} as one line on the wire: UTF-8, ended by CRLF."""
    return text.replace("\r", "").replace("\n", "").encode("utf-8") + b"\r\n"


def _decode_partial(data: bytes) -> str:
    """Decode C{data}, leaving out a character whose last bytes are missing."""
    return codecs.getincrementaldecoder("utf-8")("replace").decode(data)


class ServerStream:
    """What a server sends, as complete lines and the current prompt.

    Lines end in LF, with or without a CR before it, and are decoded from
    UTF-8 only once whole, so a character split across reads is decoded
    when its last byte arrives. The bytes after the last line end are the
    prompt.

    Otherwise the bytes are taken as they come, as telnet would show them,
    with two exceptions for the dialogue's own prompts (L{KNOWN_PROMPTS}):
    a line that is nothing but one is a prompt finished, not a line (the
    server sends CRLF, a notice and the prompt again to a user sitting at a
    prompt), and one at the start of a longer line is split off it (lines
    typed ahead are answered before the reply reaches the client, so the
    reply arrives glued to its prompt: C{"Your option <enter a number>:
    Goodbye"}).

    @ivar prompt: the partial line, decoded and made L{printable}.
    @ivar said_goodbye: whether the last complete line was C{Goodbye}, the
        server's answer to option 6.
    """

    max_line_length = 65536

    def __init__(self) -> None:
        self._partial = b""
        self.prompt = ""
        self.said_goodbye = False

    def feed(self, data: bytes) -> list[str]:
        """Take one read's bytes; return the lines it completes, in order."""
        raw = (self._partial + data).split(b"\n")
        partial = raw.pop()
        while len(partial) > self.max_line_length:
            raw.append(partial[: self.max_line_length])
            partial = partial[self.max_line_length :]
        lines = [
            part
            for text in map(_render, raw)
            if text not in KNOWN_PROMPTS
            for part in _unglue(text)
        ]
        if lines:
            self.said_goodbye = lines[-1] == GOODBYE
        self._partial = partial
        self.prompt = printable(_decode_partial(partial.removesuffix(b"\r")))
        return lines

    def answer(self) -> None:
        """The user answered the prompt: what comes next starts a new line."""
        self._partial = b""
        self.prompt = ""

    def finish(self) -> list[str]:
        """The connection closed: the line left unfinished, unless a prompt."""
        partial, self._partial = self._partial, b""
        self.prompt = ""
        text = _render(partial)
        if not text or text in KNOWN_PROMPTS:
            return []
        return [text]


def _render(line: bytes) -> str:
    return printable(line.removesuffix(b"\r").decode("utf-8", "replace"))


def _unglue(line: str) -> list[str]:
    """C{line} with each known prompt at its start split off as a line."""
    parts = []
    while True:
        for prompt in KNOWN_PROMPTS:
            if line.startswith(prompt) and len(line) > len(prompt):
                parts.append(prompt)
                line = line[len(prompt) :]
                break
        else:
            parts.append(line)
            return parts


class MenuChatClientProtocol(protocol.Protocol):
    """The client's end of a connection to a menuchat server.

    @param show: called after each read that changes what the user sees,
        with the lines it completed and the prompt after them.
    @ivar closed: fires when the connection is lost, with the exception
        that says why (L{ConnectionDone} for a clean close).
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
        self.transport.write(encode_line(text))
        self.stream.answer()

    def connectionLost(self, reason: Failure = protocol.connectionDone) -> None:
        lines = self.stream.finish()
        if lines:
            self._show(lines, "")
        self.closed.callback(reason.value)


class Console(Protocol):
    """A front end: where the user reads the server and types lines."""

    def display(self, lines: Sequence[str], prompt: str) -> None:
        """Show C{lines} above the input line, then C{prompt} before it."""


class ConsoleHandler(Protocol):
    """What a console reports the user doing; L{ChatClient} implements it."""

    def line_entered(self, text: str) -> None:
        """The user typed a line."""

    def input_ended(self) -> None:
        """Input reached its end (a pipe was closed): finish gracefully."""

    def quit(self) -> None:
        """The user asked to leave now (Ctrl-D on an empty line)."""

    def interrupt(self) -> None:
        """The user pressed Ctrl-C."""


@attrs.frozen
class Ending:
    """How a run of the client ended: its exit status and a line for stderr."""

    status: int
    message: str


def ending_for(reason: BaseException, said_goodbye: bool, user_quit: bool) -> Ending:
    """How a conversation ended, from why its connection closed.

    Status 0 when the user left or the server closed after its C{Goodbye};
    1 when the server closed otherwise or the connection was lost.
    """
    if not isinstance(reason, ConnectionDone):
        return Ending(
            1, f"{PROGRAM}: connection to the server lost: {_describe(reason)}"
        )
    if user_quit:
        return Ending(0, "Disconnected.")
    if said_goodbye:
        return Ending(0, "The server closed the connection.")
    return Ending(1, f"{PROGRAM}: the server closed the connection.")


def _describe(reason: BaseException) -> str:
    return (str(reason) or type(reason).__name__).strip().rstrip(".")


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
    """

    max_linger = MAX_LINGER

    def __init__(
        self,
        clock: IReactorTime,
        endpoint: IStreamClientEndpoint | None = None,
        address: str = "",
        *,
        make_endpoint: Callable[[str, int], IStreamClientEndpoint] | None = None,
        linger: float = DEFAULT_LINGER,
    ) -> None:
        if endpoint is None and make_endpoint is None:
            raise ValueError("give an endpoint or a way to make one")
        self._clock = clock
        self._endpoint = endpoint
        self._address = address
        self._make_endpoint = make_endpoint
        self._linger = linger
        self._stage = _Stage.NEW
        self._console: Console | None = None
        self._answer: Deferred[str | None] | None = None
        self._connecting: Deferred[MenuChatClientProtocol] | None = None
        self._protocol: MenuChatClientProtocol | None = None
        self._pending: list[str] = []
        self._input_ended = False
        self._user_quit = False
        self._interrupted = False
        self._lingering: list[IDelayedCall] = []

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
        self._connecting = connectProtocol(endpoint, MenuChatClientProtocol(self._show))
        try:
            connection = await self._connecting
        except Exception as e:
            self._stage = _Stage.DONE
            if self._user_quit or self._interrupted:
                return self._gave_up("Connection cancelled.", status=0)
            return Ending(1, f"{PROGRAM}: cannot connect to {address}: {_describe(e)}")
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
        return ending_for(reason, connection.stream.said_goodbye, self._user_quit)

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
            self._protocol.transport.loseConnection()

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


# The command line


@attrs.frozen
class Arguments:
    """The command line, parsed: an address, an endpoint, or neither."""

    host: str | None = None
    port: int | None = None
    connect: str | None = None
    linger: float = DEFAULT_LINGER


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        """Say what is wrong on one line (argparse prints the usage too)."""
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def parse_port(text: str) -> int | None:
    """C{text} as a TCP port number, or L{None} if it is not one."""
    text = text.strip()
    if not (text.isascii() and text.isdigit()):
        return None
    port = int(text)
    return port if 1 <= port <= 65535 else None


def _port(text: str) -> int:
    port = parse_port(text)
    if port is None:
        raise argparse.ArgumentTypeError(f"bad port {text!r}: use 1 to 65535")
    return port


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 <= value <= MAX_LINGER:
        raise argparse.ArgumentTypeError(
            f"bad number of seconds {text!r}: use 0 to {MAX_LINGER:g}"
        )
    return value


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog=PROGRAM,
        description=(
            "Chat on a menuchat server. With no address, asks for the"
            " server's IP address and port."
        ),
        epilog=(
            "Examples: menuchat-client 127.0.0.1 12000;"
            " menuchat-client --connect tls:chat.example.org:12001."
            " In a terminal, Ctrl-D on an empty line leaves and Ctrl-C"
            " interrupts. With piped input the client sends every line, and"
            " at the end of input waits for the server to close the connection"
            " (or to be quiet for --linger seconds)."
        ),
    )
    parser.add_argument("host", nargs="?", metavar="HOST", help="server address")
    parser.add_argument(
        "port", nargs="?", type=_port, metavar="PORT", help="server TCP port"
    )
    parser.add_argument(
        "--connect",
        metavar="ENDPOINT",
        help=(
            "any Twisted client endpoint, e.g. tcp:host=127.0.0.1:port=12000"
            " or tls:HOST:PORT"
        ),
    )
    parser.add_argument(
        "--linger",
        type=_seconds,
        default=DEFAULT_LINGER,
        metavar="SECONDS",
        help=(
            "after the end of piped input, how long the server may stay quiet"
            f" before the client closes (default {DEFAULT_LINGER:g})"
        ),
    )
    return parser


def parse_arguments(argv: Sequence[str]) -> Arguments:
    """Parse the command line; a bad one exits with status 2 and one line."""
    parser = _parser()
    namespace = parser.parse_args(list(argv))
    if namespace.host is not None and namespace.port is None:
        parser.error("give both HOST and PORT")
    if namespace.connect is not None and namespace.host is not None:
        parser.error("give HOST PORT or --connect, not both")
    return Arguments(
        host=namespace.host,
        port=namespace.port,
        connect=namespace.connect,
        linger=namespace.linger,
    )


def endpoint_for(
    reactor: Any, arguments: Arguments
) -> tuple[IStreamClientEndpoint | None, str]:
    """The endpoint the command line names and how to name it in messages."""
    if arguments.connect is not None:
        try:
            endpoint = clientFromString(reactor, arguments.connect)
        except Exception as e:
            _parser().error(f"bad endpoint {arguments.connect!r}: {_describe(e)}")
        return endpoint, arguments.connect
    if arguments.host is not None and arguments.port is not None:
        endpoint = HostnameEndpoint(reactor, arguments.host, arguments.port)
        return endpoint, f"{arguments.host}:{arguments.port}"
    return None, ""


async def main(reactor: Any, *argv: str) -> None:
    """Run the client on this process's stdio; exits non-zero on failure."""
    from menuchat import _console

    arguments = parse_arguments(argv)
    endpoint, address = endpoint_for(reactor, arguments)
    client = ChatClient(
        reactor,
        endpoint,
        address,
        make_endpoint=lambda host, port: HostnameEndpoint(reactor, host, port),
        linger=arguments.linger,
    )
    ending = await _console.converse(reactor, client)
    sys.stderr.write(ending.message + "\n")
    sys.stderr.flush()
    if ending.status:
        raise SystemExit(ending.status)


def run() -> NoReturn:
    """The C{menuchat-client} console script."""
    task.react(main, sys.argv[1:])


if __name__ == "__main__":
    run()
