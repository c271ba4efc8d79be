"""Churn: many connect, log-in, leave cycles against a real menuchat process.

Each cycle connects, gives a name and leaves in one of six ways (before a
name, option 6, close, reset, reset while owning a room, close in the middle
of sending a message), with a bounded number of cycles at once. After the
warm-up cycles and again at the end, once the server's log shows every
connection gone, the server's RSS is read; at the end a new client's user
list must show that client alone. Prints the figures; exits 1 if a cycle
failed, a user was left behind, the server logged a traceback, or RSS grew
past the margin.

    .venv/bin/python -m bench.churn                 # 10,000 cycles
    .venv/bin/python -m bench.churn --cycles 2000 --warmup 500
"""

from __future__ import annotations

import argparse
import itertools
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from twisted.internet import defer, task

from tests.realserver import (
    TIMEOUT,
    ServerProcess,
    churn_cycle,
    login,
)


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cycles", type=int, default=10_000)
    parser.add_argument("--warmup", type=int, default=1_000)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument(
        "--block", type=int, default=1000, help="cycles between RSS samples"
    )
    parser.add_argument(
        "--margin-kib",
        type=int,
        default=2048,
        help="RSS growth allowed after the warm-up, in KiB (default 2048)",
    )
    parser.add_argument(
        "--max-per-address",
        type=int,
        default=1000,
        help="passed to the server: every client comes from 127.0.0.1",
    )
    return parser.parse_args(argv)


async def run_cycles(
    reactor: object, port: int, numbers: range, concurrency: int, ways: Counter
) -> list[str]:
    """Run cycle C{n} for each of C{numbers}, C{concurrency} at a time."""
    failures: list[str] = []
    pending = iter(numbers)

    async def worker() -> None:
        for n in pending:
            try:
                ways[await churn_cycle(reactor, port, n)] += 1
            except Exception as e:
                failures.append(f"cycle {n}: {e!r}")

    await defer.gatherResults(
        [defer.ensureDeferred(worker()) for _ in range(concurrency)]
    )
    return failures


async def final_listing(reactor: object, port: int) -> tuple[str, str]:
    """Log in a new client; return the user list it gets and the one expected."""
    client, user_id = await login(reactor, port, "final")
    client.send("1")
    listing = (await client.expect_line("Users in server: ")).text
    client.send("6")
    await client.expect_line("Goodbye")
    await client.lost.addTimeout(TIMEOUT, reactor)
    return listing, f"Users in server: final:{user_id}"


async def main(reactor: object, *argv: str) -> None:
    args = parse_args(list(argv))
    options = ["--max-per-address", str(args.max_per_address)]
    failed: list[str] = []
    ways: Counter[str] = Counter()
    failures: list[str] = []
    # RSS once every connection of a block is gone: (cycles so far, KiB).
    samples: list[tuple[int, int]] = []
    with (
        tempfile.TemporaryDirectory(prefix="menuchat-churn-") as tmp,
        ServerProcess(Path(tmp) / "menuchat.log", options) as server,
    ):
        print(f"server: pid {server.pid}, port {server.port}, options {options}")
        samples.append((0, server.rss_kib()))
        started = time.monotonic()
        bounds = sorted(
            {0, args.warmup, args.cycles, *range(0, args.cycles, args.block)}
        )
        for first, end in itertools.pairwise(bounds):
            if first == args.warmup:
                measured = time.monotonic()
            failures += await run_cycles(
                reactor, server.port, range(first, end), args.concurrency, ways
            )
            server.wait_until_idle(30)
            samples.append((end, server.rss_kib()))
        elapsed = time.monotonic() - measured
        total = time.monotonic() - started

        listing, expected = await final_listing(reactor, server.port)
        server.wait_until_idle(30)
        log = server.log()
        status = server.terminate()

    rss_warm = dict(samples)[args.warmup]
    rss_end = samples[-1][1]
    growth = rss_end - rss_warm
    after = args.cycles - args.warmup
    print(f"cycles: {sum(ways.values())} done, {len(failures)} failed, {total:.1f} s")
    print(
        f"  after warm-up: {after} cycles in {elapsed:.1f} s"
        f" ({after / elapsed:.0f}/s), {args.concurrency} at a time"
    )
    for way, count in sorted(ways.items()):
        print(f"  left {way}: {count}")
    for failure in failures[:10]:
        print(f"  FAILED {failure}")
    print(f"final user list: {listing!r} (expected {expected!r})")
    print("server RSS (KiB) once idle, by cycles done:")
    print("  " + ", ".join(f"{n}: {kib}" for n, kib in samples))
    print(
        f"  after {args.warmup} warm-up cycles {rss_warm}, at the end {rss_end}:"
        f" {growth:+d} KiB (margin {args.margin_kib} KiB)"
    )
    print(f"server exit status {status}; Traceback in log: {'Traceback' in log}")

    if failures:
        failed.append(f"{len(failures)} cycles failed")
    if listing != expected:
        failed.append("users left behind")
    if growth > args.margin_kib:
        failed.append(f"RSS grew by {growth} KiB")
    if "Traceback" in log:
        failed.append("traceback in the server log")
    if failed:
        print("FAIL: " + "; ".join(failed))
        raise SystemExit(1)
    print("OK")


if __name__ == "__main__":
    task.react(main, sys.argv[1:])
