"""Read a process's CPU time and resident memory from /proc, and raise fd limits.

Used by the load generator (to sample the server around a measured window) and
by the harness (for the final state of each process). Linux only.
"""

from __future__ import annotations

import os
import resource
from contextlib import suppress

_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """Return utime + stime of ``pid`` in seconds (resolution: one clock tick).

    The command name in field 2 may contain spaces and parentheses, so the
    fields are counted from the last ``)``.
    """
    return _stat_cpu(f"/proc/{pid}/stat")


def tree_cpu_seconds(pid: int) -> float:
    """Return the CPU time of ``pid`` and of its child processes, those
    running and those it has waited for: a server's with its helpers' (the
    SQLite store runs in a process of its own)."""
    total = _stat_cpu(f"/proc/{pid}/stat", children=True)
    for task in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{task}/children", "rb") as f:
                children = f.read().split()
        except OSError:
            continue
        for child in children:
            # One that ended meanwhile is counted once waited for.
            with suppress(OSError):
                total += cpu_seconds(int(child))
    return total


def _stat_cpu(path: str, children: bool = False) -> float:
    with open(path, "rb") as f:
        stat = f.read()
    fields = stat[stat.rindex(b")") + 2 :].split()
    # fields[0] is field 3 (state); utime and stime are fields 14 and 15,
    # and those of the children waited for, 16 and 17.
    ticks = int(fields[11]) + int(fields[12])
    if children:
        ticks += int(fields[13]) + int(fields[14])
    return ticks / _TICKS


def thread_cpu_seconds(pid: int, tid: int) -> float:
    """Return utime + stime of thread ``tid`` of ``pid`` in seconds: with
    ``tid == pid``, the main thread's (a Twisted server's reactor thread)."""
    return _stat_cpu(f"/proc/{pid}/task/{tid}/stat")


def rss_kib(pid: int) -> int:
    """Return the resident set size (VmRSS) of ``pid`` in KiB."""
    with open(f"/proc/{pid}/status", "rb") as f:
        for line in f:
            if line.startswith(b"VmRSS:"):
                return int(line.split()[1])
    raise LookupError(f"no VmRSS for pid {pid}")


def machine_busy_seconds() -> float:
    """CPU seconds all cores spent in processes since boot (steal included).

    From /proc/stat: user, nice, system and steal; not irq and softirq, which
    on loopback is mostly the benchmark's own traffic (packet processing, TCP
    timers) and belongs to neither process. Minus the server's and the load
    generator's CPU over an interval, this is what everything else on the
    machine took from the benchmark.
    """
    with open("/proc/stat", "rb") as f:
        fields = f.readline().split()
    user, nice, system, _idle, _iowait, _irq, _softirq, steal = map(int, fields[1:9])
    return (user + nice + system + steal) / _TICKS


def own_cpu_seconds() -> float:
    """Return the CPU time (user + system) used so far by this process."""
    t = os.times()
    return t.user + t.system


def raise_nofile() -> tuple[int, int]:
    """Raise this process's soft RLIMIT_NOFILE to its hard limit; return both."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    hard_target = 1 << 20 if hard == resource.RLIM_INFINITY else hard
    if soft < hard_target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard_target, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)
