"""The server's Prometheus metrics, served on their own port.

Counting stays off the hot paths: the hub, the connections and the
admission count in plain integers (a room line adds its member count once,
not once per delivery), and a L{ServerCollector} turns them into metrics
only when Prometheus scrapes. Store latency is a histogram kept in plain
integers too (L{LatencyCounts}). The registry belongs to the service, not
the process, so several servers (in tests) each have their own.
"""

from __future__ import annotations

import bisect
import itertools
from collections import Counter
from collections.abc import Iterator
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector
from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IReactorTime
from twisted.web.resource import Resource
from twisted.web.server import Request

from menuchat.core.hub import Hub
from menuchat.net.admission import Admission
from menuchat.net.stats import ConnectionStats

__all__ = ["MetricsResource", "ServerMetrics", "TimedStore", "timed_store"]


class ServerCollector(Collector):
    """Reads the server's counts when scraped."""

    def __init__(self, hub: Hub, admission: Admission, stats: ConnectionStats):
        self._hub = hub
        self._admission = admission
        self._stats = stats

    def collect(self) -> Iterator[Metric]:
        hub, stats = self._hub, self._stats
        yield GaugeMetricFamily(
            "menuchat_connections",
            "Connections open now.",
            value=len(self._admission.connections),
        )
        users = GaugeMetricFamily(
            "menuchat_users", "Users logged in now.", labels=["kind"]
        )
        everyone = hub.users()
        registered = sum(1 for user in everyone if user.registered)
        users.add_metric(["guest"], len(everyone) - registered)
        users.add_metric(["registered"], registered)
        yield users
        yield GaugeMetricFamily(
            "menuchat_rooms", "Chat rooms open now.", value=len(hub.rooms())
        )
        yield CounterMetricFamily(
            "menuchat_lines_in", "Lines received from clients.", value=stats.lines_in
        )
        yield CounterMetricFamily(
            "menuchat_deliveries",
            "Room lines delivered, one per member reached.",
            value=hub.deliveries,
        )
        yield CounterMetricFamily(
            "menuchat_private_messages",
            "Private messages stored.",
            value=hub.private_messages,
        )
        yield _by_reason(
            "menuchat_refusals", "Connections refused, by reason.", stats.refusals
        )
        yield _by_reason(
            "menuchat_drops", "Connections dropped, by reason.", stats.drops
        )
        yield _by_reason(
            "menuchat_login_failures", "Logins refused, by reason.", hub.login_failures
        )
        yield GaugeMetricFamily(
            "menuchat_output_queue_high_water_bytes",
            "Most output ever queued for one connection at once.",
            value=stats.output_high_water,
        )


def _by_reason(name: str, text: str, counts: Counter[str]) -> CounterMetricFamily:
    family = CounterMetricFamily(name, text, labels=["reason"])
    for reason, count in sorted(counts.items()):
        family.add_metric([reason], count)
    return family


#: Upper bounds of the store latency buckets, in seconds.
LATENCY_BOUNDS = (0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0)


class LatencyCounts(Collector):
    """Store call latencies, by call, as a histogram kept in plain integers.

    prometheus_client's Histogram takes a lock and a few microseconds per
    observation, once per store call: on the private-message path that
    was more than the call. Here an answer that is in at once costs one
    increment, and the histogram is built only when Prometheus scrapes.
    """

    def __init__(self) -> None:
        self._counts: dict[str, list[int]] = {}
        self._sums: dict[str, float] = {}

    def observe(self, call: str, seconds: float, count: int = 1) -> None:
        """C{count} calls named C{call} each answered in C{seconds}."""
        counts = self._counts.get(call)
        if counts is None:
            counts = self._counts[call] = [0] * (len(LATENCY_BOUNDS) + 1)
            self._sums[call] = 0.0
        counts[bisect.bisect_left(LATENCY_BOUNDS, seconds)] += count
        self._sums[call] += seconds * count

    def collect(self) -> Iterator[Metric]:
        family = HistogramMetricFamily(
            "menuchat_store_call_seconds",
            "Time from a store call to its answer.",
            labels=["call"],
        )
        for call, counts in sorted(self._counts.items()):
            cumulative = list(itertools.accumulate(counts))
            buckets = [
                (repr(bound), float(total))
                for bound, total in zip(LATENCY_BOUNDS, cumulative, strict=False)
            ]
            buckets.append(("+Inf", float(cumulative[-1])))
            family.add_metric([call], buckets, sum_value=self._sums[call])
        yield family


class ServerMetrics:
    """The registry of one server and the metrics on it."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.store_latency = LatencyCounts()
        self.registry.register(self.store_latency)

    def watch(self, hub: Hub, admission: Admission, stats: ConnectionStats) -> None:
        """Report the counts of this server's hub and connections."""
        self.registry.register(ServerCollector(hub, admission, stats))

    def text(self) -> bytes:
        """The metrics in Prometheus' text format."""
        return generate_latest(self.registry)


def timed_store(store: Any, clock: IReactorTime, metrics: ServerMetrics) -> Any:
    """C{store}, every call's latency observed in C{metrics}.

    A store that times its calls itself (the SQLite store:
    C{time_calls(observe, seconds)}, those answered later in its writer,
    those answered at once as nil) is asked to and used as it is: on the
    private-message path, a wrapper around each call cost more than the
    timing. Any other is wrapped in a L{TimedStore}.
    """
    time_calls = getattr(store, "time_calls", None)
    if time_calls is None:
        return TimedStore(store, clock, metrics)
    time_calls(metrics.store_latency.observe, clock.seconds)
    return store


class TimedStore:
    """A store whose every call's latency is observed (a L{Store} too)."""

    def __init__(self, store: Any, clock: IReactorTime, metrics: ServerMetrics):
        self._store = store
        self._clock = clock
        self._latency = metrics.store_latency

    def __getattr__(self, name: str) -> Any:
        call = getattr(self._store, name)
        if not callable(call):
            return call
        latency = self._latency
        seconds = self._clock.seconds

        def timed(*args: Any, **kwargs: Any) -> Any:
            started = seconds()
            result = call(*args, **kwargs)
            if isinstance(result, Deferred):
                if result.called and not result.paused:
                    # Answered at once (the memory store): no callback, which
                    # would also cost the caller its fast path.
                    latency.observe(name, 0.0)
                    return result

                def observe(value: object) -> object:
                    latency.observe(name, seconds() - started)
                    return value

                result.addBoth(observe)
            return result

        setattr(self, name, timed)
        return timed


class MetricsResource(Resource):
    """Serves the metrics, for Prometheus to scrape at any path."""

    isLeaf = True

    def __init__(self, metrics: ServerMetrics) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self._metrics = metrics

    def render_GET(self, request: Request) -> bytes:
        request.setHeader(b"Content-Type", CONTENT_TYPE_LATEST.encode())
        return self._metrics.text()
