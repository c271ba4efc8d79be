"""--password-transport tls: passwords only over TLS or from this machine.

At the dialogue (a L{Screen} that is or is not secure), over the menu
protocol (a plain connection from loopback or from elsewhere, and TLS), in
the options, and the warning a server with plain ports logs at start.
"""

from __future__ import annotations

from twisted.internet.address import IPv4Address
from twisted.internet.defer import maybeDeferred
from twisted.internet.interfaces import ISSLTransport
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport
from twisted.logger import capturedLogs, formatEvent
from twisted.python import usage
from twisted.trial.unittest import SynchronousTestCase
from zope.interface import implementer

from menuchat import tap
from menuchat.config import Limits
from menuchat.core.accounts import Accounts
from menuchat.core.hub import Hub
from menuchat.frontends.menu import texts
from menuchat.frontends.menu.dialogue import Session, State
from menuchat.frontends.menu.factory import MenuChatFactory, MenuChatProtocol
from menuchat.service import ChatService, make_hub
from menuchat.store.memory import MemoryStore
from tests.support import Screen

PASSWORD = "secret12"
NEEDS_TLS = (
    texts.ERROR.format(reason=texts.PASSWORD_NEEDS_TLS.format(name="Nina"))
    + texts.NAME_PROMPT
)
ACCOUNT_NEEDS_TLS = (
    texts.ERROR.format(reason=texts.ACCOUNT_NEEDS_TLS) + texts.OPTION_PROMPT
)


@implementer(ISSLTransport)
class TLSTransport(StringTransport):
    """A TLS connection's transport, as far as the menu protocol looks."""

    def setTcpNoDelay(self, enabled: bool) -> None:
        pass


class DialogueTests(SynchronousTestCase):
    """Sessions of a server that takes passwords only over TLS."""

    def setUp(self) -> None:
        self.store = MemoryStore()
        self.hub = Hub(self.store, now=lambda: 0.0)
        self.accounts = Accounts(self.store, Clock(), maybeDeferred)
        session, _ = self.session(secure=True)
        for line in ["Nina", "8", PASSWORD, PASSWORD, "6"]:
            session.line_received(line)

    def session(self, secure: bool) -> tuple[Session, Screen]:
        screen = Screen()
        screen.secure = secure
        session = Session(self.hub, screen, self.accounts, passwords_need_tls=True)
        session.start()
        screen.take()
        return session, screen

    def test_no_password_asked_on_a_connection_that_is_not_secure(self) -> None:
        session, screen = self.session(secure=False)
        session.line_received("Nina")
        self.assertEqual(screen.take(), NEEDS_TLS)
        self.assertIs(session.state, State.NAME)
        self.assertFalse(getattr(screen, "hidden", False))
        # The name prompt goes on: a guest name is welcome.
        session.line_received("Jose")
        self.assertIn("Client Name: Jose", screen.take())

    def test_a_password_not_asked_is_logged(self) -> None:
        session, _ = self.session(secure=False)
        with capturedLogs() as events:
            session.line_received("Nina")
        self.assertEqual(
            [formatEvent(e) for e in events],
            ["127.0.0.1: no password asked for Nina without TLS"],
        )

    def test_the_password_is_asked_on_a_secure_connection(self) -> None:
        session, screen = self.session(secure=True)
        session.line_received("Nina")
        self.assertEqual(screen.take(), texts.PASSWORD_PROMPT)
        session.line_received(PASSWORD)
        self.assertIn("Client Name: Nina", screen.take())

    def test_a_guest_cannot_register_without_tls(self) -> None:
        session, screen = self.session(secure=False)
        session.line_received("Jose")
        screen.take()
        session.line_received("8")
        self.assertEqual(screen.take(), ACCOUNT_NEEDS_TLS)
        self.assertIs(session.state, State.MENU)
        self.assertFalse(getattr(screen, "hidden", False))

    def test_a_password_change_is_refused_without_tls(self) -> None:
        session, screen = self.session(secure=True)
        session.line_received("Nina")
        session.line_received(PASSWORD)
        screen.take()
        screen.secure = False  # as if the same user came in the clear
        session.line_received("8")
        self.assertIn("1. Change password", screen.take())
        session.line_received("1")
        self.assertEqual(screen.take(), ACCOUNT_NEEDS_TLS)
        self.assertIs(session.state, State.MENU)

    def test_any_transport_asks_everywhere(self) -> None:
        screen = Screen()
        screen.secure = False
        session = Session(self.hub, screen, self.accounts)
        session.start()
        session.line_received("Nina")
        self.assertTrue(screen.take().endswith(texts.PASSWORD_PROMPT))


