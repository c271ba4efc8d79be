"""Run menuchat and the floor side by side under the same load; print the table.

    python -m bench [--quick] [--repeat N] [--json] [--only fanout,hold]
                    [--servers menuchat,menuchat-sqlite,floor,menuchat-irc,ngircd]
                    [--quiet-wait S]
                    [--keep-logs]

Each case starts a fresh server (``twistd -n menuchat`` or bench/floor.py) on a
free loopback port, runs the load generator (bench/loadgen.py) as a separate
process against it, and stops the server. Figures are medians over repeats;
every menuchat figure is also shown as a ratio to the floor's. menuchat runs
on its memory store (``--db :memory:``); the scenarios that store mail
(private, paced) also run it on a fresh SQLite file ("menuchat-sqlite", shown
as a ratio to the memory store's figure). Exit status 1
if any case lost a line, hung or failed, 2 on bad usage.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

if __package__ in (None, ""):
    # ``python bench/run.py``: make the checkout importable as with ``-m``.
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.plan import (
    ACCOUNT_SCENARIOS,
    FIGURES,
    KINDS,
    RAISED,
    TITLES,
    Case,
    compared,
    full_plan,
    kinds_for,
    loadgen_args,
    quick_plan,
)
from bench.procstat import machine_busy_seconds
from bench.servers import (
    ROOT,
    BenchError,
    ServerProcess,
    make_accounts,
    menuchat_available,
    ngircd_binary,
    run_loadgen,
    start_floor,
    start_menuchat,
    start_ngircd,
    stop_all,
)
from bench.workloads import ACCOUNT_PASSWORD, account_names

#: A process whose CPU time / wall time reaches this is called saturated.
SATURATED = 0.85
#: Cores used by other processes during a run above which it is flagged.
OTHER_LOAD = 0.3
#: Shorter measured intervals are not judged: CPU times count 10 ms ticks.
SHORTEST = 0.25


def machine() -> dict[str, object]:
    """CPU model, cores, versions, date and the checkout's commit."""
    model = "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    import twisted

    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=5,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        commit = ""
    return {
        "cpu": model,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "twisted": twisted.__version__,
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "commit": commit,
    }


def wait_quiet(limit: float) -> float:
    """Wait up to ``limit`` seconds for the machine to be idle; return its load.

    The load is the cores busy over the last second (the harness itself only
    sleeps); it is below OTHER_LOAD when this returns early.
    """
    deadline = time.monotonic() + limit
    while True:
        b0, t0 = machine_busy_seconds(), time.monotonic()
        time.sleep(1.0)
        load = (machine_busy_seconds() - b0) / (time.monotonic() - t0)
        if load < OTHER_LOAD or time.monotonic() >= deadline:
            return load


def fd_shortfall(case: Case) -> str | None:
    """Why the hard RLIMIT_NOFILE is too low for ``case``, or None if it is not.

    The server and the load generator each need a descriptor per client.
    """
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    pairs = ("private", "paced", "ircpaced", "pingpong", "ircpingpong", "logins")
    clients = case.size * (2 if case.scenario in pairs else 1)
    if hard != resource.RLIM_INFINITY and clients + 64 > hard:
        return f"skipped: RLIMIT_NOFILE hard limit {hard} < {clients} clients + 64"
    return None


