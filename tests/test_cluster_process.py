"""Two real ``twistd -n menuchat --redis`` nodes and a real redis-server:
one server to a telnet user on node a and an IRC user on node b. Every wait
is on a port, a log line or an expected line; every process is stopped by
its pid."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest
import pytest_twisted
from twisted.internet.endpoints import TCP4ClientEndpoint, connectProtocol
from twisted.trial.unittest import SynchronousTestCase

from tests.realserver import ServerError, ServerProcess, login
from tests.redisserver import RedisServer, free_port
from tests.test_irc_tcp import Recorder

TTL = "1"


@pytest.fixture
def redis():
    server = RedisServer().start()
    yield server
    server.close()


def node(redis: RedisServer, tmp: Path, name: str, *extra: str) -> ServerProcess:
    return ServerProcess(
        tmp / f"{name}.log",
        ["--redis", redis.url, "--node", name, "--node-ttl", TTL, *extra],
    )


async def who(client, expected: str) -> None:
    """Ask /who until the list matches the pattern C{expected} (another
    node's news comes through Redis, a moment later)."""
    for _ in range(100):
        client.send("/who")
        said = await client.expect_line("Users in server: ")
        if re.fullmatch(expected, said.text.removeprefix("Users in server: ")):
            return
    raise AssertionError(f"{said.text!r} is not {expected!r}")


@pytest_twisted.ensureDeferred
async def test_a_telnet_user_and_an_irc_user_on_two_nodes(redis, tmp_path):
    from twisted.internet import reactor

    a = node(redis, tmp_path, "a")
    b = node(redis, tmp_path, "b", "--irc-port", "tcp:0:interface=127.0.0.1")
    with a.start(), b.start():
        irc_port = int(b.wait_for_log(r"IRCFactory starting on (\d+)").group(1))
        nina, nina_id = await login(reactor, a.port, "Nina")
        nina.send("/create lobby")
        await nina.expect_line("Chat Room lobby")

        ircy = Recorder("ircy")
        await connectProtocol(TCP4ClientEndpoint(reactor, "127.0.0.1", irc_port), ircy)
        await ircy.expect("signedOn")
        # Ids come from blocks each node reserves: ircy's is not Nina's + 1.
        await who(nina, rf"Nina:{nina_id}, ircy:\d+")
        ircy.join("lobby")
        await ircy.expect("joined", "#lobby")
        await nina.expect_line("ircy joined")

        nina.send("hello from a")
        await ircy.expect("privmsg", "Nina", "#lobby", "hello from a")
        ircy.say("#lobby", "hello from b")
        await nina.expect_line("ircy> hello from b")

        # Mail both ways: the IRC user gets it at once, the menu user a notice.
        nina.send("/msg ircy a private word")
        await nina.expect_line("Message sent!")
        await ircy.expect("privmsg", "Nina", "ircy", "a private word")
        ircy.msg("Nina", "one back")
        await nina.expect_line("New message from ircy")
        nina.send("/read")
        read = await nina.expect(lambda item: "one back (from: ircy)" in item.text)
        assert read.text.endswith(": one back (from: ircy)")

        # A name is one across nodes.
        with pytest.raises(ServerError):
            await login(reactor, b.port, "NINA")

        # Node b is killed: node a's users see its user dropped within the
        # TTL, and its name is free again.
        b.kill()
        await nina.expect_line("ircy disconnected", timeout=10)
        await who(nina, f"Nina:{nina_id}")
        again, _ = await login(reactor, a.port, "ircy")
        again.transport.loseConnection()
        nina.transport.loseConnection()


@pytest_twisted.ensureDeferred
async def test_a_name_race_between_nodes_has_one_winner(redis, tmp_path):
    from twisted.internet import reactor
    from twisted.internet.defer import DeferredList, ensureDeferred

    a, b = node(redis, tmp_path, "a"), node(redis, tmp_path, "b")
    with a.start(), b.start():
        for n in range(5):
            results = await DeferredList(
                [
                    ensureDeferred(login(reactor, a.port, f"racer{n}")),
                    ensureDeferred(login(reactor, b.port, f"RACER{n}")),
                ],
                consumeErrors=True,
            )
            won = [value for ok, value in results if ok]
            assert len(won) == 1, results
            for ok, value in results:
                if not ok:
                    value.trap(ServerError)
            won[0][0].transport.loseConnection()


def test_redis_unreachable_at_start_is_one_line(tmp_path):
    port = free_port()
    server = ServerProcess(
        tmp_path / "alone.log", ["--redis", f"redis://127.0.0.1:{port}/0"]
    )
    line = (
        f"menuchat: cannot reach Redis at redis://127.0.0.1:{port}/0:"
        " Connection was refused by other side: 111: Connection refused\n"
    )
    try:
        # The port is bound (and logged) before the store is opened.
        server.start(timeout=20)
    except ServerError as e:  # or twistd ended first: start() read stderr
        assert f"twistd exited with 1 before listening:\n{line}\n" in str(e)
        return
    with server:
        assert server.proc is not None
        assert server.proc.wait(timeout=20) == 1
        assert server.proc.stderr.read().decode() == line


if "tests.conftest" not in sys.modules:
    # Under trial, which never loads conftest: say why nothing runs here.
    class UnderTrial(SynchronousTestCase):
        skip = "needs pytest: real twistd processes through pytest-twisted"

        def test_run_these_under_pytest(self):
            """Skipped."""
