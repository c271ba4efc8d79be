"""The five scenarios, as run inside the load generator against either server.

Each returns a flat dict of figures. Setup (logins, joins) is never measured;
a `Window` samples server and load-generator CPU around the measured part only.
Every wait is bounded (`Loop.run_until`); a scenario that cannot finish its
setup raises, one that cannot drain its deliveries reports the loss.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any

from bench.loop import Conn, DialogueTask, Loop, Timeout
from bench.procstat import (
    cpu_seconds,
    machine_busy_seconds,
    own_cpu_seconds,
    rss_kib,
    thread_cpu_seconds,
    tree_cpu_seconds,
)

#: How many logins or joins are in flight at once during setup. Below
#: Twisted's default listen backlog (50), so setup never overflows it.
SETUP_CONCURRENCY = 40


class Window:
    """CPU time of the server and of this process over one measured interval."""

    #: Other processes whose CPU time and RSS every window also records
    #: (the other nodes of a cluster and its Redis; set by bench.cluster).
    watched: tuple[int, ...] = ()

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.t0 = time.monotonic()
        self.server0 = tree_cpu_seconds(pid)
        self.reactor0 = thread_cpu_seconds(pid, pid)
        self.watched0 = {p: (cpu_seconds(p), rss_kib(p)) for p in self.watched}
        self.own0 = own_cpu_seconds()
        self.busy0 = machine_busy_seconds()

    def stop(self) -> dict[str, Any]:
        """End the interval; return wall, CPU times and utilisations.

        ``other_util`` is the CPU that every other process on the machine
        used meanwhile (in cores): high values mean the figures are skewed.
        ``watched`` (if any are) has each watched pid's CPU time over the
        interval and its RSS at the start and the end.
        """
        wall = time.monotonic() - self.t0
        server = tree_cpu_seconds(self.pid) - self.server0
        reactor = thread_cpu_seconds(self.pid, self.pid) - self.reactor0
        own = own_cpu_seconds() - self.own0
        watched = {
            str(p): {
                "cpu_s": cpu_seconds(p) - cpu0,
                "rss0_kib": rss0,
                "rss_kib": rss_kib(p),
            }
            for p, (cpu0, rss0) in self.watched0.items()
        }
        others = sum(w["cpu_s"] for p, w in watched.items() if p != str(self.pid))
        busy = machine_busy_seconds() - self.busy0
        other = max(0.0, busy - server - own - others)
        extra = {"watched": watched} if watched else {}
        return {
            **extra,
            "other_util": other / wall if wall else 0.0,
            "wall_s": wall,
            "server_cpu_s": server,
            "server_reactor_cpu_s": reactor,
            "loadgen_cpu_s": own,
            "server_util": server / wall if wall else 0.0,
            "loadgen_util": own / wall if wall else 0.0,
        }


def percentile(values: Sequence[float], q: float) -> float:
    """The q-quantile (0..1) of ``values`` by nearest rank; NaN if empty."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))
    return ordered[rank]


def run_tasks(
    loop: Loop,
    conns: Sequence[Conn],
    make_task: Callable[[Conn], DialogueTask],
    fail: bytes,
    concurrency: int,
    timeout: float,
    what: str,
) -> list[float]:
    """Run one dialogue task per connection, ``concurrency`` at a time.

    Returns each task's completion time in seconds since the start, in
    completion order.
    """
    todo = list(reversed(conns))
    finished: list[float] = []
    t0 = time.monotonic()

    def done(c: Conn) -> None:
        finished.append(time.monotonic() - t0)
        if todo:
            start()

    def start() -> None:
        c = todo.pop()
        c.run_task(make_task(c), done, fail)

    for _ in range(min(concurrency, len(todo))):
        start()
    loop.run_until(lambda: len(finished) == len(conns), timeout, what)
    return finished