def run_case(case: Case, kind: str, logdir: Path) -> dict:
    """One case against one fresh server; the loadgen's result plus checks."""
    server: ServerProcess | None = None
    started = time.monotonic()
    skip = fd_shortfall(case)
    if skip is not None:
        return {"ok": True, "skipped": skip, "elapsed_s": 0.0}
    try:
        if kind == "menuchat":
            server = start_menuchat(RAISED[case.scenario], logdir)
        elif kind == "menuchat-sqlite":
            db = logdir / f"store-{case.scenario}-{time.monotonic_ns()}.sqlite3"
            if case.scenario in ACCOUNT_SCENARIOS:
                make_accounts(db, account_names(case.size), ACCOUNT_PASSWORD)
            server = start_menuchat(RAISED[case.scenario], logdir, str(db))
        elif kind == "menuchat-irc":
            server = start_menuchat(RAISED[case.scenario], logdir, irc=True)
        elif kind == "ngircd":
            server = start_ngircd(logdir)
        else:
            server = start_floor(logdir)
        driver, scenario = loadgen_args(case.scenario, kind)
        args = [
            "--driver",
            driver,
            "--port",
            str(server.port),
            "--pid",
            str(server.pid),
            "--timeout",
            str(case.step_timeout),
            scenario,
            "--size",
            str(case.size),
            *case.args,
        ]
        result = run_loadgen(args, case.hard_timeout)
        if not server.alive():
            result["ok"] = False
            result["error"] = f"{kind} exited during the run:\n{server.log_tail()}"
    except BenchError as e:
        result = {"ok": False, "error": str(e)}
    finally:
        if server is not None:
            server.stop()
    result["elapsed_s"] = time.monotonic() - started
    return result


def _median(runs: list[dict], key: str) -> float | None:
    values = [r[key] for r in runs if isinstance(r.get(key), int | float)]
    return statistics.median(values) if values else None


def summarise(case: Case, runs: dict[str, list[dict]]) -> dict:
    """Medians per server over the repeats, ratios, loss and saturation."""
    row: dict = {
        "scenario": case.scenario,
        "size": case.size,
        "label": case.label,
        "raised": RAISED[case.scenario],
        "figures": [],
        "servers": {},
    }
    for kind, results in runs.items():
        ok = [r for r in results if r.get("ok")]
        row["servers"][kind] = {
            "runs": len(results),
            "ok_runs": len(ok),
            "loss": max((r.get("loss") or 0 for r in results), default=0),
            "errors": [r["error"] for r in results if r.get("error")],
            "skipped": next((r["skipped"] for r in results if r.get("skipped")), None),
            "server_util": _median(results, "server_util"),
            "loadgen_util": _median(results, "loadgen_util"),
            "other_util": _median(results, "other_util"),
            "wall_s": _median(results, "wall_s"),
            "raw": results,
        }
    measured, base = compared(case.scenario)
    row["kinds"] = [measured, base]
    for fig in FIGURES[case.scenario]:
        values = {kind: _median(res, fig.key) for kind, res in runs.items()}
        mc, fl = values.get(measured), values.get(base)
        # The SQLite column, unless the SQLite store is what is measured.
        sq = values.get("menuchat-sqlite") if measured != "menuchat-sqlite" else None
        row["figures"].append(
            {
                "key": fig.key,
                "label": fig.label,
                "menuchat": mc,
                "floor": fl,
                "ratio": mc / fl if mc is not None and fl else None,
                "sqlite": sq,
                "sqlite_ratio": sq / mc if sq is not None and mc else None,
            }
        )
    return row


def saturation(server: dict | None) -> str:
    """Which side's CPU/wall reached SATURATED, with both and the other load.

    e.g. "server (srv 0.99 lg 0.31 oth 0.02)". "oth" is what every other
    process on the machine used meanwhile, in cores; over OTHER_LOAD the
    figures were measured on a busy machine and are flagged. Intervals under
    SHORTEST are too short for CPU times counted in clock ticks.
    """
    if not server or server["server_util"] is None:
        return "-"
    su, lu = server["server_util"], server["loadgen_util"] or 0.0
    other = server["other_util"] or 0.0
    if (server["wall_s"] or 0.0) < SHORTEST:
        verdict = "too short to tell"
        busy = ""
    else:
        sides = [n for n, u in (("server", su), ("loadgen", lu)) if u >= SATURATED]
        verdict = "+".join(sides) or "neither"
        busy = " BUSY MACHINE" if other >= OTHER_LOAD else ""
    return f"{verdict} (srv {su:.2f} lg {lu:.2f} oth {other:.2f}){busy}"


def _loss(server: dict | None) -> str:
    if not server or server["skipped"]:
        return "-"
    return str(server["loss"])


def _fmt(fmt: str, value: float | None) -> str:
    return "n/a" if value is None else fmt.format(value)


