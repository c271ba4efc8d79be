"""Several menuchat processes as one server: one node against two, over Redis.

    python -m bench.cluster [--quick] [--repeat N] [--json] [--only busy,fanout,hold]
                            [--layouts alone,1node,2nodes] [--quiet-wait S]
                            [--keep-logs]

Each case starts a fresh redis-server (the one the test extra bundles, on a
free loopback port, saving nothing) and fresh nodes, ``twistd -n menuchat
--redis URL --node a`` (and ``b``), with the options bench.plan raises for
the scenario; "alone" is one process without Redis (``--db :memory:``), for
reference. The load generator (bench/loadgen.py) spreads its clients over the
nodes' ports in turn, client i on node i mod n, so a room's members, its
senders and its latency probes are split evenly and the fan-out sender (client
0) is on node a; it records each node's and redis-server's CPU time and RSS
(/proc) around the measured part only. Every process is stopped by its pid.
Exit status 1 if any case lost a line, hung, failed, or a node took another for
dead; 2 on bad usage.
"""

from __future__ import annotations

import argparse
import json
import shutil
import signal
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.plan import RAISED, Case
from bench.servers import (
    ROOT,
    BenchError,
    ServerProcess,
    free_port,
    run_loadgen,
    stop_all,
    twistd_argv,
)


@dataclass(frozen=True)
class Layout:
    """How many menuchat processes, and whether they share a Redis."""

    key: str
    label: str
    nodes: int
    redis: bool
    #: How many of the nodes get clients (the others only hear the bus).
    used: int = 0

    @property
    def spread(self) -> int:
        """The number of nodes the clients are spread over."""
        return self.used or self.nodes


LAYOUTS = {
    "alone": Layout("alone", "alone (no Redis)", 1, False),
    "1node": Layout("1node", "1 node + Redis", 1, True),
    "2nodes": Layout("2nodes", "2 nodes + Redis", 2, True),
    "2nodes-on-a": Layout("2nodes-on-a", "2 nodes, users all on a", 2, True, 1),
}
NODE_NAMES = "ab"

#: What a node's log says when it takes another node for dead, or loses
#: Redis (e.g. its subscription closed by Redis's output buffer limit).
TROUBLE = ("is silent: dropping", "Lost the connection to Redis")

_BUSY = ["--senders", "50", "--rate", "10", "--probes", "50", "--duration", "5"]


def full_plan() -> list[Case]:
    """The cases of a full run: about 4 minutes per repeat on 2 cores."""
    return [
        Case("busy", 500, _BUSY, 90, 300),
        Case("fanout", 500, ["--duration", "3"], 60, 180),
        Case("hold", 1000, [], 120, 300),
        Case("hold", 5000, [], 120, 300),
    ]


def quick_plan() -> list[Case]:
    """Every scenario tiny: completion and zero loss across two nodes."""
    busy = ["--senders", "4", "--rate", "10", "--probes", "4", "--duration", "0.5"]
    return [
        Case("busy", 20, busy, 10, 40),
        Case("fanout", 20, ["--duration", "0.3"], 10, 40),
        Case("hold", 50, ["--settle", "0.1"], 10, 40),
    ]


def redis_binary() -> str:
    """The redis-server of the test extra (as the tests find it)."""
    sys.path.insert(0, str(ROOT))
    from tests.redisserver import redis_server_binary

    return redis_server_binary()


def start_redis(logdir: Path) -> ServerProcess:
    """redis-server on a free loopback port, nothing saved, logging to logdir."""
    port = free_port()
    argv = [
        redis_binary(),
        "--port", str(port),
        "--bind", "127.0.0.1",
        "--save", "",
        "--appendonly", "no",
        "--daemonize", "no",
        "--dir", str(logdir),
        "--loglevel", "warning",
    ]  # fmt: skip
    server = ServerProcess("redis", argv, port, logdir / f"redis-{port}.log", [])
    server.wait_ready()
    return server