def login_all(
    loop: Loop,
    driver: object,
    names: Sequence[bytes],
    concurrency: int,
    timeout: float,
    strict: bool = True,
) -> tuple[list[Conn], list[float]]:
    """Connect and log in every name, ``concurrency`` dialogues at a time.

    A connection starts its login as soon as the TCP connect completes; with
    ``concurrency >= len(names)`` every connect is issued in the same instant.
    Returns the connections and each one's time from the start to the menu;
    unless ``strict``, a timeout returns those that made it instead of raising.
    """
    todo = list(reversed(names))
    conns: list[Conn] = []
    finished: list[float] = []
    t0 = time.monotonic()

    def done(c: Conn) -> None:
        finished.append(time.monotonic() - t0)
        if todo:
            start()

    def connected(c: Conn) -> None:
        c.run_task(driver.login(c, c.name), done, driver.fail)

    def start() -> None:
        conns.append(loop.connect(todo.pop(), connected))

    for _ in range(min(concurrency, len(todo))):
        start()
    try:
        loop.run_until(lambda: len(finished) == len(names), timeout, "login")
    except Timeout:
        if strict:
            raise
    return conns, finished


def enter_room(
    loop: Loop, driver: object, conns: Sequence[Conn], room: bytes, timeout: float
) -> None:
    """The first connection creates ``room``; all the others join it."""
    run_tasks(
        loop,
        conns[:1],
        lambda c: driver.create_room(c, room),
        driver.fail,
        1,
        timeout,
        "create room",
    )
    run_tasks(
        loop,
        conns[1:],
        lambda c: driver.join_room(c, room),
        driver.fail,
        SETUP_CONCURRENCY,
        timeout,
        "join room",
    )
    # Several processes (a connection per port in turn): a node hears of the
    # others' joins through Redis, after its own members' lines. A line from
    # a member on each other node, seen by every member, puts every join
    # notice before the scenario's own sync.
    for sender in conns[1 : len(loop.ports)]:
        sync_room(loop, driver, conns, sender, lambda c: None, timeout)


def sync_room(
    loop: Loop,
    driver: object,
    members: Sequence[Conn],
    sender: Conn,
    then: Callable[[Conn], None],
    timeout: float,
) -> None:
    """Send a marker line; once every member has it, hand each to ``then``.

    Whatever the server said before the marker (join notices and the like)
    is skipped, so the measured part counts only the scenario's own lines.
    A server that does not echo a sender's own line (IRC) hands the sender
    over at once.
    """
    token = b"sync-%d-%d" % (os.getpid(), time.monotonic_ns())
    marker = driver.room_marker(token)

    def wait_marker(c: Conn) -> DialogueTask:
        yield marker
        yield b"\n"

    pending = len(members)

    def done(c: Conn) -> None:
        nonlocal pending
        pending -= 1
        then(c)

    for c in members:
        if c is sender and not driver.echoes_own:
            c.run_task(iter(()), done, b"")
        else:
            c.run_task(wait_marker(c), done, b"")
    sender.send(driver.room_line(token))
    loop.run_until(lambda: pending == 0, timeout, "room sync")


def _start_counting(c: Conn) -> None:
    c.start_counting()
    c.count = 0


def _room(
    loop: Loop, driver: object, size: int, timeouts: float, then: Callable[[Conn], None]
) -> list[Conn]:
    names = [b"m%d" % i for i in range(size)]
    conns, _ = login_all(loop, driver, names, SETUP_CONCURRENCY, timeouts)
    enter_room(loop, driver, conns, b"bench", timeouts)
    sync_room(loop, driver, conns, conns[0], then, timeouts)
    return conns


def _drain(loop: Loop, conns: Sequence[Conn], expected: int, timeout: float) -> bool:
    """Wait until every live member has ``expected`` lines; False on timeout."""
    try:
        loop.run_until(
            lambda: all(c.count >= expected for c in conns if c.fd in loop.conns),
            timeout,
            "drain",
        )
    except Timeout:
        return False
    return True


def _loss(conns: Sequence[Conn], expected: int) -> dict[str, int]:
    delivered = sum(min(c.count, expected) for c in conns)
    return {
        "expected": expected * len(conns),
        "delivered": delivered,
        "loss": expected * len(conns) - delivered,
        "extra": sum(max(0, c.count - expected) for c in conns),
    }