def render(report: dict) -> str:
    """The plain-text table."""
    m = report["machine"]
    out = [
        f"menuchat benchmark  {m['date']}  commit {m['commit'] or '?'}",
        f"machine: {m['cpu']}, {m['cores']} cores; Python {m['python']}, "
        f"Twisted {m['twisted']}; repeats: {report['repeat']} (medians)"
        f"{'; QUICK' if report['quick'] else ''}",
        "ratio = menuchat / floor (same run); sqlite = menuchat on its SQLite "
        "store (memory store otherwise), sq/mem = sqlite / menuchat",
        "IRC rows: menuchat = menuchat's IRC gateway (menu port beside it), "
        "floor column = ngIRCd, ratio = menuchat-irc / ngIRCd",
        f"saturated = CPU time / wall >= {SATURATED} over the measured interval "
        "(srv: server, lg: load generator, oth: all other processes, in cores)",
        "",
    ]
    header = (
        "scenario",
        "size",
        "figure",
        "menuchat",
        "floor|ngircd",
        "ratio",
        "sqlite",
        "sq/mem",
        "loss mc/fl/sq",
        "saturated: menuchat",
        "saturated: floor|ngircd",
        "saturated: sqlite",
    )
    rows = [header]
    for row in report["rows"]:
        fmts = {f.key: f.fmt for f in FIGURES[row["scenario"]]}
        measured, base = row["kinds"]
        mc, fl = row["servers"].get(measured), row["servers"].get(base)
        sq = (
            row["servers"].get("menuchat-sqlite")
            if measured != "menuchat-sqlite"
            else None
        )
        for i, fig in enumerate(row["figures"]):
            first = i == 0
            loss = f"{_loss(mc)}/{_loss(fl)}/{_loss(sq)}" if first else ""
            rows.append(
                (
                    TITLES[row["scenario"]] if first else "",
                    row["label"] if first else "",
                    fig["label"],
                    _fmt(fmts[fig["key"]], fig["menuchat"]),
                    _fmt(fmts[fig["key"]], fig["floor"]),
                    _fmt("{:.2f}x", fig["ratio"]),
                    _fmt(fmts[fig["key"]], fig["sqlite"]) if sq else "",
                    _fmt("{:.2f}x", fig["sqlite_ratio"]) if sq else "",
                    loss,
                    saturation(mc) if first else "",
                    saturation(fl) if first else "",
                    saturation(sq) if first and sq else "",
                )
            )
    widths = [max(len(str(r[c])) for r in rows) for c in range(len(header))]
    for r in rows:
        out.append(
            "  ".join(str(v).ljust(w) for v, w in zip(r, widths, strict=True)).rstrip()
        )
    out.append("")
    out.append("menuchat options raised (all others at their defaults):")
    seen = []
    for row in report["rows"]:
        if row["scenario"] not in seen:
            seen.append(row["scenario"])
            out.append(f"  {TITLES[row['scenario']]}: {' '.join(row['raised'])}")
    nofile = {
        r.get("nofile")
        for row in report["rows"]
        for s in row["servers"].values()
        for r in s["raw"]
        if r.get("nofile")
    }
    out.append(
        f"RLIMIT_NOFILE (soft, raised to hard) in servers and loadgen: "
        f"{', '.join(map(str, sorted(nofile))) or '?'}"
    )
    for row in report["rows"]:
        for kind, srv in row["servers"].items():
            if srv["skipped"]:
                out.append(
                    f"{TITLES[row['scenario']]} {row['label']} {kind}: {srv['skipped']}"
                )
    for note in report["notes"]:
        out.append(f"note: {note}")
    failures = failures_of(report)
    if failures:
        out.append("")
        out.append("FAILURES:")
        out.extend(f"  {f}" for f in failures)
    return "\n".join(out)


