"""Mail through restarts: nothing acknowledged is lost, however the server ends.

N clients (default 200), a mix of guests and registered users, send private
messages to registered users (most of them) and to guests online, and the
registered ones read their mail now and then, against a real menuchat on an
SQLite file. The server lives three times on the same file: the first life
ends with SIGTERM, the second with SIGKILL in the middle of the traffic, the
third normally; the clients come back after each restart. At the end every
registered user logs in once more and reads its mailbox.

Then it checks: every message to a registered user that the server
acknowledged ("Message sent!") was read, during the run or at the end, and
nothing was read that no one sent. A message whose answer never came (the
server went down first) may or may not be there: counted apart. A message
read just before a SIGKILL may be read again after it (its delete was not
committed yet): counted as "read twice", never as lost.

Prints the figures; exits 1 if any check fails.

    .venv/bin/python -m bench.restarts                    # 200 clients, 3 x 10 s
    .venv/bin/python -m bench.restarts --clients 40 --registered 10 --seconds 2
"""

from __future__ import annotations

import argparse
import random
import re
import signal
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from twisted.internet import defer, task
from twisted.internet.threads import deferToThread

from menuchat.core.accounts import hash_password
from menuchat.core.names import token_key
from menuchat.store import Account
from menuchat.store.sqlite import SQLiteStore
from tests.realserver import (
    LINE,
    NAME_PROMPT,
    OPTION_PROMPT,
    PASSWORD_PROMPT,
    ClosedError,
    LineClient,
    ServerProcess,
    connect,
)

WAIT = 30.0
GOING_DOWN = "The server is going down."
PASSWORD = "soak-password"
READ_LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d: (.*) \(from: (\S+)\)$")
#: The server's options: caps raised so one address opens every connection.
OPTIONS = ["--max-per-address", "100000", "--max-clients", "100000"]


