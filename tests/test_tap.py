"""The twistd plugin: discovery, options and the service they build."""

import shutil
import tempfile
from pathlib import Path

import attrs
from twisted.application.service import IServiceMaker
from twisted.internet.defer import Deferred
from twisted.plugin import getPlugins
from twisted.python import usage
from twisted.trial.unittest import SynchronousTestCase

from menuchat import tap
from menuchat.config import Limits
from menuchat.net.listening import Listener
from menuchat.service import ChatService
from menuchat.store.memory import MemoryStore
from menuchat.store.sqlite import SQLiteStore


def parse(*argv):
    options = tap.Options()
    options.parseOptions(list(argv))
    return options


class OptionsTests(SynchronousTestCase):
    """Options: ports, limits, their defaults and their errors."""

    def test_twistd_finds_the_plugin(self):
        makers = {p.tapname: p for p in getPlugins(IServiceMaker)}
        assert "menuchat" in makers
        assert makers["menuchat"].options is tap.Options

    def test_defaults_listen_on_tcp_12000_with_the_default_limits(self):
        options = parse()
        assert options["ports"] == ["tcp:12000"]
        assert options.limits() == Limits()

    def test_port_may_be_repeated(self):
        options = parse(
            "--port", "tcp:0:interface=127.0.0.1", "-p", "unix:/tmp/mc.sock"
        )
        assert options["ports"] == ["tcp:0:interface=127.0.0.1", "unix:/tmp/mc.sock"]

    def test_every_limit_is_an_option(self):
        argv = []
        expected = {}
        for n, field in enumerate(attrs.fields(Limits), start=1):
            value = n + 1 if field.type in (int, "int") else n + 0.5
            argv += [f"--{field.name.replace('_', '-')}", str(value)]
            expected[field.name] = value
        assert attrs.asdict(parse(*argv).limits()) == expected

    def test_zero_disables_rate_and_timeouts(self):
        limits = parse("--line-rate", "0", "--login-timeout", "0").limits()
        assert (limits.line_rate, limits.login_timeout) == (0, 0)

    def test_help_documents_every_option(self):
        text = str(tap.Options())
        for field in attrs.fields(Limits):
            assert f"--{field.name.replace('_', '-')}=" in text
        assert "--port=" in text

    def test_make_service_listens_on_every_port_with_one_factory(self):
        service = tap.makeService(
            parse("-p", "tcp:0", "-p", "tcp:0:interface=127.0.0.1")
        )
        ports = [s for s in service if isinstance(s, Listener)]
        assert len(ports) == 2
        assert ports[0].factory is ports[1].factory
        assert ports[0].factory.limits == Limits()

    def assert_usage_error(self, *argv):
        with self.assertRaises(usage.UsageError):
            parse(*argv)

    def test_bad_value_max_clients_zero(self):
        self.assert_usage_error("--max-clients", "0")

    def test_bad_value_negative_line_length(self):
        self.assert_usage_error("--max-line-length", "-5")

    def test_bad_value_negative_line_rate(self):
        self.assert_usage_error("--line-rate", "-1")

    def test_bad_value_timeout_not_a_number(self):
        self.assert_usage_error("--login-timeout", "soon")

    def test_bad_value_mailbox_size_not_whole(self):
        self.assert_usage_error("--mailbox-size", "1.5")

    def test_bad_value_unknown_endpoint(self):
        self.assert_usage_error("--port", "nonsense:1")

    def test_bad_value_tcp_port_not_a_number(self):
        self.assert_usage_error("--port", "tcp:notaport")


class BacklogTests(SynchronousTestCase):
    """TCP ports get a deep backlog unless they set one; others none."""

    def test_tcp(self):
        assert tap.with_backlog("tcp:12000") == "tcp:12000:backlog=4096"

    def test_tcp_with_an_interface(self):
        assert (
            tap.with_backlog("tcp:0:interface=127.0.0.1")
            == "tcp:0:interface=127.0.0.1:backlog=4096"
        )

    def test_tcp_with_its_own_backlog(self):
        assert tap.with_backlog("tcp:5000:backlog=10") == "tcp:5000:backlog=10"

    def test_tcp6(self):
        assert tap.with_backlog("tcp6:5000") == "tcp6:5000:backlog=4096"

    def test_unix(self):
        assert tap.with_backlog("unix:/tmp/x.sock") == "unix:/tmp/x.sock"


class DefaultsTests(SynchronousTestCase):
    """The defaults, as numbers: a change to one is a change to this test."""

    def test_every_default(self):
        options = parse()
        assert options["ports"] == ["tcp:12000"]
        assert attrs.asdict(options.limits()) == {
            "max_line_length": 2048,
            "line_rate": 10.0,
            "line_burst": 40,
            "max_output": 1048576,
            "login_timeout": 60.0,
            "idle_timeout": 0.0,
            "close_timeout": 10.0,
            "max_clients": 10000,
            "max_per_address": 100,
            "max_rooms": 1000,
            "max_room_members": 1000,
            "mailbox_size": 100,
            "room_history": 50,
        }

    def test_the_default_backlog(self):
        assert tap.DEFAULT_BACKLOG == 4096


