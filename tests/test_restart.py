"""A real twistd on an SQLite file, stopped and started again: accounts,
mail that waited and a registered owner's room with its history outlive it.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest
import pytest_twisted
from twisted.internet import reactor

from tests.realserver import (
    JOIN_ROOM_PROMPT,
    LINE,
    MESSAGE_PROMPT,
    NAME_PROMPT,
    NEW_PASSWORD_PROMPT,
    NEW_ROOM_PROMPT,
    OPTION_PROMPT,
    PASSWORD_AGAIN_PROMPT,
    PASSWORD_PROMPT,
    RECIPIENT_PROMPT,
    TIMEOUT,
    LineClient,
    ServerProcess,
    connect,
    login,
)

pytestmark = pytest.mark.timeout(120)


async def register(client: LineClient, password: str) -> None:
    """Option 8 for a guest: register its name with C{password}."""
    client.send("8")
    await client.expect_prompt(NEW_PASSWORD_PROMPT)
    client.send(password)
    await client.expect_prompt(PASSWORD_AGAIN_PROMPT)
    client.send(password)
    await client.expect(lambda i: i.kind == LINE and ("is registered to you" in i.text))
    await client.expect_prompt(OPTION_PROMPT)


async def log_in(port: int, name: str, password: str) -> tuple[LineClient, str]:
    """A registered user logged in; the line after its id (mail waiting?)."""
    client = await connect(reactor, port)
    await client.expect_prompt(NAME_PROMPT)
    client.send(name)
    await client.expect_prompt(PASSWORD_PROMPT)
    client.send(password)
    await client.expect(lambda i: i.kind == LINE and (i.text.startswith("Client ID: ")))
    after = await client.expect(lambda i: i.kind == LINE and (True))
    await client.expect_prompt(OPTION_PROMPT)
    return client, after.text


async def leave(client: LineClient) -> None:
    client.send("/quit")  # at the menu and in a room alike
    await client.expect_line("Goodbye")
    await client.lost.addTimeout(TIMEOUT, reactor)


@pytest_twisted.ensureDeferred
async def test_mail_to_an_offline_account_survives_sigkill(tmp_path: Path) -> None:
    db, logfile = tmp_path / "chat.sqlite3", tmp_path / "menuchat.log"
    with ServerProcess(logfile, ["--db", str(db)]) as server:
        nina, _ = await login(reactor, server.port, "Nina")
        await register(nina, "correct horse")
        await leave(nina)
        jose, _ = await login(reactor, server.port, "Jose")
        jose.send("2")
        await jose.expect_prompt(MESSAGE_PROMPT)
        jose.send("Lunch at noon?")
        await jose.expect_prompt(RECIPIENT_PROMPT)
        jose.send("nina")
        await jose.expect_line("Message sent!")
        os.kill(server.pid, signal.SIGKILL)
        assert server.proc is not None
        assert server.proc.wait(TIMEOUT) == -signal.SIGKILL
        await jose.lost.addTimeout(TIMEOUT, reactor)

    with ServerProcess(logfile, ["--db", str(db)]) as again:
        nina, waiting = await log_in(again.port, "nina", "correct horse")
        assert waiting == "You have 1 unread messages."
        nina.send("3")
        await nina.expect_line("My messages:")
        listed = await nina.expect(
            lambda i: i.kind == LINE and ("(from: Jose)" in i.text)
        )
        assert "Lunch at noon?" in listed.text
        await leave(nina)
        # A guest cannot take the name, whatever its spelling.
        guest = await connect(reactor, again.port)
        await guest.expect_prompt(NAME_PROMPT)
        guest.send("NINA")
        await guest.expect_prompt(PASSWORD_PROMPT)
        guest.send("guessing")
        await guest.expect(lambda i: i.kind == LINE and ("wrong password" in i.text))
        await guest.expect_prompt(NAME_PROMPT)
        again.terminate()
        assert "Traceback" not in again.log()


@pytest_twisted.ensureDeferred
async def test_a_registered_owners_room_and_its_history_outlive_a_restart(
    tmp_path: Path,
) -> None:
    db, logfile = tmp_path / "chat.sqlite3", tmp_path / "menuchat.log"
    with ServerProcess(logfile, ["--db", str(db)]) as server:
        nina, _ = await login(reactor, server.port, "Nina")
        await register(nina, "correct horse")
        nina.send("4")
        await nina.expect_prompt(NEW_ROOM_PROMPT)
        nina.send("maths")
        await nina.expect_line("Type 'exit' to close the chat room.")
        nina.send("/topic Exams on Friday")
        await nina.expect(lambda i: i.kind == LINE and ("set the topic" in i.text))
        for line in ("Bring a calculator", "Chapter 4 first"):
            nina.send(line)
            await nina.expect_line(f"Nina> {line}")
        nina.send("bye")  # the owner leaves; the room stays
        await nina.expect_prompt(OPTION_PROMPT)
        await leave(nina)
        server.terminate()

    with ServerProcess(logfile, ["--db", str(db)]) as again:
        jose, _ = await login(reactor, again.port, "Jose")
        jose.send("7")
        await jose.expect_line("Chat rooms: maths (0)")
        jose.send("5")
        await jose.expect_prompt(JOIN_ROOM_PROMPT)
        jose.send("maths")
        await jose.expect_line("Joined to chat room maths")
        await jose.expect_line("Topic: Exams on Friday")
        await jose.expect_line("In this room: Jose")
        first = await jose.expect(lambda i: i.kind == LINE and ("Nina> " in i.text))
        second = await jose.expect(lambda i: i.kind == LINE and ("Nina> " in i.text))
        assert first.text.endswith("] Nina> Bring a calculator")
        assert second.text.endswith("] Nina> Chapter 4 first")
        await leave(jose)
        again.terminate()
        assert "Traceback" not in again.log()