class Run:
    """What was sent, acknowledged and read, across every life of the server."""

    def __init__(self, args: argparse.Namespace, reactor: Any) -> None:
        self.args = args
        self.reactor = reactor
        self.rng = random.Random(args.seed)
        self.registered = [f"r{n}" for n in range(args.registered)]
        self.ids: dict[str, int] = {}
        self.acked: set[str] = set()  # texts to registered users, acknowledged
        # Sent to registered users, answered by no one: the server went first.
        self.unanswered: set[str] = set()
        self.unanswered_by_end: dict[str, set[str]] = {}
        self.ending = ""
        self.ending_now = False
        self.too_late = 0
        self.killed_at = float("inf")
        self.to_guests = 0
        self.read: Counter[str] = Counter()  # texts read by registered users
        self.refused: Counter[str] = Counter()
        self.failures: list[str] = []
        self.seq = 0
        self.guests_online: dict[int, str] = {}

    async def make_accounts(self, db: Path) -> None:
        """The registered users, straight into the store before the first start."""
        store = SQLiteStore(str(db), self.reactor)
        await store.start()
        password_hash = hash_password(PASSWORD)
        ids = await store.reserve_ids(len(self.registered))
        for name, user_id in zip(self.registered, ids, strict=True):
            account = Account(user_id, name, token_key(name), password_hash, 0.0)
            await store.create_account(account)
            self.ids[name] = user_id
        await store.stop()

    async def log_in(self, port: int, name: str) -> LineClient:
        client = await connect(self.reactor, port, WAIT)
        await client.expect_prompt(NAME_PROMPT, WAIT)
        client.send(name)
        if name in self.ids:
            await client.expect_prompt(PASSWORD_PROMPT, WAIT)
            client.send(PASSWORD)
        said = await client.expect(
            lambda i: i.kind == LINE and i.text.startswith(("Client ID: ", "Error: ")),
            WAIT,
        )
        if said.text.startswith("Error: "):
            raise RuntimeError(f"{name}: {said.text}")
        await client.expect_prompt(OPTION_PROMPT, WAIT)
        return client

    async def read_mail(self, client: LineClient) -> None:
        client.send("3")
        head = await client.expect(
            lambda i: (
                i.kind == LINE and i.text in ("My messages:", "You have no messages.")
            ),
            WAIT,
        )
        if head.text == "My messages:":
            while True:
                item = await client.expect(
                    lambda i: i.kind == LINE or i.text == OPTION_PROMPT, WAIT
                )
                if item.kind != LINE:
                    break
                found = READ_LINE.match(item.text)
                if found:
                    self.read[found.group(1)] += 1

    async def send(self, client: LineClient, name: str) -> None:
        rng = self.rng
        if rng.random() < 0.8 or not self.guests_online:
            to_guest = False
            recipient = self.ids[rng.choice(self.registered)]
        else:
            to_guest = True
            recipient = rng.choice(list(self.guests_online))
        self.seq += 1
        text = f"pm-{name}-{self.seq}"
        if not to_guest:
            self.unanswered.add(text)
            self.unanswered_by_end.setdefault(self.ending, set()).add(text)
        sent_at = time.monotonic()
        client.send("2", text, str(recipient))
        try:
            answer = await client.expect(
                lambda i: (
                    i.kind == LINE
                    and (i.text == "Message sent!" or i.text.startswith("Error: "))
                ),
                WAIT,
            )
        except ClosedError:
            told = [i for i in client.items if i.text.startswith(GOING_DOWN)]
            late = (told and told[0].at < sent_at) or sent_at > self.killed_at
            if not to_guest and late:
                # Sent after the server said goodbye, or was killed: it read
                # no more.
                self.unanswered.discard(text)
                self.unanswered_by_end[self.ending].discard(text)
                self.too_late += 1
            raise
        if to_guest:
            self.to_guests += answer.text == "Message sent!"
            return
        self.unanswered.discard(text)
        self.unanswered_by_end[self.ending].discard(text)
        if answer.text == "Message sent!":
            self.acked.add(text)
        else:
            self.refused[answer.text.split(";")[0]] += 1

    async def client(self, port: int, name: str, until: float) -> None:
        """One user for one life of the server: sends, and reads if registered,
        until C{until} or until the server goes."""
        rng = self.rng
        try:
            client = await self.log_in(port, name)
        except Exception as e:  # refused, reset, timed out: the server went
            if not self.ending_now:
                self.failures.append(f"{name} could not log in: {e!r}")
            return
        guest_id = None
        if name not in self.ids:
            guest_id = int(
                next(
                    i.text.removeprefix("Client ID: ")
                    for i in client.items
                    if i.text.startswith("Client ID: ")
                )
            )
            self.guests_online[guest_id] = name
        try:
            while time.monotonic() < until:
                await task.deferLater(
                    self.reactor, rng.uniform(0.05, 0.3), lambda: None
                )
                if name in self.ids and rng.random() < 0.25:
                    await self.read_mail(client)
                else:
                    await self.send(client, name)
        except (ClosedError, defer.TimeoutError):
            pass  # the server went down under it
        finally:
            if guest_id is not None:
                self.guests_online.pop(guest_id, None)
            if client.transport is not None:
                client.transport.abortConnection()

    async def life(self, server: ServerProcess, seconds: float, end: str) -> None:
        """Everyone, for C{seconds}; then the server ends as C{end} says."""
        self.ending = end
        # Through a SIGTERM or SIGKILL the clients go on until the server
        # is gone under them; at the end they stop at the deadline.
        until = time.monotonic() + seconds if end == "stay" else float("inf")
        guests = self.args.clients - len(self.registered)
        life = server.logfile.stem
        names = [*self.registered, *(f"g{n}{life}" for n in range(guests))]
        clients = [
            defer.ensureDeferred(self.client(server.port, name, until))
            for name in names
        ]
        self.ending_now = False
        if end != "stay":
            await task.deferLater(self.reactor, seconds, lambda: None)
            self.ending_now = True
            if end == "kill":
                self.killed_at = time.monotonic()
                server.kill()
            else:
                await self.stopped(server, "SIGTERM")
        await defer.gatherResults(clients)

    async def stopped(self, server: ServerProcess, what: str) -> None:
        """SIGTERM, waited for off the reactor; a clean stop or a failure."""
        status = await deferToThread(server.terminate, WAIT)
        log = server.log()
        if status not in CLEAN_EXIT or "Traceback" in log:
            self.failures.append(f"{what}: exit status {status}, log {server.logfile}")