def start_node(
    name: str, redis: ServerProcess | None, options: list[str], logdir: Path
) -> ServerProcess:
    """Start one menuchat process (a node if ``redis``); do not wait for it."""
    port = free_port()
    logfile = logdir / f"node-{name}-{port}.log"
    cluster = (
        ["--redis", f"redis://127.0.0.1:{redis.port}/0", "--node", name]
        if redis is not None
        else ["--db", ":memory:"]
    )
    argv = [
        *twistd_argv(),
        "-n",
        "--pidfile=",
        f"--logfile={logfile}",
        "menuchat",
        "--port",
        f"tcp:{port}:interface=127.0.0.1",
        *cluster,
        *options,
    ]
    return ServerProcess(f"menuchat-{name}", argv, port, logfile, options)


def run_case(case: Case, layout: Layout, logdir: Path) -> dict:
    """One case against a fresh Redis and fresh nodes; the loadgen's result."""
    started = time.monotonic()
    redis: ServerProcess | None = None
    nodes: list[ServerProcess] = []
    try:
        if layout.redis:
            redis = start_redis(logdir)
        options = RAISED[case.scenario]
        for name in NODE_NAMES[: layout.nodes]:
            nodes.append(start_node(name, redis, options, logdir))
        for node in nodes:
            node.wait_ready()
        pids = {name: n.pid for name, n in zip(NODE_NAMES, nodes, strict=False)}
        if redis is not None:
            pids["redis"] = redis.pid
        args = ["--driver", "menuchat-cluster", "--port", str(nodes[0].port)]
        args += ["--pid", str(nodes[0].pid)]
        for node in nodes[1 : layout.spread]:
            args += ["--also-port", str(node.port)]
        for pid in pids.values():
            args += ["--watch", str(pid)]
        args += ["--timeout", str(case.step_timeout), case.scenario]
        args += ["--size", str(case.size), *case.args]
        result = run_loadgen(args, case.hard_timeout)
        result["pids"] = pids
        problems = [result["error"]] if result.get("error") else []
        for node in nodes:
            if not node.alive():
                problems.append(f"{node.kind} exited:\n{node.log_tail()}")
            log = node.logfile.read_text(errors="replace")
            problems += [f"{node.kind}: {t!r} in its log" for t in TROUBLE if t in log]
        if redis is not None and not redis.alive():
            problems.append(f"redis-server exited:\n{redis.log_tail()}")
        result["ok"] = not problems
        result["error"] = "; ".join(problems) or None
    except BenchError as e:
        result = {"ok": False, "error": str(e)}
    finally:
        for node in nodes:
            node.stop()
        if redis is not None:
            redis.stop()
    result["elapsed_s"] = time.monotonic() - started
    return result


def shares(size: int, nodes: int) -> list[int]:
    """How many of ``size`` clients each node has (client i on node i mod n)."""
    return [len(range(k, size, nodes)) for k in range(nodes)]


