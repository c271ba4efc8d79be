"""Listening on the server's endpoints, and saying in one sentence why not.

A L{Listener} binds its endpoint in C{privilegedStartService}, as twistd
expects (so a port below 1024 can be bound before privileges are shed),
and a failure to bind becomes a L{CannotListen} whose message names the
option and the problem: no traceback for a busy port or a typo.
"""

from __future__ import annotations

import errno
import re
import socket

from twisted.application.service import Service
from twisted.internet.defer import Deferred, maybeDeferred, succeed
from twisted.internet.error import CannotListenError
from twisted.internet.interfaces import (
    IListeningPort,
    IProtocolFactory,
    IStreamServerEndpoint,
)
from twisted.python.failure import Failure

__all__ = [
    "DEFAULT_BACKLOG",
    "CannotListen",
    "Listener",
    "endpoint_problem",
    "why_not_listening",
    "with_backlog",
]

# Twisted listens with a backlog of 50; a login storm of hundreds overflows
# it, and a connection whose handshake the kernel then drops hangs. TCP ports
# get a deep queue (Linux caps it at net.core.somaxconn) unless their
# description sets backlog= itself.
DEFAULT_BACKLOG = 4096


def with_backlog(description: str) -> str:
    """C{description} with a deep backlog added to a TCP port lacking one."""
    kind = description.split(":", 1)[0].lower()
    if kind in ("tcp", "tcp6", "ssl") and "backlog=" not in description:
        return f"{description}:backlog={DEFAULT_BACKLOG}"
    return description


class CannotListen(Exception):
    """An endpoint of the server could not be opened.

    Its message is one sentence: the option, the endpoint and the problem.
    """


def endpoint_problem(error: Exception) -> str:
    """Why an endpoint description was refused, in words."""
    if isinstance(error, OSError) and error.strerror:
        name = f" {error.filename}" if error.filename else ""
        return f"{error.strerror.lower()}:{name}"
    text = str(error)
    if text.startswith("invalid literal for int()"):
        return "the port must be a number"
    unexpected = re.search(r"unexpected keyword argument '(\w+)'", text)
    if unexpected:
        return f"unknown parameter {unexpected.group(1)!r}"
    return text or type(error).__name__


def why_not_listening(error: BaseException) -> str:
    """The problem of a failed listen, in words, without a traceback."""
    if isinstance(error, OverflowError):
        return "the port number must be 0-65535"
    if isinstance(error, CannotListenError):
        where = (
            f"{error.interface}:{error.port}"
            if error.interface
            else f"port {error.port}"
        )
        cause = error.socketError
        if isinstance(cause, socket.gaierror):
            return f"cannot listen on {where}: unknown interface {error.interface!r}"
        if isinstance(cause, OSError):
            problem = (cause.strerror or str(cause)).lower()
            if cause.errno in (errno.EACCES, errno.EPERM):
                problem += " (ports below 1024 need root or CAP_NET_BIND_SERVICE)"
            elif cause.errno == errno.EADDRNOTAVAIL:
                problem += " (no interface of this machine has that address)"
            return f"cannot listen on {where}: {problem}"
        return f"cannot listen on {where}: {cause}"
    if isinstance(error, FileNotFoundError):
        return "the socket's directory does not exist"
    if isinstance(error, OSError) and error.strerror:
        return error.strerror.lower()
    return str(error) or type(error).__name__


class Listener(Service):
    """Listens with C{factory} on C{endpoint} from start to stop.

    @param option: how the endpoint was asked for, e.g. C{--port tcp:12000}.
    """

    def __init__(
        self, option: str, endpoint: IStreamServerEndpoint, factory: IProtocolFactory
    ) -> None:
        self.option = option
        self.endpoint = endpoint
        self.factory = factory
        self.port: IListeningPort | None = None

    def privilegedStartService(self) -> None:
        """Bind now (before twistd sheds privileges), but take no connection
        yet: raise L{CannotListen} if the endpoint cannot be opened.

        Connections wait in the kernel's backlog until L{startService},
        which the server calls once its store is open.
        """
        Service.privilegedStartService(self)
        self._bind()
        stop_reading = getattr(self.port, "stopReading", None)
        if stop_reading is not None:
            stop_reading()

    def startService(self) -> None:
        """Take connections; bind first unless L{privilegedStartService} did."""
        Service.startService(self)
        if self.port is None:
            self._bind()
            return
        start_reading = getattr(self.port, "startReading", None)
        if start_reading is not None:
            start_reading()

    def _bind(self) -> None:
        outcome: list[object] = []
        self.endpoint.listen(self.factory).addBoth(outcome.append)
        if not outcome:
            raise CannotListen(f"{self.option}: the endpoint did not open at once")
        result = outcome[0]
        if isinstance(result, Failure):
            problem = why_not_listening(result.value or Exception())
            raise CannotListen(f"{self.option}: {problem}")
        assert IListeningPort.providedBy(result)
        self.port = result

    def stopService(self) -> Deferred[None]:
        """Stop listening; connections already made go on."""
        Service.stopService(self)
        port, self.port = self.port, None
        if port is None:
            return succeed(None)
        stopped: Deferred[object] = maybeDeferred(port.stopListening)
        return stopped.addCallback(lambda _: None)