#: twistd stops cleanly on SIGTERM, then ends by the same signal.
CLEAN_EXIT = (0, -signal.SIGTERM)


def parse(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench.restarts")
    p.add_argument("--clients", type=int, default=200)
    p.add_argument("--registered", type=int, default=100)
    p.add_argument("--seconds", type=float, default=10.0, help="per life")
    p.add_argument("--seed", type=int, default=1)
    return p.parse_args(argv)


async def soak(reactor: Any, args: argparse.Namespace, workdir: Path) -> Run:
    """The three lives of the server on one file in C{workdir}, and the
    last reading of every mailbox."""
    run = Run(args, reactor)
    db = workdir / "menuchat.sqlite3"
    await run.make_accounts(db)
    for number, end in enumerate(("term", "kill", "stay"), 1):
        server = ServerProcess(
            workdir / f"life{number}.log", ["--db", str(db), *OPTIONS]
        )
        server.start()
        try:
            await run.life(server, args.seconds, end)
            if end == "stay":
                # The end: every registered user reads what waits for it.
                for name in run.registered:
                    client = await run.log_in(server.port, name)
                    await run.read_mail(client)
                    client.transport.abortConnection()
                await run.stopped(server, "the last SIGTERM")
        finally:
            server.kill()
    return run


def problems(run: Run) -> list[str]:
    """What went wrong: failures on the way, messages lost or made up."""
    found = list(run.failures)
    lost = sorted(run.acked - set(run.read))
    unknown = set(run.read) - run.acked - run.unanswered
    if lost:
        found.append(f"{len(lost)} acknowledged messages lost, e.g. {lost[:5]}")
    if unknown:
        found.append(
            f"{len(unknown)} messages read that no one sent: {sorted(unknown)[:5]}"
        )
    if not run.acked:
        found.append("nothing was acknowledged")
    return found


async def main(reactor: Any, *argv: str) -> None:
    args = parse(list(argv))
    workdir = Path(tempfile.mkdtemp(prefix="menuchat-restarts-"))
    started = time.monotonic()
    run = await soak(reactor, args, workdir)
    report(run, time.monotonic() - started, workdir)


def report(run: Run, seconds: float, workdir: Path) -> None:
    """Print the figures; exit with status 1 on any problem."""
    lost = run.acked - set(run.read)
    twice = sum(1 for n in run.read.values() if n > 1)
    found = len(run.unanswered & set(run.read))
    print(
        f"{run.args.clients} clients ({len(run.registered)} registered), 3 lives"
        f" (SIGTERM, SIGKILL, end), {seconds:.0f} s in all"
    )
    print(f"  acknowledged to registered users: {len(run.acked)}")
    print(
        f"  read by them (during the run or at the end): {len(run.acked) - len(lost)}"
    )
    print(f"  acknowledged and lost: {len(lost)}")
    print(
        f"  unanswered when the server went: {len(run.unanswered)}"
        f" (found {found}, gone {len(run.unanswered) - found})"
    )
    for end, texts in run.unanswered_by_end.items():
        if texts:
            print(f"    at {end}: {len(texts)}, found {len(texts & set(run.read))}")
    print(f"  sent after the server said goodbye or was killed: {run.too_late}")
    print(f"  read twice (read just before the kill): {twice}")
    print(f"  acknowledged to guests: {run.to_guests}")
    if run.refused:
        print(f"  refused: {dict(run.refused)}")
    wrong = problems(run)
    for problem in wrong[:20]:
        print(f"FAIL: {problem}")
    print("OK" if not wrong else f"FAILED ({len(wrong)} problems); logs in {workdir}")
    if wrong:
        raise SystemExit(1)


if __name__ == "__main__":
    task.react(
        lambda reactor, *argv: defer.ensureDeferred(main(reactor, *argv)), sys.argv[1:]
    )
