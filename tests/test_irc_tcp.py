"""A menu user and an IRC user (Twisted's own IRCClient) over real loopback
TCP: one room, lines both ways, mail both ways, the room closed by its owner."""

from __future__ import annotations

import sys

import pytest_twisted
from twisted.internet import defer, reactor
from twisted.internet.endpoints import TCP4ClientEndpoint, connectProtocol
from twisted.trial.unittest import SynchronousTestCase
from twisted.words.protocols import irc

from menuchat.config import Limits
from menuchat.core.accounts import Accounts
from menuchat.frontends.irc.factory import IRCFactory
from menuchat.frontends.menu.factory import MenuChatFactory
from menuchat.service import make_hub
from menuchat.store.memory import MemoryStore
from menuchat.tap import with_backlog
from tests.chatclient import TIMEOUT, login


class Recorder(irc.IRCClient):
    """An IRC client that records what it hears; C{expect} awaits an event."""

    username = "ircy"
    realname = "An IRC user"

    def __init__(self, nickname: str) -> None:
        self.nickname = nickname
        self.events: list[tuple[str, ...]] = []
        self._waiting: list[tuple[tuple[str, ...], defer.Deferred]] = []
        self.lost: defer.Deferred[None] = defer.Deferred()

    def _heard(self, *event: str) -> None:
        self.events.append(event)
        for waited in list(self._waiting):
            pattern, deferred = waited
            if _matches(pattern, event):
                self._waiting.remove(waited)
                deferred.callback(event)

    def expect(self, *pattern: str) -> defer.Deferred:
        for event in self.events:
            if _matches(pattern, event):
                self.events.remove(event)
                return defer.succeed(event)
        waiting: defer.Deferred = defer.Deferred()
        self._waiting.append((pattern, waiting))
        return waiting.addTimeout(TIMEOUT, reactor)

    def signedOn(self) -> None:
        self._heard("signedOn")

    def joined(self, channel: str) -> None:
        self._heard("joined", channel)

    def privmsg(self, user: str, channel: str, message: str) -> None:
        self._heard("privmsg", user.split("!")[0], channel, message)

    def kickedFrom(self, channel: str, kicker: str, message: str) -> None:
        self._heard("kicked", channel, kicker, message)

    def connectionLost(self, reason: object = None) -> None:
        irc.IRCClient.connectionLost(self, reason)
        self.lost.callback(None)


def _matches(pattern: tuple[str, ...], event: tuple[str, ...]) -> bool:
    return event[: len(pattern)] == pattern


@pytest_twisted.async_yield_fixture
async def ports():
    """A menu port and an IRC port around one hub."""
    from twisted.internet.endpoints import serverFromString

    limits = Limits(max_per_address=1000, line_rate=0)
    store = MemoryStore()
    hub = make_hub(store, reactor, limits)
    accounts = Accounts(store, reactor, defer.maybeDeferred)
    menu = MenuChatFactory(hub, accounts, reactor, limits)
    gateway = IRCFactory(hub, accounts, reactor, limits, menu.admission)
    listening = []
    for factory in (menu, gateway):
        endpoint = serverFromString(reactor, with_backlog("tcp:0:interface=127.0.0.1"))
        listening.append(await endpoint.listen(factory))
    yield tuple(port.getHost().port for port in listening)
    for port in listening:
        await port.stopListening()
    await menu.admission.shutdown().addTimeout(TIMEOUT, reactor)


@pytest_twisted.ensureDeferred
async def test_a_menu_user_and_an_irc_user_share_a_room_and_mail(ports):
    menu_port, irc_port = ports
    menu, _ = await login(menu_port, "menu")
    menu.send("4", "den")
    await menu.expect("Type 'exit' to close the chat room.\r\n")

    ircy = Recorder("ircy")
    endpoint = TCP4ClientEndpoint(reactor, "127.0.0.1", irc_port)
    await connectProtocol(endpoint, ircy)
    await ircy.expect("signedOn")
    ircy.join("den")
    await ircy.expect("joined", "#den")
    await menu.expect("ircy joined\r\n")

    # Lines both ways in the room.
    menu.send("hello irc")
    await ircy.expect("privmsg", "menu", "#den", "hello irc")
    ircy.say("#den", "hello menu")
    await menu.expect("ircy> hello menu\r\n")

    # Mail both ways: the menu user reads it with /read, the IRC user at once.
    ircy.msg("menu", "a private word")
    await menu.expect("New message from ircy")
    menu.send("/read")
    await menu.expect("a private word (from: ircy)\r\n")
    menu.send("/msg ircy one back")
    await ircy.expect("privmsg", "menu", "ircy", "one back")

    # The owner closes the room: the IRC user is put out of the channel.
    menu.send("exit")
    await ircy.expect("kicked", "#den", "menu", "Room closed by its owner")

    ircy.quit("bye")
    await ircy.lost.addTimeout(TIMEOUT, reactor)
    menu.send("1")
    text = await menu.expect("Your option <enter a number>: ")
    assert b"ircy" not in text


if "tests.conftest" not in sys.modules:
    # Under trial, which never loads conftest: say why nothing runs here.
    class UnderTrial(SynchronousTestCase):
        skip = "needs pytest: real TCP through pytest-twisted fixtures"

        def test_run_these_under_pytest(self):
            """Skipped."""
