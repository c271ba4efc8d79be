"""A scripted chat user for tests over real TCP: send lines, await text."""

from __future__ import annotations

from twisted.internet import defer
from twisted.internet.endpoints import TCP4ClientEndpoint, connectProtocol
from twisted.internet.protocol import Protocol

TIMEOUT = 10


class ChatClient(Protocol):
    """Collects what the server says; C{expect} waits for a piece of it.

    Text is consumed in order: C{expect} returns everything up to and
    including the awaited piece, and the next C{expect} looks after it.
    """

    def __init__(self) -> None:
        self.buffer = b""
        self.lost: defer.Deferred[None] = defer.Deferred()
        self._waiting: tuple[bytes, defer.Deferred[bytes]] | None = None

    def dataReceived(self, data: bytes) -> None:
        self.buffer += data
        self._check()

    def connectionLost(self, reason: object = None) -> None:
        self.lost.callback(None)
        if self._waiting is not None:
            text, waiting = self._waiting
            self._waiting = None
            waiting.errback(
                AssertionError(f"closed waiting for {text!r}; got {self.buffer!r}")
            )

    def send(self, *lines: str) -> None:
        self.transport.write(b"".join(line.encode() + b"\r\n" for line in lines))

    def expect(self, text: str, timeout: float = TIMEOUT) -> defer.Deferred[bytes]:
        from twisted.internet import reactor

        waiting: defer.Deferred[bytes] = defer.Deferred()
        self._waiting = (text.encode(), waiting)
        self._check()
        return waiting.addTimeout(timeout, reactor)

    def _check(self) -> None:
        if self._waiting is None:
            return
        text, waiting = self._waiting
        end = self.buffer.find(text)
        if end >= 0:
            end += len(text)
            self._waiting = None
            taken, self.buffer = self.buffer[:end], self.buffer[end:]
            waiting.callback(taken)


async def connect(port: int) -> ChatClient:
    from twisted.internet import reactor

    endpoint = TCP4ClientEndpoint(reactor, "127.0.0.1", port)
    connecting = connectProtocol(endpoint, ChatClient())
    return await connecting.addTimeout(TIMEOUT, reactor)


async def login(port: int, name: str) -> tuple[ChatClient, int]:
    """A client at the option prompt as C{name}, and its id."""
    client = await connect(port)
    await client.expect("Your id key (i.e your name): ")
    client.send(name)
    text = await client.expect("Your option <enter a number>: ")
    id_line = text.split(b"Client ID: ")[1].split(b"\r\n")[0]
    return client, int(id_line)
