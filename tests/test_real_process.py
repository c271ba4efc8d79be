"""The server as it runs: a real ``twistd -n menuchat`` process over loopback.

A member who stops reading while a room is flooded is dropped, and the
server's memory stays bounded while the members who read get every line;
connections that come and go by the hundred, some abruptly, leave no user
behind; SIGTERM tells every connected user and exits cleanly.
"""

from __future__ import annotations

import re
import signal
import socket
import sys
import time

import pytest
import pytest_twisted
from twisted.internet import defer, reactor, task
from twisted.trial.unittest import SynchronousTestCase

from tests.realserver import (
    LINE,
    NAME_PROMPT,
    OPTION_PROMPT,
    TIMEOUT,
    LineClient,
    ServerProcess,
    churn_cycle,
    connect,
    login,
)

pytestmark = pytest.mark.timeout(120)

MIB = 1024
PAD = "x" * 180
# twistd stops cleanly on SIGTERM, then ends by the same signal, as Unix
# programs do (twisted.application.app._exitWithSignal); 0 would do as well.
# The log tells a clean stop from a kill.
CLEAN_EXIT = (0, -signal.SIGTERM)
FLOOD_LIMIT = 100_000  # lines per speaker: 20 MB, far past any socket buffer


def _assert_clean_log(server: ServerProcess) -> None:
    log = server.log()
    assert "Traceback" not in log, log[-4000:]
    assert "Unhandled" not in log, log[-4000:]


async def _enter_room(client: LineClient, option: str, room: str) -> None:
    client.send(option, room)
    header = "Chat Room " if option == "4" else "Joined to chat room "
    await client.expect_line(header + room)


def _raw_member(port: int, name: str, room: str) -> socket.socket:
    """A blocking socket with a tiny receive buffer, logged in and in C{room}.

    It is left unread from then on: a member whose terminal stalls.
    """
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.settimeout(TIMEOUT)
    sock.connect(("127.0.0.1", port))
    _read_until(sock, NAME_PROMPT.encode())
    sock.sendall(f"{name}\r\n".encode())
    _read_until(sock, OPTION_PROMPT.encode())
    sock.sendall(f"5\r\n{room}\r\n".encode())
    _read_until(sock, f"Joined to chat room {room}\r\n".encode())
    return sock


def _read_until(sock: socket.socket, marker: bytes) -> bytes:
    data = b""
    while marker not in data:
        chunk = sock.recv(65536)
        if not chunk:
            raise AssertionError(f"closed before {marker!r}; got {data!r}")
        data += chunk
    return data


@pytest_twisted.ensureDeferred
async def test_flooded_room_drops_the_member_who_never_reads(logfile):
    max_output = 256 * 1024
    options = ["--line-rate", "0", "--max-output", str(max_output)]
    with ServerProcess(logfile, options) as server:
        ana, _ = await login(reactor, server.port, "ana")
        await _enter_room(ana, "4", "flood")
        ben, _ = await login(reactor, server.port, "ben")
        await _enter_room(ben, "5", "flood")
        cy, _ = await login(reactor, server.port, "cy")
        await _enter_room(cy, "5", "flood")
        stalled = _raw_member(server.port, "stuck", "flood")
        dropped_line = re.compile(
            rf"127\.0\.0\.1:{stalled.getsockname()[1]} dropped: (\d+) bytes of"
            rf" output unread, over the limit of {max_output}"
        )
        for reader in (ana, ben, cy):
            await reader.watch(lambda i: i.text == "stuck joined")

        before = server.rss_kib()
        peak = [before]
        sampler = task.LoopingCall(lambda: peak.append(server.rss_kib()))
        sampler.clock = reactor
        sampler.start(0.05)
        speakers = (("ana", ana), ("ben", ben))
        sent: dict[str, list[str]] = {"ana": [], "ben": []}
        dropped = None
        after_drop = 0
        try:
            # Each speaker sends a window of lines and waits for its own echo:
            # a flood paced by readers who keep up, which a member who never
            # reads cannot keep up with. It goes on a while after the drop.
            while after_drop < 20:
                assert len(sent["ana"]) < FLOOD_LIMIT, "never dropped"
                for speaker, client in speakers:
                    first = len(sent[speaker])
                    window = [
                        f"{speaker}{n:06d}{PAD}" for n in range(first, first + 50)
                    ]
                    sent[speaker] += window
                    client.send(*window)
                for speaker, client in speakers:
                    last = f"{speaker}> {sent[speaker][-1]}"
                    await client.expect(lambda i, last=last: i.text == last)
                dropped = dropped or dropped_line.search(server.log())
                after_drop += dropped is not None
            last_lines = {f"{s}> {texts[-1]}" for s, texts in sent.items()}
            for reader in (ana, ben, cy):
                seen: set[str] = set()

                def heard_the_last_lines(item, seen=seen):
                    if item.text in last_lines:
                        seen.add(item.text)
                    return len(seen) == len(last_lines)

                await reader.watch(heard_the_last_lines)
        finally:
            sampler.stop()

        # Every reader got every line of both speakers, in the order said.
        for reader in (ana, ben, cy):
            lines = reader.lines()
            for speaker, texts in sent.items():
                heard = [
                    line.removeprefix(f"{speaker}> ")
                    for line in lines
                    if line.startswith(f"{speaker}> ")
                ]
                assert heard == texts, f"{speaker}'s lines as heard are not as said"
            assert "stuck disconnected from the chat." in lines

        # The stalled member was dropped for its unread output; the log says so,
        # and what it can still read ends in a reset or an end.
        assert dropped is not None
        assert int(dropped.group(1)) > max_output
        try:
            while stalled.recv(1 << 20):
                pass
        except ConnectionResetError:
            pass
        finally:
            stalled.close()

        growth = max(peak) - before
        flood = sum(len(t) for texts in sent.values() for t in texts)
        assert growth < 64 * MIB, f"RSS grew by {growth} KiB under {flood} bytes"

        for client in (ana, ben, cy):
            client.transport.loseConnection()
        assert server.terminate() in CLEAN_EXIT
        _assert_clean_log(server)


