"""People talking to a menu factory over in-memory transports, by name."""

from __future__ import annotations

from twisted.internet.address import IPv4Address
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport
from twisted.trial.unittest import SynchronousTestCase

from menuchat.config import Limits
from menuchat.frontends.menu.factory import MenuChatProtocol
from menuchat.store.memory import MemoryStore
from tests.support import make_factory


class Person:
    """One connection: C{say} lines, C{read} what came back since."""

    def __init__(self, case: PeopleCase, port: int) -> None:
        self.case = case
        address = IPv4Address("TCP", "127.0.0.1", port)
        protocol = case.factory.buildProtocol(address)
        assert isinstance(protocol, MenuChatProtocol)
        self.protocol = protocol
        self.wire = StringTransport(peerAddress=address)
        protocol.makeConnection(self.wire)

    def say(self, *lines: str) -> str:
        """Send C{lines}; what the server answered, all of it."""
        self.read()
        self.protocol.dataReceived("".join(f"{line}\r\n" for line in lines).encode())
        return self.read()

    def read(self) -> str:
        self.case.clock.advance(0)
        # Without the telnet echo offers around password prompts.
        data = self.wire.value().replace(b"\xff\xfb\x01", b"")
        text = data.replace(b"\xff\xfc\x01", b"").decode()
        self.wire.clear()
        return text

    @property
    def user(self):  # type: ignore[no-untyped-def]
        session = self.protocol.session
        assert session is not None
        return session.user


class PeopleCase(SynchronousTestCase):
    """A menu server in memory and people who log in to it."""

    operators: tuple[str, ...] = ()

    def setUp(self) -> None:
        self.clock = Clock()
        self.store = MemoryStore()
        self.factory = make_factory(
            self.clock, Limits(line_rate=0), self.store, operators=self.operators
        )
        self.port = 1000

    def person(self, name: str, password: str | None = None) -> Person:
        """Someone logged in as C{name} (with the password of its account)."""
        self.port += 1
        person = Person(self, self.port)
        lines = [name] if password is None else [name, password]
        assert f"Client Name: {name}" in person.say(*lines)
        return person

    def registered(self, name: str, password: str = "secret12") -> Person:
        """Someone who registered C{name} and logged in again with it."""
        first = self.person(name)
        assert "registered to you" in first.say("8", password, password)
        first.say("6")
        return self.person(name, password)