def fanout(
    loop: Loop,
    driver: object,
    pid: int,
    size: int,
    duration: float,
    window: int,
    batch: int,
    line_bytes: int,
    timeout: float,
) -> dict:
    """One sender, ``size`` members; send as fast as the server takes it.

    The sender keeps at most ``window`` lines sent but not yet echoed back to
    itself, topping up in sends of exactly ``batch`` lines each (one send()
    per batch, as a client that writes ``batch`` lines at a time). Where the
    server does not echo (IRC), the sender is not counted: the other
    ``size - 1`` members must each receive every line, and the window is
    paced on the last member's receipts instead.
    """
    if not 1 <= batch <= window:
        raise ValueError(f"batch {batch} must be 1..window ({window})")
    conns = _room(loop, driver, size, timeout, _start_counting)
    sender = conns[0]
    watcher = sender
    if not driver.echoes_own:
        conns = conns[1:]
        watcher = conns[-1]
    pad = b"x" * max(0, line_bytes - 12)
    sent = 0
    sends = 0
    sending = True
    win = Window(pid)
    stop_at = time.monotonic() + duration

    def tick() -> None:
        nonlocal sent, sends, sending
        if not sending:
            return
        if time.monotonic() >= stop_at:
            sending = False
            return
        free = window - (sent - watcher.count)
        while free >= batch:
            sender.send(
                b"".join(
                    driver.room_line(b"%d %s" % (sent + i, pad)) for i in range(batch)
                )
            )
            sent += batch
            sends += 1
            free -= batch

    loop.ticks.append(tick)
    loop.run_until(lambda: not sending, duration + 5, "fan-out send")
    loop.ticks.remove(tick)
    drained = _drain(loop, conns, sent, timeout)
    stats = win.stop()
    result = {
        **stats,
        **_loss(conns, sent),
        "lines_sent": sent,
        "sends": sends,
        "batch": batch,
        "window": window,
        "drained": drained,
    }
    result["deliveries_per_s"] = result["delivered"] / stats["wall_s"]
    result["cpu_us_per_delivery"] = (
        stats["server_cpu_s"] / result["delivered"] * 1e6
        if result["delivered"]
        else float("nan")
    )
    return result


class _Probe:
    """A member that parses every room line for its send timestamp."""

    def __init__(self, conn: Conn, latencies: list[float]) -> None:
        self.latencies = latencies
        self.tail = b""
        conn.count = 0
        conn.buf.clear()
        conn.on_data = self.data

    def data(self, conn: Conn, data: bytes) -> None:
        now = time.time()
        lines = (self.tail + data).split(b"\n")
        self.tail = lines.pop()
        conn.count += len(lines)
        for line in lines:
            i = line.find(b"> ")
            if i < 0:
                continue
            j = line.find(b" ", i + 2)
            with contextlib.suppress(ValueError):
                self.latencies.append(now - float(line[i + 2 : j]))


def busy_room(
    loop: Loop,
    driver: object,
    pid: int,
    size: int,
    senders: int,
    rate: float,
    probes: int,
    duration: float,
    line_bytes: int,
    timeout: float,
) -> dict:
    """``size`` members, ``senders`` of them each sending ``rate`` lines/s.

    Sends are spread evenly in time (no bursts), so each sender stays within
    a token bucket of ``rate`` per second. The last ``probes`` members parse
    every line for its timestamp (time.time() at send) to measure latency.
    """
    latencies: list[float] = []
    probe_set = set(range(size - probes, size))
    index: dict[int, int] = {}

    def then(c: Conn) -> None:
        if index[c.fd] in probe_set:
            _Probe(c, latencies)
        else:
            _start_counting(c)

    names = [b"m%d" % i for i in range(size)]
    conns, _ = login_all(loop, driver, names, SETUP_CONCURRENCY, timeout)
    index.update((c.fd, i) for i, c in enumerate(conns))
    enter_room(loop, driver, conns, b"bench", timeout)
    sync_room(loop, driver, conns, conns[0], then, timeout)

    talkers = conns[:senders]
    pad = b"x" * max(0, line_bytes - 30)
    sent = [0] * senders
    period = 1.0 / rate
    win = Window(pid)
    t0 = time.monotonic()
    stop_at = t0 + duration
    due = [t0 + i * period / senders for i in range(senders)]

    def tick() -> None:
        now = time.monotonic()
        for i, c in enumerate(talkers):
            while due[i] <= now and due[i] < stop_at:
                c.send(b"%.6f %d %s\n" % (time.time(), sent[i], pad))
                sent[i] += 1
                due[i] += period
        loop.wake_at = min(due)

    loop.ticks.append(tick)
    loop.run_until(lambda: time.monotonic() >= stop_at, duration + 5, "busy send")
    loop.ticks.remove(tick)
    loop.wake_at = float("inf")
    total = sum(sent)
    drained = _drain(loop, conns, total, timeout)
    stats = win.stop()
    result = {
        **stats,
        **_loss(conns, total),
        "lines_sent": total,
        "drained": drained,
        "samples": len(latencies),
    }
    result["p50_ms"] = percentile(latencies, 0.50) * 1e3
    result["p99_ms"] = percentile(latencies, 0.99) * 1e3
    result["max_ms"] = max(latencies, default=float("nan")) * 1e3
    result["deliveries_per_s"] = result["delivered"] / stats["wall_s"]
    return result


