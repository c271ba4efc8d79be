"""End to end over real loopback TCP on an ephemeral port."""

import socket
import sys

import pytest
import pytest_twisted
from twisted.internet import defer, reactor
from twisted.trial.unittest import SynchronousTestCase

from tests.chatclient import TIMEOUT, connect, login

PROMPT = "Your option <enter a number>: "


@pytest_twisted.ensureDeferred
async def test_three_users_through_all_six_options(server):
    factory, port = server
    ana, ana_id = await login(port, "Ana")
    ben, ben_id = await login(port, "Ben")
    cam, cam_id = await login(port, "Cam")
    assert len({ana_id, ben_id, cam_id}) == 3

    # 1. Who is online.
    ana.send("1")
    text = await ana.expect(PROMPT)
    assert (
        f"Users in server: Ana:{ana_id}, Ben:{ben_id}, Cam:{cam_id}\r\n".encode()
        in text
    )

    # 2. A private message; Ben is told at once.
    ana.send("2")
    await ana.expect("Enter your message: ")
    ana.send("Hello Ben!")
    await ana.expect("Enter recipient id: ")
    ana.send(str(ben_id))
    assert b"Message sent!\r\n" in await ana.expect(PROMPT)
    await ben.expect(f"New message from Ana:{ana_id}")

    # 3. Ben reads it, once.
    ben.send("3")
    text = await ben.expect("(from: Ana)\r\n")
    assert b"My messages:\r\n" in text and b": Hello Ben! (from: Ana)" in text
    ben.send("3")
    assert (await ben.expect("\r\n")).endswith(b"You have no messages.\r\n")

    # 4. Cam opens a room; 5. Ana and Ben join it.
    cam.send("4", "den")
    await cam.expect("Type 'exit' to close the chat room.\r\n")
    ana.send("5", "den")
    await ana.expect("Type 'bye' to exit this chat room.\r\n")
    await cam.expect("Ana joined\r\n")
    ben.send("5", "den")
    await ben.expect("Joined to chat room den\r\n")
    await cam.expect("Ben joined\r\n")
    await ana.expect("Ben joined\r\n")

    ben.send("Hello")
    for client in (ana, ben, cam):
        await client.expect("Ben> Hello\r\n")

    # A member leaves with bye; the others are told.
    ana.send("bye")
    await ana.expect(PROMPT)
    await cam.expect("Ana left the chat room.\r\n")
    await ben.expect("Ana left the chat room.\r\n")
    cam.send("only us")
    await ben.expect("Cam> only us\r\n")

    # The owner closes the room; Ben is put back at the texts.
    cam.send("exit")
    await cam.expect(PROMPT)
    await ben.expect("closed by its owner.\r\n")
    await ben.expect(PROMPT)

    # 6. Ben leaves cleanly, and is forgotten.
    ben.send("6")
    await ben.expect("Goodbye\r\n")
    await ben.lost.addTimeout(TIMEOUT, reactor)
    ana.send("1")
    text = await ana.expect(PROMPT)
    assert f"Users in server: Ana:{ana_id}, Cam:{cam_id}\r\n".encode() in text

    # A dropped connection is forgotten the same way.
    cam.transport.abortConnection()
    await cam.lost.addTimeout(TIMEOUT, reactor)
    while [u.name for u in factory.hub.users()] != ["Ana"]:
        await deferLater(0.01)
    ana.send("1")
    assert f"Users in server: Ana:{ana_id}\r\n".encode() in await ana.expect(PROMPT)


def deferLater(seconds):
    from twisted.internet import task

    return task.deferLater(reactor, seconds, lambda: None)


@pytest_twisted.ensureDeferred
async def test_owner_dropping_closes_the_room_for_members(server):
    _, port = server
    owner, _ = await login(port, "Owner")
    member, _ = await login(port, "Member")
    owner.send("4", "room")
    await owner.expect("close the chat room.\r\n")
    member.send("5", "room")
    await member.expect("exit this chat room.\r\n")
    owner.transport.abortConnection()
    await member.expect("Chat room room closed: its owner disconnected.\r\n")
    await member.expect(PROMPT)
    member.send("5", "room")
    assert b"there is no chat room 'room'" in await member.expect(PROMPT)


@pytest_twisted.ensureDeferred
async def test_300_users_connecting_at_once_are_all_served(server):
    _, port = server
    names = [f"user{n:03}" for n in range(300)]
    logins = await defer.gatherResults(
        [defer.ensureDeferred(login(port, name)) for name in names]
    )
    ids = [user_id for _, user_id in logins]
    assert len(set(ids)) == 300
    assert all(user_id > 0 for user_id in ids)
    client, _ = logins[0]
    client.send("1")
    listing = (await client.expect(PROMPT)).decode()
    listed = listing.split("Users in server: ")[1].split("\r\n")[0].split(", ")
    assert sorted(listed) == sorted(
        f"{n}:{i}" for n, (_, i) in zip(names, logins, strict=True)
    )
    for other, _ in logins:
        other.transport.loseConnection()
    await defer.gatherResults([c.lost for c, _ in logins]).addTimeout(TIMEOUT, reactor)


@pytest_twisted.ensureDeferred
async def test_accepted_connections_have_tcp_nodelay(server):
    factory, port = server
    await login(port, "Nina")
    (protocol,) = factory.admission.connections
    handle = protocol.transport.getHandle()
    assert handle.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0


@pytest_twisted.ensureDeferred
async def test_a_whole_session_in_one_packet_over_tcp(server):
    _, port = server
    client = await connect(port)
    client.transport.write(b"Pipe\r\n1\r\n4\r\npiperoom\r\nhello\r\nexit\r\n6\r\n")
    await client.lost.addTimeout(TIMEOUT, reactor)
    text = client.buffer.decode()
    for part in [
        "Client Name: Pipe",
        "Users in server: Pipe:",
        "Chat Room piperoom",
        "Pipe> hello",
        "Chat room piperoom is closed.",
        "Goodbye",
    ]:
        assert part in text
    positions = [text.index(p) for p in ["Pipe> hello", "Goodbye"]]
    assert positions == sorted(positions)


@pytest.mark.parametrize("count", [2])
@pytest_twisted.ensureDeferred
async def test_names_raced_in_the_same_instant_go_to_exactly_one(server, count):
    _, port = server
    clients = [await connect(port) for _ in range(count)]
    for client in clients:
        await client.expect("Your id key (i.e your name): ")
    # Both lines go out before either answer can come back.
    clients[0].send("Racer")
    clients[1].send("racer")
    answers = [await c.expect("\r\n") for c in clients]
    winners = [a for a in answers if b"Successfully connected" in a]
    losers = [a for a in answers if b"is taken" in a]
    assert (len(winners), len(losers)) == (1, 1)


if "tests.conftest" not in sys.modules:
    # Under trial, which never loads conftest: say why nothing runs here
    # rather than pass with no test run.
    class UnderTrial(SynchronousTestCase):
        skip = "needs pytest: real TCP through pytest-twisted fixtures"

        def test_run_these_under_pytest(self):
            """Skipped."""
