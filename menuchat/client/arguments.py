"""The client's command line: arguments, and the endpoint they name."""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from typing import Any, NoReturn, cast

import attrs
from twisted.internet.endpoints import HostnameEndpoint, clientFromString
from twisted.internet.interfaces import IStreamClientEndpoint

from menuchat.client.tls import load_trust_root, tls_endpoint

__all__ = [
    "DEFAULT_LINGER",
    "MAX_LINGER",
    "PROGRAM",
    "Arguments",
    "describe_error",
    "endpoint_for",
    "hostname_endpoint",
    "parse_arguments",
    "parse_port",
]

PROGRAM = "menuchat-client"

# Seconds of silence from the server, after the end of input, before the
# client closes; and the longest it waits however much the server says.
DEFAULT_LINGER = 2.0
MAX_LINGER = 30.0

# clientFromString has no annotations; this is its type.
_client_from_string: Callable[[Any, str], IStreamClientEndpoint] = clientFromString


def describe_error(reason: BaseException) -> str:
    """An exception as the tail of a one-line message."""
    return (str(reason) or type(reason).__name__).strip().rstrip(".")


@attrs.frozen
class Arguments:
    """The command line, parsed: an address, an endpoint, or neither."""

    host: str | None = None
    port: int | None = None
    connect: str | None = None
    linger: float = DEFAULT_LINGER
    cafile: str | None = None


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
            " menuchat-client --connect tls:chat.example.org:12001;"
            " menuchat-client --connect tls:chat.lan:12001 --cafile ca.pem."
            " In a terminal, Ctrl-D on an empty line leaves, Ctrl-C"
            " interrupts and Ctrl-Z suspends. With piped input the client"
            " sends every line, and at the end of input waits for the server"
            " to close the connection (or to be quiet for --linger seconds)."
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
        "--cafile",
        metavar="FILE",
        help=(
            "with --connect tls:HOST:PORT, trust the certificate authorities in"
            " this PEM file instead of the system's"
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
    if namespace.cafile is not None and namespace.connect is None:
        parser.error("--cafile needs --connect tls:HOST:PORT")
    return Arguments(
        host=namespace.host,
        port=namespace.port,
        connect=namespace.connect,
        linger=namespace.linger,
        cafile=namespace.cafile,
    )


def endpoint_for(
    reactor: Any, arguments: Arguments
) -> tuple[IStreamClientEndpoint | None, str]:
    """The endpoint the command line names and how to name it in messages."""
    if arguments.connect is not None and arguments.cafile is not None:
        try:
            trust_root = load_trust_root(arguments.cafile)
        except ValueError as e:
            _parser().error(f"bad --cafile: {e}")
        try:
            endpoint = tls_endpoint(reactor, arguments.connect, trust_root)
        except ValueError as e:
            _parser().error(f"bad endpoint {arguments.connect!r}: {e}")
        return endpoint, arguments.connect
    if arguments.connect is not None:
        try:
            endpoint = _client_from_string(reactor, arguments.connect)
        except Exception as e:
            _parser().error(f"bad endpoint {arguments.connect!r}: {describe_error(e)}")
        return endpoint, arguments.connect
    if arguments.host is not None and arguments.port is not None:
        endpoint = hostname_endpoint(reactor, arguments.host, arguments.port)
        return endpoint, f"{arguments.host}:{arguments.port}"
    return None, ""


def hostname_endpoint(reactor: Any, host: str, port: int) -> IStreamClientEndpoint:
    """A TCP endpoint for C{host} (a name or an address) and C{port}."""
    # HostnameEndpoint implements the interface; mypy needs the plugin for
    # zope interfaces to see that.
    return cast(IStreamClientEndpoint, HostnameEndpoint(reactor, host, port))