def figures(case: Case, layout: Layout, result: dict) -> dict[str, float]:
    """The figures of one run, flat: totals, then per process ("a.util")."""
    if not result.get("ok") or "wall_s" not in result:
        return {}
    wall = result["wall_s"]
    out: dict[str, float] = {
        "wall_s": wall,
        "loadgen_util": result["loadgen_util"],
        "other_util": result["other_util"],
    }
    watched = result.get("watched", {})
    pids = result["pids"]
    members = shares(case.size, layout.spread) + [0] * (layout.nodes - layout.spread)
    lines = result.get("lines_sent") or 0
    delivered = result.get("delivered") or 0
    total_util = result["loadgen_util"]
    for k, name in enumerate(NODE_NAMES[: layout.nodes]):
        w = watched[str(pids[name])]
        out[f"{name}.util"] = w["cpu_s"] / wall
        out[f"{name}.rss_mib"] = w["rss_kib"] / 1024
        total_util += w["cpu_s"] / wall
        if case.scenario == "hold":
            grown = w["rss_kib"] - w["rss0_kib"]
            out[f"{name}.conns"] = members[k]
            out[f"{name}.kib_per_user"] = grown / case.size
            if members[k]:
                out[f"{name}.kib_per_conn"] = grown / members[k]
                out[f"{name}.us_per_login"] = w["cpu_s"] / members[k] * 1e6
        else:
            mine = delivered * members[k] / case.size
            out[f"{name}.members"] = members[k]
            out[f"{name}.deliveries_per_s"] = mine / wall
            if mine:
                out[f"{name}.us_per_delivery"] = w["cpu_s"] / mine * 1e6
            if lines:
                out[f"{name}.us_per_line"] = w["cpu_s"] / lines * 1e6
    if "redis" in pids:
        w = watched[str(pids["redis"])]
        out["redis.util"] = w["cpu_s"] / wall
        out["redis.rss_mib"] = w["rss_kib"] / 1024
        total_util += w["cpu_s"] / wall
        if case.scenario == "hold":
            out["redis.kib_per_user"] = (w["rss_kib"] - w["rss0_kib"]) / case.size
            out["redis.us_per_login"] = w["cpu_s"] / case.size * 1e6
        elif lines:
            out["redis.us_per_line"] = w["cpu_s"] / lines * 1e6
    out["cores_used"] = total_util
    for key in ("deliveries_per_s", "p50_ms", "p99_ms", "login_s", "lines_sent"):
        if isinstance(result.get(key), int | float):
            out[key] = result[key]
    if lines:
        out["lines_per_s"] = lines / wall
    return out


def summarise(case: Case, layout: Layout, runs: list[dict]) -> dict:
    """Medians of each figure over the runs, with loss and errors."""
    per_run = [figures(case, layout, r) for r in runs]
    keys = sorted({k for f in per_run for k in f})
    medians = {
        k: statistics.median([f[k] for f in per_run if k in f])
        for k in keys
        if any(k in f for f in per_run)
    }
    return {
        "scenario": case.scenario,
        "size": case.size,
        "layout": layout.key,
        "args": case.args,
        "runs": len(runs),
        "ok_runs": sum(1 for r in runs if r.get("ok")),
        "loss": max((r.get("loss") or 0 for r in runs), default=0),
        "errors": [r["error"] for r in runs if r.get("error")],
        "figures": medians,
        "raw": runs,
    }


def _f(fmt: str, value: float | None) -> str:
    return "" if value is None else fmt.format(value)


TITLES = {
    "busy": "busy room, R={size}: senders at a fixed rate, p50/p99 over the probes",
    "fanout": "fan-out, R={size}: one sender (on node a), as fast as it goes",
    "hold": "hold N={size} idle clients, 40 logging in at a time",
}


def _table(rows: list[tuple[str, ...]]) -> list[str]:
    widths = [max(len(r[c]) for r in rows) for c in range(len(rows[0]))]
    return [
        "  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)).rstrip()
        for r in rows
    ]