class _Pair:
    """A sender and its recipient, with the send times not yet noticed."""

    def __init__(self, a: Conn, b: Conn) -> None:
        self.a = a
        self.b = b
        self.sent = 0
        self.read = 0
        self.confirmed = 0
        self.noticed = 0
        self.sent_at: deque[float] = deque()


def private(
    loop: Loop,
    driver: object,
    pid: int,
    pairs: int,
    duration: float,
    window: int,
    latencies_out: list[float],
    timeout: float,
    rate: float = 0.0,
) -> dict:
    """``pairs`` senders each messaging one recipient, who reads on each notice.

    A sender keeps at most ``window`` messages sent but not yet read. With a
    ``rate`` it sends that many a second, evenly (a fixed offered load, the
    same for every server; ``behind`` counts sends the window held back);
    without, as fast as the window allows. Latency is from the send to the
    recipient's notice (the k-th notice answers the k-th message: one sender
    per recipient keeps them in order).
    """
    names = [b"a%d" % i for i in range(pairs)] + [b"b%d" % i for i in range(pairs)]
    conns, _ = login_all(loop, driver, names, SETUP_CONCURRENCY, timeout)
    group = [_Pair(conns[i], conns[pairs + i]) for i in range(pairs)]
    errors: list[str] = []

    for p in group:

        def on_notice(now: float, unread: int | None, p: _Pair = p) -> None:
            # A notice tells of every message up to the unread count it
            # gives (menuchat tells of a turn's messages at once), or of one.
            noticed = 1 if unread is None else p.read + unread - p.noticed
            if noticed < 1 or len(p.sent_at) < noticed:
                errors.append(f"{p.b.name.decode()}: notice without a message")
                return
            for _ in range(noticed):
                latencies_out.append(now - p.sent_at.popleft())
            p.noticed += noticed

        def on_read(n: int, p: _Pair = p) -> None:
            p.read += n

        def on_sent(n: int, p: _Pair = p) -> None:
            p.confirmed += n

        driver.read_pms(p.b, on_notice, on_read)
        driver.watch_pm_sender(p.a, on_sent)

    sending = True
    win = Window(pid)
    started = time.monotonic()
    stop_at = started + duration
    behind = 0

    def tick() -> None:
        nonlocal sending, behind
        if not sending:
            return
        clock = time.monotonic()
        if clock >= stop_at:
            sending = False
            return
        for p in group:
            free = window - (p.sent - p.read)
            if rate:
                due = int((clock - started) * rate) - p.sent
                behind += max(0, due - free)
                free = min(free, due)
            if free <= 0:
                continue
            now = time.time()
            p.sent_at.extend([now] * free)
            p.a.send(
                b"".join(
                    driver.pm_payload(p.b, b"hello %d" % (p.sent + i))
                    for i in range(free)
                )
            )
            p.sent += free

    loop.ticks.append(tick)
    loop.run_until(lambda: not sending, duration + 5, "private send")
    loop.ticks.remove(tick)
    confirms = driver.confirms_pm
    try:
        loop.run_until(
            lambda: all(
                p.read >= p.sent and (not confirms or p.confirmed >= p.sent)
                for p in group
            ),
            timeout,
            "private drain",
        )
        drained = True
    except Timeout:
        drained = False
    stats = win.stop()
    sent = sum(p.sent for p in group)
    read = sum(min(p.read, p.sent) for p in group)
    result = {
        **stats,
        "expected": sent,
        "delivered": read,
        "loss": sent - read,
        "extra": sum(max(0, p.read - p.sent) for p in group),
        "unconfirmed": sum(p.sent - p.confirmed for p in group) if confirms else 0,
        "drained": drained,
        "errors": errors[:5],
        "behind": behind,
    }
    result["messages_per_s"] = read / stats["wall_s"]
    # The reactor's thread: the one a store's own thread does not relieve.
    result["reactor_us_per_message"] = (
        stats["server_reactor_cpu_s"] / read * 1e6 if read else 0.0
    )
    result["p50_ms"] = percentile(latencies_out, 0.50) * 1e3
    result["p99_ms"] = percentile(latencies_out, 0.99) * 1e3
    return result


