"""Helpers shared by the test modules, importable under pytest and trial.

Fakes for a session's output (L{Screen}) and a connection's transport
(L{Wire}), and the few steps most protocol tests start with: a menu
factory on a L{Clock}, a connection to it, a user logged in, a room.
"""

from __future__ import annotations

from typing import Any, TypeVar

from twisted.internet.address import IPv4Address
from twisted.internet.defer import Deferred, maybeDeferred
from twisted.internet.interfaces import IReactorTime
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransportWithDisconnection
from twisted.python.failure import Failure

from menuchat.config import Limits
from menuchat.core.accounts import Accounts
from menuchat.frontends.menu.factory import MenuChatFactory, MenuChatProtocol
from menuchat.service import make_hub
from menuchat.store.memory import MemoryStore

__all__ = [
    "PROMPT",
    "Screen",
    "Wire",
    "clocked_factory",
    "connect",
    "login",
    "make_factory",
    "resolved",
    "room",
]

_T = TypeVar("_T")

PROMPT = b"Your option <enter a number>: "


def resolved(d: Deferred[_T]) -> _T:
    """The result of a Deferred that has fired; its exception if it failed.

    For calls into the memory store, which answer at once.
    """
    results: list[Any] = []
    d.addBoth(results.append)
    assert results, f"{d!r} has not fired"
    result = results[0]
    if isinstance(result, Failure):
        result.raiseException()
    return result  # type: ignore[no-any-return]


def make_factory(
    clock: IReactorTime,
    limits: Limits | None = None,
    store: Any = None,
    operators: Any = (),
) -> MenuChatFactory:
    """A menu factory around a fresh hub on C{store} (a memory store by default)."""
    limits = limits or Limits()
    store = store or MemoryStore()
    hub = make_hub(store, clock, limits, operators)
    accounts = Accounts(store, clock, maybeDeferred)
    return MenuChatFactory(hub, accounts, clock, limits)


def clocked_factory(**limits: Any) -> tuple[MenuChatFactory, Clock]:
    """A menu factory with these limits (the rest default) and its Clock."""
    clock = Clock()
    return make_factory(clock, Limits(**limits)), clock


class Screen:
    """A session's Output: what the person at the other end would read."""

    def __init__(self) -> None:
        self.text = ""
        self.closed = False
        self.admitted: tuple[str, int] | None = None

    def write(self, text: str) -> None:
        assert not self.closed, "wrote after close"
        self.text += text

    def write_bytes(self, data: bytes) -> None:
        self.write(data.decode())

    def close(self) -> None:
        self.closed = True

    address = "127.0.0.1"
    # A password typed here stays private (TLS, or from this machine).
    secure = True

    def logged_in(self, name: str, user_id: int) -> None:
        self.admitted = (name, user_id)

    def hide_input(self, hidden: bool) -> None:
        self.hidden = hidden

    def at_turn_end(self, call: Any) -> None:
        """The test's turn ends at once: the call is made now."""
        call()

    def at_read_end(self, call: Any) -> None:
        """The test's read ends at once too."""
        call()

    def reply_later(self) -> None:
        """Written text is taken by the test as it comes."""

    def take(self) -> str:
        """What was written since the last take."""
        text, self.text = self.text, ""
        return text


class Wire(StringTransportWithDisconnection):
    """A transport that counts writes and closes the protocol when lost.

    Reading what was written first lets the reactor turn end (the clock
    advances by zero), since output is flushed once a turn.
    """

    clock: Clock | None = None
    aborted = False

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.writes = 0

    def value(self) -> bytes:
        self._end_turn()
        return super().value()

    def clear(self) -> None:
        self._end_turn()
        super().clear()

    def _end_turn(self) -> None:
        if self.clock is not None:
            self.clock.advance(0)

    def write(self, data: bytes) -> None:
        self.writes += 1
        super().write(data)

    def abortConnection(self) -> None:
        self.aborted = True
        self.loseConnection()

    def take(self) -> bytes:
        """What was written since the last take (or clear)."""
        data = self.value()
        self.clear()
        return data


def connect(
    factory: MenuChatFactory,
    host: str = "127.0.0.1",
    port: int = 40000,
    wire: type[Wire] = Wire,
) -> tuple[MenuChatProtocol, Wire]:
    """A new connection to C{factory} from C{host}:C{port}, and its transport."""
    address = IPv4Address("TCP", host, port)
    protocol = factory.buildProtocol(address)
    assert isinstance(protocol, MenuChatProtocol)
    transport = wire(peerAddress=address)
    transport.protocol = protocol
    transport.clock = factory.clock  # type: ignore[assignment]
    protocol.makeConnection(transport)
    return protocol, transport


def login(
    factory: MenuChatFactory, name: str, port: int = 40000
) -> tuple[MenuChatProtocol, Wire]:
    """A connection logged in as C{name}; what it was told so far is taken."""
    protocol, transport = connect(factory, port=port)
    protocol.dataReceived(name.encode() + b"\r\n")
    assert b"Client Name: " + name.encode() in transport.take()
    return protocol, transport


def room(factory: MenuChatFactory, size: int) -> list[tuple[MenuChatProtocol, Wire]]:
    """An owner and size - 1 members in room 'r'; transports cleared."""
    members = [login(factory, f"m{n}", port=41000 + n) for n in range(size)]
    members[0][0].dataReceived(b"4\nr\n")
    for protocol, _ in members[1:]:
        protocol.dataReceived(b"5\nr\n")
    for _, transport in members:
        transport.clear()
        transport.writes = 0
    return members


class FakeMember:
    """Records every event the hub sends, as tuples."""

    def __init__(self) -> None:
        self.events = []

    def room_line(self, event):
        self.events.append(("line", event.room, event.speaker, event.text))

    def member_joined(self, event):
        self.events.append(("joined", event.room, event.name))

    def member_left(self, event):
        self.events.append(("left", event.room, event.name))

    def room_changed(self, event):
        self.events.append(("changed", event.room, event.change, event.name))

    def broadcast(self, event):
        self.events.append(("broadcast", event.by, event.text))

    def disconnected(self, by):
        self.events.append(("disconnected", by))

    def room_closed(self, event):
        self.events.append(("closed", event.room, event.reason))

    def message_waiting(self, event):
        self.events.append(("waiting", event.message.text, event.unread))

    def message_unread(self, event):
        message = event.message
        self.events.append(("unread", message.recipient_name, message.text))