def render_case(rows: list[dict]) -> list[str]:
    """One scenario's table: a line per process of each layout."""
    scenario, size = rows[0]["scenario"], rows[0]["size"]
    out = [f"{TITLES[scenario].format(size=size)}  {' '.join(rows[0]['args'])}"]
    if scenario == "hold":
        table: list[tuple[str, ...]] = [
            ("layout", "process", "conns", "all logged in s", "CPU us/login",
             "RSS MiB", "KiB/own conn", "KiB/user online", "loss")
        ]  # fmt: skip
    else:
        table = [
            ("layout", "process", "members", "deliveries/s", "CPU us/delivery",
             "CPU us/line", "CPU util", "RSS MiB", "p50 ms", "p99 ms", "loss")
        ]  # fmt: skip
    for row in rows:
        layout = LAYOUTS[row["layout"]]
        f = row["figures"]
        names = [*NODE_NAMES[: layout.nodes], *(["redis"] if layout.redis else [])]
        first = True
        for name in names:
            label = layout.label if first else ""
            loss = str(row["loss"]) if first else ""
            node = name != "redis"
            process = f"node {name}" if node and layout.redis else name
            if not layout.redis:
                process = "menuchat"
            if scenario == "hold":
                table.append(
                    (
                        label,
                        process,
                        _f("{:,.0f}", f.get(f"{name}.conns")) if node else "",
                        _f("{:.2f}", f.get("login_s")) if first else "",
                        _f("{:.0f}", f.get(f"{name}.us_per_login")),
                        _f("{:.1f}", f.get(f"{name}.rss_mib")),
                        _f("{:.1f}", f.get(f"{name}.kib_per_conn")),
                        _f("{:.1f}", f.get(f"{name}.kib_per_user")),
                        loss,
                    )
                )
            else:
                table.append(
                    (
                        label,
                        process,
                        _f("{:,.0f}", f.get(f"{name}.members")),
                        _f("{:,.0f}", f.get(f"{name}.deliveries_per_s")),
                        _f("{:.2f}", f.get(f"{name}.us_per_delivery")),
                        _f("{:.0f}", f.get(f"{name}.us_per_line")),
                        _f("{:.2f}", f.get(f"{name}.util")),
                        _f("{:.1f}", f.get(f"{name}.rss_mib")),
                        "",
                        "",
                        loss,
                    )
                )
            first = False
        if scenario != "hold":
            table.append(
                (
                    "",
                    "all",
                    f"{size:,}",
                    _f("{:,.0f}", f.get("deliveries_per_s")),
                    "",
                    "",
                    "",
                    "",
                    _f("{:.1f}", f.get("p50_ms")),
                    _f("{:.1f}", f.get("p99_ms")),
                    "",
                )
            )
        table.append(
            (
                "",
                f"  (loadgen {_f('{:.2f}', f.get('loadgen_util'))} cores, "
                f"all measured {_f('{:.2f}', f.get('cores_used'))}, "
                f"others {_f('{:.2f}', f.get('other_util'))})",
                *[""] * (len(table[0]) - 2),
            )
        )
    return out + _table(table)


def scaling(report: dict) -> list[str]:
    """Two nodes against one, for the throughput case."""
    out = []
    by = {(r["scenario"], r["size"], r["layout"]): r for r in report["rows"]}
    for (scenario, size, layout), row in by.items():
        if scenario != "fanout" or layout != "2nodes":
            continue
        two = row["figures"]
        for ref in ("1node", "alone"):
            one = by.get((scenario, size, ref), {}).get("figures", {})
            if one.get("deliveries_per_s") and two.get("deliveries_per_s"):
                out.append(
                    f"fan-out R={size}: 2 nodes deliver "
                    f"{two['deliveries_per_s'] / one['deliveries_per_s']:.2f}x "
                    f"what {LAYOUTS[ref].label} does, on {report['cores']} cores"
                )
        cap = [
            1e6 / two[f"{n}.us_per_delivery"]
            for n in "ab"
            if two.get(f"{n}.us_per_delivery")
        ]
        one = by.get((scenario, size, "1node"), {}).get("figures", {})
        if len(cap) == 2 and one.get("a.us_per_delivery"):
            out.append(
                f"  capacity with a core per node (1e6 / CPU us per delivery): "
                f"{sum(cap):,.0f}/s for 2 nodes = "
                f"{sum(cap) / (1e6 / one['a.us_per_delivery']):.2f}x one node's"
            )
    return out