#: The password of the registered users the harness makes for "logins"
#: (bench/servers.py make_accounts): names u0, u1, ...
ACCOUNT_PASSWORD = b"bench-password"


def account_names(size: int) -> list[bytes]:
    """The registered users' names of a "logins" case of ``size``."""
    return [b"u%d" % i for i in range(size)]


class _Registered:
    """A driver whose logins are the registered users' (name and password)."""

    def __init__(self, driver: Any) -> None:
        self.fail = driver.fail
        self._driver = driver

    def login(self, conn: Conn, name: bytes) -> DialogueTask:
        task: DialogueTask = self._driver.login_registered(conn, name, ACCOUNT_PASSWORD)
        return task


def logins(
    loop: Loop,
    driver: object,
    pid: int,
    size: int,
    concurrency: int,
    timeout: float,
) -> dict:
    """``size`` guests log in, ``concurrency`` at a time, then ``size``
    registered users (name, then password) the same way; logins per second
    and server CPU per login of each. The guests stay while the registered
    users log in."""
    win = Window(pid)
    names = [b"g%d" % i for i in range(size)]
    _, guests = login_all(loop, driver, names, concurrency, timeout)
    guest_stats = win.stop()
    win = Window(pid)
    registered = _Registered(driver)
    _, users = login_all(loop, registered, account_names(size), concurrency, timeout)
    stats = win.stop()
    return {
        **stats,
        "guest_logins_per_s": size / max(guests),
        "registered_logins_per_s": size / max(users),
        "guest_cpu_ms": guest_stats["server_cpu_s"] / size * 1e3,
        "registered_cpu_ms": stats["server_cpu_s"] / size * 1e3,
        "expected": 2 * size,
        "delivered": len(guests) + len(users),
        "loss": 2 * size - len(guests) - len(users),
    }


def hold(
    loop: Loop, driver: object, pid: int, size: int, settle: float, timeout: float
) -> dict:
    """Log in ``size`` idle clients (setup concurrency); memory per connection."""
    rss0 = rss_kib(pid)
    win = Window(pid)
    names = [b"h%d" % i for i in range(size)]
    conns, finished = login_all(loop, driver, names, SETUP_CONCURRENCY, timeout)
    login_s = max(finished)
    stats = win.stop()
    end = time.monotonic() + settle
    loop.run_until(lambda: time.monotonic() >= end, settle + 1, "settle")
    rss1 = rss_kib(pid)
    alive = sum(1 for c in conns if c.fd in loop.conns)
    return {
        **stats,
        "login_s": login_s,
        "logins_per_s": size / login_s,
        "rss0_kib": rss0,
        "rss_kib": rss1,
        "kib_per_conn": (rss1 - rss0) / size,
        "cpu_us_per_login": stats["server_cpu_s"] / size * 1e6,
        "expected": size,
        "delivered": alive,
        "loss": size - alive,
    }


def storm(loop: Loop, driver: object, pid: int, size: int, timeout: float) -> dict:
    """Connect ``size`` clients in the same instant; time until all are at the menu.

    Clients still short of the menu after ``timeout`` count as lost;
    ``silent`` of them never received a byte (the server never accepted them,
    or never greeted them).
    """
    win = Window(pid)
    names = [b"s%d" % i for i in range(size)]
    conns, finished = login_all(loop, driver, names, size, timeout, strict=False)
    stats = win.stop()
    stuck = [c for c in conns if c.task is not None or not c.connected]
    return {
        **stats,
        "all_s": max(finished) if len(finished) == size else float("nan"),
        "p50_s": percentile(finished, 0.50),
        "p99_s": percentile(finished, 0.99),
        "expected": size,
        "delivered": len(finished),
        "loss": size - len(finished),
        "silent": sum(1 for c in stuck if c.received == 0),
    }
