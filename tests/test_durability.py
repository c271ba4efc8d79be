"""A real twistd on an SQLite file: what it acknowledged survives SIGKILL.

Also: a bad --db ends twistd at once, with one line saying why and status 1.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import pytest_twisted
from twisted.internet import reactor

from menuchat.core.events import Message
from tests.realserver import (
    MESSAGE_PROMPT,
    RECIPIENT_PROMPT,
    ROOT,
    TIMEOUT,
    ServerProcess,
    login,
    twistd_command,
)

pytestmark = pytest.mark.timeout(120)

#: Print the mail of user argv[2] in the SQLite store argv[1] as JSON.
TAKE_MAIL = """
import json, sys
from twisted.internet import task
from menuchat.store.sqlite import SQLiteStore

async def main(reactor):
    store = SQLiteStore(sys.argv[1], reactor)
    await store.start()
    try:
        mail = await store.take_mail(int(sys.argv[2]))
    finally:
        await store.stop()
    print(json.dumps([list(m) for m in mail]))

task.react(lambda reactor: task.Deferred.fromCoroutine(main(reactor)))
"""


@pytest_twisted.ensureDeferred
async def test_an_acknowledged_message_survives_sigkill(tmp_path: Path) -> None:
    db = tmp_path / "chat.sqlite3"
    logfile = tmp_path / "menuchat.log"
    with ServerProcess(logfile, ["--db", str(db)]) as server:
        nina, nina_id = await login(reactor, server.port, "nina")
        jose, jose_id = await login(reactor, server.port, "jose")
        jose.send("2")
        await jose.expect_prompt(MESSAGE_PROMPT)
        jose.send("kept through a kill")
        await jose.expect_prompt(RECIPIENT_PROMPT)
        jose.send(str(nina_id))
        await jose.expect_line("Message sent!")
        # The recipient stays connected: a guest's mail goes when it leaves.
        os.kill(server.pid, signal.SIGKILL)
        assert server.proc is not None
        assert server.proc.wait(TIMEOUT) == -signal.SIGKILL
        for client in (nina, jose):
            await client.lost.addTimeout(TIMEOUT, reactor)

    with ServerProcess(logfile, ["--db", str(db)]) as again:
        late, late_id = await login(reactor, again.port, "late")
        assert late_id > max(nina_id, jose_id)  # ids are never reused
        late.transport.loseConnection()
        await late.lost.addTimeout(TIMEOUT, reactor)
        again.terminate()
        assert "Traceback" not in again.log()

    # The store is read in a process of its own: its thread's answers would
    # come back through this test's reactor, shared with trial's tests.
    read = subprocess.run(
        [sys.executable, "-c", TAKE_MAIL, str(db), str(nina_id)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    (kept,) = [Message(*m) for m in json.loads(read.stdout)]
    assert (kept.text, kept.sender_id, kept.sender_name) == (
        "kept through a kill",
        jose_id,
        "jose",
    )


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        ("random.sqlite3", os.urandom(4096), "not an SQLite database"),
        ("missing/x.sqlite3", None, "does not exist"),
    ],
)
def test_a_bad_db_ends_twistd_with_one_line(tmp_path, name, content, reason):
    path = tmp_path / name
    if content is not None:
        path.write_bytes(content)
    done = subprocess.run(
        [*twistd_command(), "-n", "--pidfile=", "menuchat", "--db", str(path)],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    said = (done.stdout + done.stderr).strip().splitlines()
    assert done.returncode == 1, said
    assert "Traceback" not in done.stderr
    assert len(said) <= 3, said
    assert f"--db {path}: " in said[-1] and reason in said[-1], said
    assert content is None or path.read_bytes() == content
    assert sorted(p.name for p in tmp_path.iterdir()) == (
        [name] if content is not None else []
    )