CYCLES = 500
CONCURRENCY = 20


async def _list_until_alone(client: LineClient, expected: str) -> str:
    """Ask for the user list until it is C{expected}, for at most L{TIMEOUT}.

    A connection the client closed may still be on its way to the server.
    """
    deadline = time.monotonic() + TIMEOUT
    while True:
        client.send("1")
        listing = (await client.expect_line("Users in server: ")).text
        if listing == expected or time.monotonic() > deadline:
            return listing
        await task.deferLater(reactor, 0.05, lambda: None)


@pytest_twisted.ensureDeferred
async def test_churn_leaves_no_user_behind(logfile):
    with ServerProcess(logfile) as server:
        cycles = iter(range(CYCLES))

        async def worker() -> None:
            for n in cycles:
                await churn_cycle(reactor, server.port, n)

        workers = [defer.ensureDeferred(worker()) for _ in range(CONCURRENCY)]
        await defer.gatherResults(workers, consumeErrors=True).addTimeout(90, reactor)

        last, last_id = await login(reactor, server.port, "last")
        expected = f"Users in server: last:{last_id}"
        assert await _list_until_alone(last, expected) == expected
        # The rooms of owners who dropped are gone.
        last.send("5", "room4")
        said = await last.expect_line("Error: ")
        assert "room4" in said.text
        last.transport.loseConnection()
        await last.lost.addTimeout(TIMEOUT, reactor)

        # Every connection the server let in, it let go.
        server.wait_until_idle()
        assert server.log().count(" disconnected (") == CYCLES + 1
        assert server.terminate() in CLEAN_EXIT
        assert "Stopping: closing" not in server.log()
        _assert_clean_log(server)


@pytest_twisted.ensureDeferred
async def test_sigterm_tells_every_user_and_exits_cleanly(logfile):
    with ServerProcess(logfile) as server:
        port = server.port
        nameless = await connect(reactor, port)
        await nameless.expect_prompt(NAME_PROMPT)
        idle, _ = await login(reactor, port, "idle")
        owner, _ = await login(reactor, port, "owner")
        await _enter_room(owner, "4", "den")
        member, _ = await login(reactor, port, "member")
        await _enter_room(member, "5", "den")
        writing, _ = await login(reactor, port, "writing")
        writing.send("2")
        await writing.expect_prompt("Enter your message: ")
        everyone = [nameless, idle, owner, member, writing]

        server.proc.terminate()
        for client in everyone:
            said = await client.expect(lambda i: "going down" in i.text)
            assert said.kind == LINE
            await client.lost.addTimeout(TIMEOUT, reactor)
            assert client.closed
        status = server.proc.wait(TIMEOUT)

        assert status in CLEAN_EXIT
        log = server.log()
        assert "Stopping: closing 5 connections" in log
        assert "Main loop terminated." in log
        assert "Server Shut Down." in log
        _assert_clean_log(server)


if "tests.conftest" not in sys.modules:
    # Under trial, which never loads conftest: say why nothing runs here
    # rather than pass with no test run.
    class UnderTrial(SynchronousTestCase):
        skip = "needs pytest: real TCP through pytest-twisted fixtures"

        def test_run_these_under_pytest(self):
            """Skipped."""