def render(report: dict) -> str:
    out = [
        f"menuchat cluster benchmark  {report['date']}; {report['cores']} cores; "
        f"repeats: {report['repeat']} (medians){'; QUICK' if report['quick'] else ''}",
        "node a/b: menuchat processes sharing one redis-server; clients spread "
        "over the nodes in turn",
        "CPU us/delivery: that process's CPU time / the deliveries to its own "
        "members; CPU us/line: / room lines sent",
        "",
    ]
    groups: dict[tuple[str, int], list[dict]] = {}
    for row in report["rows"]:
        groups.setdefault((row["scenario"], row["size"]), []).append(row)
    for rows in groups.values():
        out += render_case(rows)
        out.append("")
    out += scaling(report)
    failures = [
        f"{r['scenario']} {r['size']} {r['layout']}: {e.strip()[:1500]}"
        for r in report["rows"]
        for e in r["errors"]
    ] + [
        f"{r['scenario']} {r['size']} {r['layout']}: lost {r['loss']}"
        for r in report["rows"]
        if r["loss"] and not r["errors"]
    ]
    if failures:
        out += ["", "FAILURES:", *(f"  {f}" for f in failures)]
    return "\n".join(out)


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m bench.cluster", description=__doc__.split("\n")[0]
    )
    p.add_argument("--quick", action="store_true", help="tiny cases, 2 nodes only")
    p.add_argument("--repeat", type=int, default=1, help="repeats per case (median)")
    p.add_argument("--json", action="store_true", help="print JSON, not the tables")
    p.add_argument("--only", default="", help="comma-separated: busy,fanout,hold")
    p.add_argument(
        "--layouts",
        default=None,
        help="comma-separated: " + ",".join(LAYOUTS) + " (default: all; "
        "2nodes with --quick)",
    )
    p.add_argument(
        "--quiet-wait",
        type=float,
        default=None,
        metavar="S",
        help="before each run, wait up to S seconds for the CPUs to be idle "
        "(default: 5; 0 with --quick)",
    )
    p.add_argument("--keep-logs", action="store_true", help="keep the logs")
    p.add_argument(
        "--render", metavar="FILE", help="print the tables of a --json report"
    )
    return p


def _on_sigterm(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)


def main(argv: list[str] | None = None) -> int:
    """Run the cases over the layouts; print the tables; 1 if any failed."""
    from bench.run import wait_quiet

    args = _parser().parse_args(argv)
    if args.render:
        print(render(json.loads(Path(args.render).read_text())))
        return 0
    signal.signal(signal.SIGTERM, _on_sigterm)
    cases = quick_plan() if args.quick else full_plan()
    if args.only:
        wanted = set(args.only.split(","))
        if wanted - {"busy", "fanout", "hold"}:
            print(f"unknown scenario(s) in {args.only}", file=sys.stderr)
            return 2
        cases = [c for c in cases if c.scenario in wanted]
    chosen = args.layouts or ("2nodes" if args.quick else ",".join(LAYOUTS))
    keys = [k for k in chosen.split(",") if k]
    if not keys or set(keys) - set(LAYOUTS):
        print(f"unknown layout(s) in {chosen}", file=sys.stderr)
        return 2
    quiet = (
        args.quiet_wait if args.quiet_wait is not None else (0.0 if args.quick else 5.0)
    )
    logdir = Path(tempfile.mkdtemp(prefix="menuchat-cluster-bench-"))
    report: dict = {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "cores": __import__("os").cpu_count(),
        "repeat": args.repeat,
        "quick": args.quick,
        "rows": [],
    }
    try:
        for case in cases:
            for key in keys:
                layout = LAYOUTS[key]
                runs = []
                for _ in range(args.repeat):
                    if quiet > 0:
                        wait_quiet(quiet)
                    runs.append(run_case(case, layout, logdir))
                    print(
                        f"# {case.scenario} {case.label} {layout.label}: "
                        f"{'ok' if runs[-1].get('ok') else 'FAILED'} "
                        f"({runs[-1]['elapsed_s']:.1f}s)",
                        file=sys.stderr,
                        flush=True,
                    )
                report["rows"].append(summarise(case, layout, runs))
    finally:
        stop_all()
    failed = any(r["errors"] or r["loss"] for r in report["rows"])
    if args.json:
        print(json.dumps(report, indent=1))
    else:
        print(render(report))
    if failed or args.keep_logs:
        print(f"logs kept in {logdir}", file=sys.stderr)
    else:
        shutil.rmtree(logdir, ignore_errors=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
