"""Helpers for the IRC gateway's tests: an IRC factory and a menu factory
around one hub on a Clock, connections to them, registered clients."""

from __future__ import annotations

from typing import Any

from twisted.internet.address import IPv4Address
from twisted.internet.defer import maybeDeferred
from twisted.internet.task import Clock

from menuchat.config import Limits
from menuchat.core.accounts import Accounts, hash_password
from menuchat.core.names import token_key
from menuchat.frontends.irc.base import Gateway
from menuchat.frontends.irc.factory import IRCFactory, IRCProtocol
from menuchat.frontends.menu.factory import MenuChatFactory
from menuchat.service import make_hub
from menuchat.store import Account
from menuchat.store.memory import MemoryStore
from tests.support import Wire, resolved

__all__ = ["World", "lines"]


def lines(transport: Wire) -> list[str]:
    """The lines written since the last take, decoded, without CRLF."""
    data = transport.take()
    assert data == b"" or data.endswith(b"\r\n"), data
    return [line.decode() for line in data.split(b"\r\n")[:-1]]


class World:
    """An IRC and a menu front-end around one hub, on a Clock."""

    def __init__(self, gateway: Gateway | None = None, **limits: Any) -> None:
        limits.setdefault("line_rate", 0)
        self.clock = Clock()
        self.limits = Limits(**limits)
        self.store = MemoryStore()
        self.hub = make_hub(self.store, self.clock, self.limits)
        self.accounts = Accounts(self.store, self.clock, maybeDeferred)
        self.irc = IRCFactory(
            self.hub,
            self.accounts,
            self.clock,
            self.limits,
            gateway=gateway or Gateway(server="irc.test", created="today"),
        )
        self.menu = MenuChatFactory(
            self.hub, self.accounts, self.clock, self.limits, self.irc.admission
        )
        self._port = 30000

    def connect(self, host: str = "127.0.0.1") -> tuple[IRCProtocol, Wire]:
        self._port += 1
        address = IPv4Address("TCP", host, self._port)
        protocol = self.irc.buildProtocol(address)
        assert isinstance(protocol, IRCProtocol)
        transport = Wire(peerAddress=address)
        transport.protocol = protocol
        transport.clock = self.clock  # type: ignore[assignment]
        protocol.makeConnection(transport)
        return protocol, transport

    def register(self, nick: str) -> tuple[IRCProtocol, Wire]:
        """A registered IRC client; its welcome burst taken."""
        protocol, transport = self.connect()
        protocol.dataReceived(
            f"NICK {nick}\r\nUSER {nick} 0 * :Real {nick}\r\n".encode()
        )
        assert f" 001 {nick} " in transport.take().decode()
        return protocol, transport

    def menu_user(self, name: str) -> tuple[Any, Wire]:
        """A menu user logged in; what it was told taken."""
        self._port += 1
        address = IPv4Address("TCP", "127.0.0.1", self._port)
        protocol = self.menu.buildProtocol(address)
        transport = Wire(peerAddress=address)
        transport.protocol = protocol
        transport.clock = self.clock  # type: ignore[assignment]
        protocol.makeConnection(transport)
        protocol.dataReceived(name.encode() + b"\r\n")
        assert b"Client Name: " + name.encode() in transport.take()
        return protocol, transport

    def account(self, name: str, password: str, user_id: int = 900) -> Account:
        account = Account(user_id, name, token_key(name), hash_password(password), 0.0)
        resolved(self.store.create_account(account))
        return account