def failures_of(report: dict) -> list[str]:
    """Every case and server that lost lines, hung or failed."""
    failed = []
    for row in report["rows"]:
        for kind, s in row["servers"].items():
            for err in s["errors"]:
                failed.append(
                    f"{TITLES[row['scenario']]} {row['label']} {kind}: "
                    f"{err.strip()[:1500]}"
                )
            if s["loss"] and not s["errors"]:
                failed.append(
                    f"{TITLES[row['scenario']]} {row['label']} {kind}: lost {s['loss']}"
                )
    return failed


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m bench", description=__doc__.split("\n")[0]
    )
    p.add_argument(
        "--quick",
        action="store_true",
        help="every scenario tiny: completion and zero loss only",
    )
    p.add_argument("--repeat", type=int, default=1, help="repeats per case (median)")
    p.add_argument("--json", action="store_true", help="print JSON, not the table")
    p.add_argument(
        "--only", default="", help="comma-separated scenarios: " + ",".join(TITLES)
    )
    p.add_argument(
        "--servers",
        default=",".join(KINDS),
        help="comma-separated: " + ",".join(KINDS),
    )
    p.add_argument(
        "--quiet-wait",
        type=float,
        default=None,
        metavar="S",
        help="before each run, wait up to S seconds for other processes to "
        "leave the CPUs idle (default: 5; 0 with --quick)",
    )
    p.add_argument(
        "--keep-logs",
        action="store_true",
        help="keep the servers' log files (kept anyway on failure)",
    )
    return p


def _on_sigterm(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)


def main(argv: list[str] | None = None) -> int:
    """Run the plan; print the table (or JSON); 1 if anything failed."""
    args = _parser().parse_args(argv)
    signal.signal(signal.SIGTERM, _on_sigterm)
    cases = quick_plan() if args.quick else full_plan()
    if args.only:
        wanted = set(args.only.split(","))
        unknown = wanted - set(TITLES)
        if unknown:
            print(f"unknown scenario(s): {', '.join(sorted(unknown))}", file=sys.stderr)
            return 2
        cases = [c for c in cases if c.scenario in wanted]
    kinds = [k for k in args.servers.split(",") if k]
    unknown = set(kinds) - set(KINDS)
    if unknown:
        print(f"unknown server(s): {', '.join(sorted(unknown))}", file=sys.stderr)
        return 2
    notes = []
    if not menuchat_available() and any(k.startswith("menuchat") for k in kinds):
        kinds = [k for k in kinds if not k.startswith("menuchat")]
        notes.append("menuchat/tap.py not found: floor only")
    if "ngircd" in kinds and args.quick:
        # CI's quick run needs nothing beyond the checkout.
        kinds.remove("ngircd")
    elif "ngircd" in kinds and ngircd_binary() is None:
        kinds.remove("ngircd")
        notes.append(
            "ngircd not installed (apt-get install ngircd): IRC rows "
            "show menuchat-irc alone"
        )
    if not kinds:
        print("no server to run", file=sys.stderr)
        return 2

    quiet_wait = args.quiet_wait
    if quiet_wait is None:
        quiet_wait = 0.0 if args.quick else 5.0
    logdir = Path(tempfile.mkdtemp(prefix="menuchat-bench-"))
    report = {
        "machine": machine(),
        "quick": args.quick,
        "repeat": args.repeat,
        "notes": notes,
        "rows": [],
    }
    try:
        for case in cases:
            case_kinds = kinds_for(case.scenario, kinds)
            runs: dict[str, list[dict]] = {k: [] for k in case_kinds}
            for rep in range(args.repeat):
                order = case_kinds if rep % 2 == 0 else case_kinds[::-1]
                for kind in order:
                    if quiet_wait > 0:
                        wait_quiet(quiet_wait)
                    result = run_case(case, kind, logdir)
                    runs[kind].append(result)
                    status = result.get("skipped") or (
                        "ok" if result.get("ok") else "FAILED"
                    )
                    print(
                        f"{case.scenario} {case.label} {kind} "
                        f"[{rep + 1}/{args.repeat}] {status} "
                        f"({result['elapsed_s']:.1f}s)",
                        file=sys.stderr,
                        flush=True,
                    )
            report["rows"].append(summarise(case, runs))
    finally:
        stop_all()
    failures = failures_of(report)
    if failures or args.keep_logs:
        report["notes"].append(f"server logs kept in {logdir}")
    else:
        shutil.rmtree(logdir, ignore_errors=True)
    if args.json:
        print(json.dumps(report, indent=1, default=str))
    else:
        print(render(report))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
