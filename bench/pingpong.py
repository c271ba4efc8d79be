"""Small rooms: ping-pong through many two-member rooms at a fixed rate.

Each pair's first member creates a room of its own and the second joins it.
The first says ``ping-q SEQ T`` in the room at a fixed rate (T: its
perf_counter_ns at the send); the second, on reading it, at once says
``ping-a SEQ T`` back; the first, on reading the answer, records the round
trip. Whether the server echoes a line to its own sender does not matter:
each side acts only on the other's kind of line. Sends are spread evenly in
time over the pairs, so the offered load is the same for every server.
"""

from __future__ import annotations

import heapq
import time

from bench.loop import Conn, Loop, Timeout
from bench.workloads import (
    SETUP_CONCURRENCY,
    Window,
    login_all,
    percentile,
    run_tasks,
)

_QUESTION = b"ping-q"
_ANSWER = b"ping-a"


class _Pair:
    """One room's two members and the round trips measured through it."""

    __slots__ = ("a", "answered", "b", "room", "sent", "tail_a", "tail_b")

    def __init__(self, a: Conn, b: Conn, room: bytes) -> None:
        self.a = a
        self.b = b
        self.room = room
        self.sent = 0
        self.answered = 0
        self.tail_a = b""
        self.tail_b = b""


def _lines(tail: bytes, data: bytes) -> tuple[list[bytes], bytes]:
    lines = (tail + data).split(b"\n")
    return lines, lines.pop()


def pingpong(
    loop: Loop,
    driver: object,
    pid: int,
    pairs: int,
    rate: float,
    duration: float,
    timeout: float,
) -> dict:
    """``pairs`` two-member rooms, each making ``rate`` round trips a second."""
    names = [b"p%d" % i for i in range(pairs)] + [b"q%d" % i for i in range(pairs)]
    conns, _ = login_all(loop, driver, names, SETUP_CONCURRENCY, timeout)
    group = [_Pair(conns[i], conns[pairs + i], b"pp%d" % i) for i in range(pairs)]
    rooms = {c.fd: p.room for p in group for c in (p.a, p.b)}
    run_tasks(
        loop,
        [p.a for p in group],
        lambda c: driver.create_room(c, rooms[c.fd]),
        driver.fail,
        SETUP_CONCURRENCY,
        timeout,
        "create rooms",
    )
    run_tasks(
        loop,
        [p.b for p in group],
        lambda c: driver.join_room(c, rooms[c.fd]),
        driver.fail,
        SETUP_CONCURRENCY,
        timeout,
        "join rooms",
    )
    latencies: list[float] = []
    errors: list[str] = []
    for p in group:
        _watch(p, driver, latencies, errors)

    period = 1.0 / rate
    win = Window(pid)
    t0 = time.monotonic()
    stop_at = t0 + duration
    due = [(t0 + i * period / pairs, i) for i in range(pairs)]
    heapq.heapify(due)

    def tick() -> None:
        now = time.monotonic()
        while due and due[0][0] <= now:
            when, i = heapq.heappop(due)
            p = group[i]
            p.a.send(
                driver.room_line_to(
                    p.room, b"%s %d %d" % (_QUESTION, p.sent, time.perf_counter_ns())
                )
            )
            p.sent += 1
            if when + period < stop_at:
                heapq.heappush(due, (when + period, i))
        loop.wake_at = due[0][0] if due else float("inf")

    loop.ticks.append(tick)
    loop.run_until(lambda: time.monotonic() >= stop_at, duration + 5, "ping-pong")
    loop.ticks.remove(tick)
    loop.wake_at = float("inf")
    try:
        loop.run_until(
            lambda: all(p.answered >= p.sent for p in group), timeout, "ping-pong drain"
        )
        drained = True
    except Timeout:
        drained = False
    stats = win.stop()
    sent = sum(p.sent for p in group)
    answered = sum(min(p.answered, p.sent) for p in group)
    result = {
        **stats,
        "expected": sent,
        "delivered": answered,
        "loss": sent - answered,
        "extra": sum(max(0, p.answered - p.sent) for p in group),
        "drained": drained,
        "errors": errors[:5],
        "samples": len(latencies),
    }
    result["round_trips_per_s"] = answered / stats["wall_s"]
    result["cpu_us_per_round_trip"] = (
        stats["server_cpu_s"] / answered * 1e6 if answered else float("nan")
    )
    result["p50_ms"] = percentile(latencies, 0.50) * 1e3
    result["p99_ms"] = percentile(latencies, 0.99) * 1e3
    result["max_ms"] = max(latencies, default=float("nan")) * 1e3
    return result


def _watch(p: _Pair, driver: object, latencies: list[float], errors: list[str]) -> None:
    """Install the pair's readers: the second answers, the first measures."""
    p.a.buf.clear()
    p.b.buf.clear()

    def on_a(conn: Conn, data: bytes) -> None:
        now = time.perf_counter_ns()
        lines, p.tail_a = _lines(p.tail_a, data)
        for line in lines:
            i = line.find(_ANSWER)
            if i < 0:
                continue
            seq, sent_at = line[i + len(_ANSWER) :].split()[:2]
            if int(seq) != p.answered:
                errors.append(f"{p.room.decode()}: answer {int(seq)} out of order")
            p.answered += 1
            latencies.append((now - int(sent_at)) / 1e9)

    def on_b(conn: Conn, data: bytes) -> None:
        lines, p.tail_b = _lines(p.tail_b, data)
        answers = []
        for line in lines:
            i = line.find(_QUESTION)
            if i >= 0:
                rest = line[i + len(_QUESTION) :].rstrip(b"\r")
                answers.append(driver.room_line_to(p.room, _ANSWER + rest))
        if answers:
            p.b.send(b"".join(answers))

    p.a.on_data = on_a
    p.b.on_data = on_b
