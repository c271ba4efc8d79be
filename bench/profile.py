"""Profile the menuchat server under one benchmark case with py-spy.

    python -m bench.profile [--scenario fanout] [--size 500] [--seconds 8]
                            [--db :memory:|sqlite]

(--scenario: fanout, busy, private, paced, hold or storm; ircfanout or
ircpaced for the IRC gateway, driven as the benchmark drives it; --db
sqlite runs the server on a fresh SQLite file instead of the memory store.)

Starts ``twistd -n menuchat`` with the scenario's raised options, drives it
with the load generator, samples the server with ``py-spy record --format
raw`` once setup is over, and prints the functions with the most samples of
their own (the innermost frame) and the most samples overall. py-spy is not a
dependency of the project: install it into the venv by hand
(``.venv/bin/pip install py-spy``).
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.plan import IRC_SCENARIOS, IRC_WINDOW, RAISED, loadgen_args
from bench.servers import (
    ROOT,
    BenchError,
    spawn,
    start_menuchat,
    stop_all,
)

#: Scenarios that run for a given time; hold and storm end when all are in.
TIMED = ("fanout", "busy", "private", "paced")

#: What the load generator is given beyond the size, as the benchmark's
#: full plan gives it (IRC fan-out's window; a fixed rate for paced mail).
EXTRA = {
    "paced": ["--rate", "10"],
    "ircfanout": [*IRC_WINDOW],
    "ircpaced": ["--rate", "10"],
}


def _py_spy() -> str | None:
    found = Path(sys.executable).parent / "py-spy"
    return str(found) if found.exists() else shutil.which("py-spy")


def _function(frame: str) -> str:
    """ "f (path/file.py:123)" -> "f (path/file.py)": one entry per function."""
    head, sep, tail = frame.rpartition(":")
    return f"{head})" if sep and tail.rstrip(")").isdigit() else frame


def tally(raw: str) -> tuple[Counter[str], Counter[str], Counter[str], int]:
    """Samples per function (own, inclusive) and per line (own), from raw output.

    py-spy's raw format is one ``frame;frame;...;innermost COUNT`` line per
    distinct stack, frames naming a line; a function counts once per stack
    in the inclusive tally, however often it recurs in it.
    """
    own: Counter[str] = Counter()
    total: Counter[str] = Counter()
    lines: Counter[str] = Counter()
    samples = 0
    for line in raw.splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        frames = stack.split(";")
        samples += n
        lines[frames[-1]] += n
        own[_function(frames[-1])] += n
        for function in {_function(f) for f in frames}:
            total[function] += n
    return own, total, lines, samples


def _short(frame: str) -> str:
    """The frame with the site-packages or checkout prefix trimmed."""
    for marker in ("site-packages/", str(ROOT) + "/"):
        if marker in frame:
            head, _, tail = frame.partition("(")
            return f"{head}({tail.split(marker, 1)[-1]}"
    return frame


def main(argv: list[str] | None = None) -> int:
    """Run the case, record the server, print the top entries."""
    p = argparse.ArgumentParser(prog="python -m bench.profile")
    p.add_argument(
        "--scenario",
        default="fanout",
        choices=[
            "fanout",
            "busy",
            "private",
            "paced",
            "hold",
            "storm",
            "ircfanout",
            "ircpaced",
        ],
    )
    p.add_argument("--size", type=int, default=500)
    p.add_argument("--seconds", type=float, default=8.0, help="sampling time")
    p.add_argument(
        "--warmup",
        type=float,
        default=4.0,
        help="seconds after the load generator starts (setup)",
    )
    p.add_argument("--top", type=int, default=15)
    p.add_argument(
        "--db",
        default=":memory:",
        help="the server's --db: :memory: (default) or sqlite, a fresh file",
    )
    p.add_argument("--raw", help="also keep py-spy's raw output here")
    args = p.parse_args(argv)
    spy = _py_spy()
    if spy is None:
        print("py-spy not found: .venv/bin/pip install py-spy", file=sys.stderr)
        return 2
    logdir = Path(tempfile.mkdtemp(prefix="menuchat-profile-"))
    raw_path = Path(args.raw) if args.raw else logdir / "profile.txt"
    server = None
    try:
        irc = args.scenario in IRC_SCENARIOS
        db = str(logdir / "bench.sqlite3") if args.db == "sqlite" else args.db
        server = start_menuchat(RAISED[args.scenario], logdir, db=db, irc=irc)
        driver, scenario = loadgen_args(
            args.scenario, "menuchat-irc" if irc else "menuchat"
        )
        duration = args.warmup + args.seconds + 2
        timed = ["--duration", str(duration)] if scenario in TIMED else []
        loadgen = spawn(
            [
                sys.executable,
                "-m",
                "bench.loadgen",
                "--driver",
                driver,
                "--port",
                str(server.port),
                "--pid",
                str(server.pid),
                scenario,
                "--size",
                str(args.size),
                *timed,
                *EXTRA.get(args.scenario, []),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        time.sleep(args.warmup)
        rec = subprocess.run(
            [
                spy,
                "record",
                "--pid",
                str(server.pid),
                "--duration",
                str(int(args.seconds)),
                "--rate",
                "250",
                "--format",
                "raw",
                "--output",
                str(raw_path),
                "--nonblocking",
            ],
            capture_output=True,
            text=True,
            timeout=args.seconds + 30,
        )
        out, _ = loadgen.communicate(timeout=duration + 120)
        print(f"load generator: {out.decode().strip()[-400:]}", file=sys.stderr)
        if rec.returncode != 0 or not raw_path.exists():
            print(f"py-spy failed: {rec.stderr[-2000:]}", file=sys.stderr)
            return 1
    except (BenchError, subprocess.TimeoutExpired) as e:
        print(f"profile failed: {e}", file=sys.stderr)
        return 1
    finally:
        if server is not None:
            server.stop()
        stop_all()
    own, total, lines, samples = tally(raw_path.read_text())
    if not samples:
        print("py-spy recorded no samples", file=sys.stderr)
        return 1
    print(
        f"menuchat under {args.scenario} size {args.size}: {samples} samples "
        f"over {args.seconds:.0f}s (py-spy, 250/s)"
    )
    sections = [
        ("functions by own time (innermost frame)", own.most_common(args.top)),
        ("lines by own time", lines.most_common(args.top)),
        (
            "menuchat functions by total time (anywhere on the stack)",
            [(f, n) for f, n in total.most_common() if "menuchat/" in f][: args.top],
        ),
    ]
    for title, entries in sections:
        print(f"\ntop {args.top} {title}:")
        for frame, n in entries:
            print(f"  {100 * n / samples:5.1f}%  {_short(frame)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
