"""--irc-port and the IRC factory inside ChatService: off by default, one
hub, admission and counts shared with the menu."""

from twisted.internet.task import Clock
from twisted.python import usage
from twisted.trial.unittest import SynchronousTestCase

from menuchat.config import Limits
from menuchat.frontends.irc.base import Gateway
from menuchat.net.listening import Listener
from menuchat.service import ChatService
from menuchat.store.memory import MemoryStore
from menuchat.tap import Options, makeService


def listeners(service):
    return [s for s in service if isinstance(s, Listener)]


class IRCOptionTests(SynchronousTestCase):
    def test_off_by_default(self):
        options = Options()
        options.parseOptions([])
        assert options["irc_ports"] == []
        assert options["irc-ping-interval"] == 120.0
        assert options["irc-name"] == "menuchat"

    def test_repeatable(self):
        options = Options()
        options.parseOptions(["--irc-port", "tcp:6667", "--irc-port", "tcp:6668"])
        assert options["irc_ports"] == ["tcp:6667", "tcp:6668"]

    def test_a_bad_endpoint_names_the_option(self):
        with self.assertRaises(usage.UsageError) as caught:
            Options().parseOptions(["--irc-port", "nonsense:1"])
        assert "--irc-port nonsense:1" in str(caught.exception)

    def test_bad_ping_interval_and_name(self):
        with self.assertRaises(usage.UsageError):
            Options().parseOptions(["--irc-ping-interval", "-5"])
        with self.assertRaises(usage.UsageError):
            Options().parseOptions(["--irc-name", "two words"])

    def test_make_service_listens_on_the_irc_ports(self):
        options = Options()
        options.parseOptions(
            [
                "--irc-port",
                "tcp:0",
                "--irc-name",
                "chat.example",
                "--irc-ping-interval",
                "9",
            ]
        )
        service = makeService(options)
        assert [ls.option for ls in listeners(service)] == [
            "--port tcp:12000",
            "--irc-port tcp:0",
        ]
        assert service.irc.gateway.server == "chat.example"
        assert service.irc.gateway.ping_interval == 9.0


class IRCServiceTests(SynchronousTestCase):
    def test_the_irc_factory_shares_the_hub_admission_and_counts(self):
        service = ChatService(
            MemoryStore(),
            Clock(),
            Limits(),
            ["tcp:0"],
            irc_ports=["tcp:0"],
            gateway=Gateway(server="x"),
        )
        assert service.irc.hub is service.menu.hub is service.hub
        assert service.irc.accounts is service.menu.accounts
        assert service.irc.admission is service.menu.admission
        assert service.irc.stats is service.menu.stats
        assert service.irc.line_limit() == 510
        assert service.menu.line_limit() == Limits().max_line_length
        assert len(listeners(service)) == 2
