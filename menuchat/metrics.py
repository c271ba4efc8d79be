"""The server's Prometheus metrics, served on their own port.

Counting stays off the hot paths: the hub, the connections and the
admission count in plain integers (a room line adds its member count once,
not once per delivery), and a L{ServerCollector} turns them into metrics
only when Prometheus scrapes. Store latency is a histogram, observed once
per store call. The registry belongs to the service, not the process, so
several servers (in tests) each have their own.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.metrics import Histogram
from prometheus_client.registry import Collector
from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IReactorTime
from twisted.web.resource import Resource
from twisted.web.server import Request

from menuchat.core.hub import Hub
from menuchat.net.admission import Admission
from menuchat.net.stats import ConnectionStats

__all__ = ["MetricsResource", "ServerMetrics", "TimedStore"]


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
        users.add_metric(["guest"], len(hub.users()))
        users.add_metric(["registered"], 0)
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


class ServerMetrics:
    """The registry of one server and the metrics on it."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.store_latency = Histogram(
            "menuchat_store_call_seconds",
            "Time from a store call to its answer.",
            ["call"],
            registry=self.registry,
            buckets=(0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5),
        )

    def watch(self, hub: Hub, admission: Admission, stats: ConnectionStats) -> None:
        """Report the counts of this server's hub and connections."""
        self.registry.register(ServerCollector(hub, admission, stats))

    def text(self) -> bytes:
        """The metrics in Prometheus' text format."""
        return generate_latest(self.registry)


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
        histogram = self._latency.labels(call=name)
        seconds = self._clock.seconds

        def timed(*args: Any, **kwargs: Any) -> Any:
            started = seconds()
            result = call(*args, **kwargs)
            if isinstance(result, Deferred):

                def observe(value: object) -> object:
                    histogram.observe(seconds() - started)
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