class ProtocolTests(SynchronousTestCase):
    """The menu protocol tells its session whether the connection is secure."""

    def setUp(self) -> None:
        self.clock = Clock()
        store = MemoryStore()
        limits = Limits(line_rate=0)
        hub = make_hub(store, self.clock, limits)
        self.factory = MenuChatFactory(
            hub,
            Accounts(store, self.clock, maybeDeferred),
            self.clock,
            limits,
            passwords_need_tls=True,
        )
        nina = self.connect("127.0.0.1")
        self.say(nina, "Nina", "8", PASSWORD, PASSWORD, "6")

    def connect(self, host: str, tls: bool = False) -> MenuChatProtocol:
        address = IPv4Address("TCP", host, 40000)
        protocol = self.factory.buildProtocol(address)
        assert isinstance(protocol, MenuChatProtocol)
        wire = TLSTransport if tls else StringTransport
        transport = wire(peerAddress=address)
        protocol.makeConnection(transport)
        return protocol

    def say(self, protocol: MenuChatProtocol, *lines: str) -> str:
        transport = protocol.transport
        assert isinstance(transport, StringTransport)
        transport.clear()
        protocol.dataReceived("".join(f"{line}\r\n" for line in lines).encode())
        self.clock.advance(0)
        return transport.value().decode("utf-8", "replace")

    def test_from_loopback_the_password_is_asked(self) -> None:
        nina = self.connect("127.0.0.1")
        self.assertTrue(nina.secure)
        self.assertTrue(self.say(nina, "Nina").endswith(texts.PASSWORD_PROMPT))

    def test_from_elsewhere_it_is_not(self) -> None:
        nina = self.connect("203.0.113.9")
        self.assertFalse(nina.secure)
        self.assertTrue(self.say(nina, "Nina").endswith(NEEDS_TLS))

    def test_over_tls_from_elsewhere_it_is(self) -> None:
        nina = self.connect("203.0.113.9", tls=True)
        self.assertTrue(nina.secure)
        self.assertTrue(self.say(nina, "Nina").endswith(texts.PASSWORD_PROMPT))


class OptionTests(SynchronousTestCase):
    """--password-transport on the command line."""

    def parse(self, *argv: str) -> tap.Options:
        options = tap.Options()
        options.parseOptions(["-p", "tcp:0", *argv])
        return options

    def test_any_is_the_default(self) -> None:
        service = tap.makeService(self.parse())
        assert isinstance(service, ChatService)
        self.assertFalse(service.menu.passwords_need_tls)

    def test_tls(self) -> None:
        service = tap.makeService(self.parse("--password-transport", "tls"))
        assert isinstance(service, ChatService)
        self.assertTrue(service.menu.passwords_need_tls)

    def test_anything_else_is_a_usage_error(self) -> None:
        with self.assertRaises(usage.UsageError) as raised:
            self.parse("--password-transport", "ssl")
        self.assertEqual(
            str(raised.exception), "--password-transport must be tls or any, not 'ssl'"
        )


class StartWarningTests(SynchronousTestCase):
    """A server that takes passwords on plain ports says so once at start."""

    def started(self, ports: list[str], need_tls: bool = False) -> list[str]:
        service = ChatService(
            MemoryStore(), Clock(), Limits(), [], passwords_need_tls=need_tls
        )
        service.ports = ports  # what it would listen on; no port is opened
        with capturedLogs() as events:
            service.startService()
        self.addCleanup(service.stopService)
        return [
            event["log_format"].format(**event)
            for event in events
            if "Passwords" in event.get("log_format", "")
        ]

    def test_plain_ports_are_named_in_one_warning(self) -> None:
        logged = self.started(
            [
                "tcp:12000",
                "ssl:6697:privateKey=k:certKey=c",
                "tcp6:12001:interface=\\:\\:1",
            ]
        )
        self.assertEqual(len(logged), 1)
        self.assertTrue(
            logged[0].startswith("Passwords travel in clear text on --port tcp:12000;")
        )

    def test_no_warning_without_plain_ports(self) -> None:
        self.assertEqual(
            self.started(["tcp:12001:interface=127.0.0.1", "unix:/tmp/x.sock"]), []
        )

    def test_tls_only_says_so(self) -> None:
        self.assertEqual(
            self.started(["tcp:12000"], need_tls=True),
            [
                "Passwords are accepted only over TLS or from this machine"
                " (--password-transport tls)"
            ],
        )
