"""The load generator: one process, one epoll loop, one scenario, JSON out.

Run by the harness as ``python -m bench.loadgen --driver menuchat --port P
--pid PID fanout --size 100``; prints one JSON object on its last stdout
line, with ``ok`` false and ``error`` set if a wait ran out or a dialogue
went wrong. It reads the server's CPU time and RSS from /proc itself, so the
measured interval is exactly the one it drives.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import traceback

from bench import pingpong, workloads
from bench.drivers import DRIVERS
from bench.loop import DialogueError, Loop, Timeout
from bench.procstat import raise_nofile


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m bench.loadgen")
    p.add_argument("--driver", choices=sorted(DRIVERS), required=True)
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--pid", type=int, required=True, help="server pid, for /proc")
    p.add_argument(
        "--also-port",
        type=int,
        action="append",
        default=[],
        help="spread the clients over this port too, in turn (several processes)",
    )
    p.add_argument(
        "--watch",
        type=int,
        action="append",
        default=[],
        help="also record this pid's CPU time and RSS over the measured part",
    )
    p.add_argument(
        "--timeout",
        type=float,
        default=60.0,
        help="bound on each setup step and on the drain",
    )
    sub = p.add_subparsers(dest="scenario", required=True)

    s = sub.add_parser("fanout")
    s.add_argument("--size", type=int, required=True)
    s.add_argument("--duration", type=float, default=3.0)
    s.add_argument(
        "--window",
        type=int,
        default=0,
        help="lines in flight (default: 200, or two batches if more)",
    )
    s.add_argument("--batch", type=int, default=32, help="lines per send()")
    s.add_argument("--line-bytes", type=int, default=48)

    s = sub.add_parser("busy")
    s.add_argument("--size", type=int, required=True)
    s.add_argument("--senders", type=int, default=50)
    s.add_argument("--rate", type=float, default=10.0)
    s.add_argument("--probes", type=int, default=50)
    s.add_argument("--duration", type=float, default=5.0)
    s.add_argument("--line-bytes", type=int, default=48)

    s = sub.add_parser("private")
    s.add_argument("--size", type=int, required=True, help="number of pairs")
    s.add_argument("--duration", type=float, default=3.0)
    s.add_argument("--window", type=int, default=4)

    s = sub.add_parser("paced")
    s.add_argument("--size", type=int, required=True, help="number of pairs")
    s.add_argument("--rate", type=float, default=10.0, help="messages/s per pair")
    s.add_argument("--duration", type=float, default=5.0)

    s = sub.add_parser("pingpong")
    s.add_argument("--size", type=int, required=True, help="number of rooms (pairs)")
    s.add_argument("--rate", type=float, default=10.0, help="round trips/s per room")
    s.add_argument("--duration", type=float, default=5.0)

    s = sub.add_parser("hold")
    s.add_argument("--size", type=int, required=True)
    s.add_argument("--settle", type=float, default=0.5)

    s = sub.add_parser("storm")
    s.add_argument("--size", type=int, required=True)

    s = sub.add_parser("logins")
    s.add_argument("--size", type=int, required=True)
    s.add_argument("--concurrency", type=int, default=40)
    return p


def fanout_window(batch: int) -> int:
    """Fan-out's default window: 200 lines in flight, or two batches if more."""
    return max(200, 2 * batch)


#: At a fixed pace, messages in flight per pair before a sender falls behind
#: (and the result says so) rather than queueing without bound.
PACED_WINDOW = 100


def run(args: argparse.Namespace) -> dict:
    """Run the chosen scenario; return its figures."""
    loop = Loop(args.port, *args.also_port)
    workloads.Window.watched = tuple(args.watch)
    driver = DRIVERS[args.driver]()
    try:
        if args.scenario == "fanout":
            return workloads.fanout(
                loop,
                driver,
                args.pid,
                args.size,
                args.duration,
                args.window or fanout_window(args.batch),
                args.batch,
                args.line_bytes,
                args.timeout,
            )
        if args.scenario == "busy":
            return workloads.busy_room(
                loop,
                driver,
                args.pid,
                args.size,
                args.senders,
                args.rate,
                args.probes,
                args.duration,
                args.line_bytes,
                args.timeout,
            )
        if args.scenario in ("private", "paced"):
            paced = args.scenario == "paced"
            return workloads.private(
                loop,
                driver,
                args.pid,
                args.size,
                args.duration,
                PACED_WINDOW if paced else args.window,
                [],
                args.timeout,
                rate=args.rate if paced else 0.0,
            )
        if args.scenario == "pingpong":
            return pingpong.pingpong(
                loop,
                driver,
                args.pid,
                args.size,
                args.rate,
                args.duration,
                args.timeout,
            )
        if args.scenario == "hold":
            return workloads.hold(
                loop, driver, args.pid, args.size, args.settle, args.timeout
            )
        if args.scenario == "logins":
            return workloads.logins(
                loop, driver, args.pid, args.size, args.concurrency, args.timeout
            )
        return workloads.storm(loop, driver, args.pid, args.size, args.timeout)
    finally:
        loop.close_all()


def _clean(value: object) -> object:
    """JSON has no NaN: write None instead."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def main(argv: list[str] | None = None) -> int:
    """Parse arguments, run, print the result as JSON; exit 1 if not ok."""
    args = _parser().parse_args(argv)
    nofile = raise_nofile()
    result: dict = {
        "scenario": args.scenario,
        "driver": args.driver,
        "size": args.size,
        "nofile": nofile[0],
    }
    try:
        result.update(run(args))
        problems = list(result.get("errors") or [])
        if result.get("loss"):
            problems.append(f"lost {result['loss']} of {result['expected']}")
        if result.get("silent"):
            problems.append(f"{result['silent']} clients never received a byte")
        if result.get("extra"):
            problems.append(f"{result['extra']} unexpected extra lines")
        if result.get("drained") is False:
            problems.append(f"not drained within {args.timeout:.0f}s")
        result["ok"] = not problems
        result["error"] = "; ".join(problems) or None
    except (Timeout, DialogueError, OSError) as e:
        result.update(ok=False, error=f"{type(e).__name__}: {e}")
    except Exception as e:
        traceback.print_exc()
        result.update(ok=False, error=f"{type(e).__name__}: {e}")
    print(json.dumps({k: _clean(v) for k, v in result.items()}), flush=True)
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
