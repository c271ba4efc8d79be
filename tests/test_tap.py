"""The twistd plugin: discovery, options and the service they build."""

import attrs
import pytest
import pytest_twisted
from twisted.application.internet import StreamServerEndpointService
from twisted.application.service import IServiceMaker
from twisted.internet.defer import Deferred
from twisted.plugin import getPlugins
from twisted.python import usage

from menuchat import tap
from menuchat.config import Limits
from menuchat.service import ChatService
from menuchat.store.memory import MemoryStore
from menuchat.store.sqlite import SQLiteStore


def parse(*argv):
    options = tap.Options()
    options.parseOptions(list(argv))
    return options


def test_twistd_finds_the_plugin():
    makers = {p.tapname: p for p in getPlugins(IServiceMaker)}
    assert "menuchat" in makers
    assert makers["menuchat"].options is tap.Options


def test_defaults_listen_on_tcp_12000_with_the_default_limits():
    options = parse()
    assert options["ports"] == ["tcp:12000"]
    assert options.limits() == Limits()


def test_port_may_be_repeated():
    options = parse("--port", "tcp:0:interface=127.0.0.1", "-p", "unix:/tmp/mc.sock")
    assert options["ports"] == ["tcp:0:interface=127.0.0.1", "unix:/tmp/mc.sock"]


def test_every_limit_is_an_option():
    argv = []
    expected = {}
    for n, field in enumerate(attrs.fields(Limits), start=1):
        value = n + 1 if field.type in (int, "int") else n + 0.5
        argv += [f"--{field.name.replace('_', '-')}", str(value)]
        expected[field.name] = value
    assert attrs.asdict(parse(*argv).limits()) == expected


@pytest.mark.parametrize(
    "argv",
    [
        ["--max-clients", "0"],
        ["--max-line-length", "-5"],
        ["--line-rate", "-1"],
        ["--login-timeout", "soon"],
        ["--mailbox-size", "1.5"],
        ["--port", "nonsense:1"],
        ["--port", "tcp:notaport"],
    ],
)
def test_bad_values_are_usage_errors(argv):
    with pytest.raises(usage.UsageError):
        parse(*argv)


def test_zero_disables_rate_and_timeouts():
    limits = parse("--line-rate", "0", "--login-timeout", "0").limits()
    assert (limits.line_rate, limits.login_timeout) == (0, 0)


def test_help_documents_every_option():
    text = str(tap.Options())
    for field in attrs.fields(Limits):
        assert f"--{field.name.replace('_', '-')}=" in text
    assert "--port=" in text


@pytest.mark.parametrize(
    ("given", "listened"),
    [
        ("tcp:12000", "tcp:12000:backlog=4096"),
        ("tcp:0:interface=127.0.0.1", "tcp:0:interface=127.0.0.1:backlog=4096"),
        ("tcp:5000:backlog=10", "tcp:5000:backlog=10"),
        ("tcp6:5000", "tcp6:5000:backlog=4096"),
        ("unix:/tmp/x.sock", "unix:/tmp/x.sock"),
    ],
)
def test_tcp_ports_get_a_deep_backlog(given, listened):
    assert tap.with_backlog(given) == listened


def test_make_service_listens_on_every_port_with_one_factory():
    service = tap.makeService(parse("-p", "tcp:0", "-p", "tcp:0:interface=127.0.0.1"))
    ports = [s for s in service if isinstance(s, StreamServerEndpointService)]
    assert len(ports) == 2
    assert ports[0].factory is ports[1].factory
    assert ports[0].factory.limits == Limits()


def test_the_store_is_sqlite_in_the_working_directory_by_default(tmp_path):
    options = parse()
    assert options["db"] == "menuchat.sqlite3"
    store = tap.make_store(str(tmp_path / "x.sqlite3"), object())
    assert isinstance(store, SQLiteStore)
    assert isinstance(tap.make_store(":memory:", object()), MemoryStore)
    assert not (tmp_path / "x.sqlite3").exists()


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        ("missing/x.sqlite3", None, "does not exist"),
        ("random.sqlite3", b"\x00not sqlite" * 100, "not an SQLite database"),
    ],
)
def test_a_bad_db_is_a_usage_error_naming_it(tmp_path, name, content, reason):
    path = tmp_path / name
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(usage.UsageError, match=f"^--db {path}: .*{reason}"):
        parse("--db", str(path))
    assert content is None or path.read_bytes() == content
    options = tap.Options()
    with pytest.raises(usage.UsageError):
        options.parseOptions(["--db", str(path)])
    assert "\n" not in options.getUsage()


@pytest_twisted.ensureDeferred
async def test_ports_listen_only_once_the_store_is_open():
    from twisted.internet import reactor

    class LateStore(MemoryStore):
        def __init__(self):
            super().__init__()
            self.opened = Deferred()

        def start(self):
            return self.opened

    store = LateStore()
    service = ChatService(store, reactor, Limits(), ["tcp:0:interface=127.0.0.1"])
    (port,) = list(service)
    service.privilegedStartService()
    started = service.startService()
    assert not port.running and port._waitingForPort is None
    store.opened.callback(None)
    await started
    assert port.running and port._waitingForPort is not None
    await service.stopService()