class MakeServiceTests(SynchronousTestCase):
    """makeService: the options reach the service, its hub and its factory."""

    def test_hub_limits_reach_the_hub(self):
        service = tap.makeService(
            parse(
                "-p",
                "tcp:0",
                "--max-rooms",
                "7",
                "--max-room-members",
                "3",
                "--mailbox-size",
                "5",
            )
        )
        assert isinstance(service, ChatService)
        assert (
            service.hub.max_rooms,
            service.hub.max_room_members,
            service.hub.mailbox_size,
        ) == (7, 3, 5)

    def test_under_twistd_the_collector_is_tuned_once_started(self):
        options = parse("-p", "tcp:0")
        assert not tap.makeService(options)._tune_collector
        options.parent = {"nodaemon": True}
        assert tap.makeService(options)._tune_collector

    def test_connection_limits_reach_the_factory_and_admission(self):
        service = tap.makeService(
            parse(
                "-p",
                "tcp:0",
                "--max-clients",
                "9",
                "--max-per-address",
                "2",
                "--max-line-length",
                "100",
            )
        )
        assert service.menu.limits.max_line_length == 100
        assert service.admission.max_clients == 9
        assert service.admission.max_per_address == 2

    def test_ports_listen_with_the_backlog(self):
        service = tap.makeService(parse("-p", "tcp:0", "-p", "unix:/tmp/mc.sock"))
        ports = [s for s in service if isinstance(s, Listener)]
        assert ports[0].endpoint._backlog == 4096


class StoreOptionTests(SynchronousTestCase):
    """--db: an SQLite file in the working directory by default."""

    def directory(self):
        """A directory of the test's own, removed after it (mktemp makes
        its paths below the working directory under pytest)."""
        path = Path(tempfile.mkdtemp(prefix="menuchat-tap-"))
        self.addCleanup(shutil.rmtree, path, True)
        return path

    def test_the_store_is_sqlite_in_the_working_directory_by_default(self):
        options = parse()
        assert options["db"] == "menuchat.sqlite3"
        path = self.directory()
        store = tap.make_store(str(path / "x.sqlite3"), object())
        assert isinstance(store, SQLiteStore)
        assert isinstance(tap.make_store(":memory:", object()), MemoryStore)
        assert not (path / "x.sqlite3").exists()

    def check_bad_db(self, name, content, reason):
        path = self.directory() / name
        if content is not None:
            path.write_bytes(content)
        with self.assertRaisesRegex(usage.UsageError, f"^--db {path}: .*{reason}"):
            parse("--db", str(path))
        assert content is None or path.read_bytes() == content

    def test_a_missing_directory_is_a_usage_error_naming_db(self):
        self.check_bad_db("missing/x.sqlite3", None, "does not exist")

    def test_a_file_that_is_no_database_is_refused_untouched(self):
        self.check_bad_db("random.sqlite3", b"\x00not sqlite" * 100, "not an SQLite")


class ListenLateTests(SynchronousTestCase):
    """Ports are bound at start but take connections once the store is open."""

    def test_connections_wait_until_the_store_is_open(self):
        from twisted.internet import reactor

        class LateStore(MemoryStore):
            def __init__(self):
                super().__init__()
                self.opened = Deferred()

            def start(self):
                return self.opened

        store = LateStore()
        service = ChatService(store, reactor, Limits(), ["tcp:0:interface=127.0.0.1"])
        (listener,) = [s for s in service if isinstance(s, Listener)]
        service.privilegedStartService()
        try:
            port = listener.port
            assert port is not None and port.connected  # bound
            assert port.fileno() not in [r.fileno() for r in reactor.getReaders()]
            started = service.startService()
            assert port.fileno() not in [r.fileno() for r in reactor.getReaders()]
            store.opened.callback(None)
            self.successResultOf(started)
            assert port.fileno() in [r.fileno() for r in reactor.getReaders()]
        finally:
            listener.port.stopListening()


class ClusterOptionTests(SynchronousTestCase):
    """--redis, --node and --node-ttl: several processes as one server."""

    def test_no_redis_by_default(self):
        options = parse()
        assert (options["redis"], options["node-ttl"]) == (None, 10.0)
        service = tap.makeService(options)
        assert isinstance(service, ChatService) and service.cluster is None

    def test_redis_replaces_the_sqlite_file_and_joins_a_cluster(self):
        from menuchat.store.redis_cluster import RedisCluster

        options = parse(
            "--redis", "redis://10.0.0.5:7000/2", "--node", "east", "--node-ttl", "3"
        )
        service = tap.makeService(options)
        assert isinstance(service.cluster, RedisCluster)
        assert (service.cluster.node, service.cluster.ttl) == ("east", 3.0)
        assert str(service.cluster._store.address) == "redis://10.0.0.5:7000/2"

    def test_the_node_is_named_after_the_host_and_pid_by_default(self):
        import os
        import socket

        options = parse("--redis", "redis://localhost")
        assert options["node"] == f"{socket.gethostname()}:{os.getpid()}"

    def test_bad_redis_url(self):
        with self.assertRaisesRegex(usage.UsageError, "^--redis: .*redis://"):
            parse("--redis", "http://localhost:6379")

    def test_bad_node_name(self):
        for name in ("", "two words", "tab\there"):
            with self.assertRaisesRegex(usage.UsageError, "^--node "):
                parse("--redis", "redis://localhost", "--node", name)

    def test_bad_node_ttl(self):
        for ttl in ("0", "-1", "nan", "inf", "soon"):
            with self.assertRaisesRegex(usage.UsageError, "node-ttl"):
                parse("--redis", "redis://localhost", "--node-ttl", ttl)
