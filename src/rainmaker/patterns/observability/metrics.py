"""Prometheus metrics of one app, in a registry of its own.

Two sources:

- :class:`RequestMetrics`, fed by the ASGI middleware on every request: a counter by
  method, route template and status, and a latency histogram by method and route
  template, kept as plain numbers and exposed at scrape time (see the class for why).
- :class:`HealthMetrics`, refreshed when Prometheus scrapes: every instance's health
  (a state set: ``{state="degraded"} 1``) and what the standard patterns put in their health
  details: database pool usage (``pool``), cache hits and misses (``hits``/``misses``),
  queue depth (``queues``), dead letters and job outcomes (``outcomes``). Reading health
  details keeps this pattern free of imports of, and hooks into, the patterns it watches.

Labels carry only instance names, pattern ids, route templates, methods, statuses, queue
names and outcome names: never a raw path (which may hold a token) nor a settings value.
"""

from __future__ import annotations

import asyncio
import itertools
import math
import re
import threading
import time
from bisect import bisect_left
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from prometheus_client import CollectorRegistry
from prometheus_client import metrics as client_metrics
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
    StateSetMetricFamily,
)
from prometheus_client.registry import Collector
from prometheus_client.samples import Sample
from prometheus_client.utils import floatToGoString

from rainmaker import Health, Status

if TYPE_CHECKING:
    from rainmaker import AppView

KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
UNMATCHED = "<unmatched>"


class RequestMetrics(Collector):
    """HTTP request counter and latency histogram (see the module docstring).

    The counts are plain numbers, turned into prometheus_client's metric families when
    scraped (``<ns>_http_requests_total`` by method, route and status, and the
    ``<ns>_http_request_duration_seconds`` histogram by method and route, as the client's
    ``Counter`` and ``Histogram`` expose them, ``_created`` series included): a request
    costs one lookup, one lock, one ``bisect`` and two additions, where the client's
    objects cost eight Python calls, three locks among them — the bulk of what metrics add
    to a request in ``bench/observability``.
    """

    def __init__(
        self, registry: CollectorRegistry, *, namespace: str, buckets: Sequence[float]
    ) -> None:
        self.requests_name = f"{namespace}_http_requests"
        self.latency_name = f"{namespace}_http_request_duration_seconds"
        self.bounds = tuple(sorted({float(b) for b in buckets} - {math.inf}))
        self._les = [*(floatToGoString(b) for b in self.bounds), "+Inf"]  # type: ignore[no-untyped-call]
        # (method, route, status) -> [requests in each bucket (the last: +Inf), seconds
        # summed, when the series was created]; the route's histogram sums its statuses.
        self._series: dict[tuple[str, str, int], list[float]] = {}
        self._lock = threading.Lock()  # a sync endpoint's thread may record too
        registry.register(self)

    def record(self, method: str, route: str, status: int, seconds: float) -> None:
        """Count one answered request and observe its duration."""
        if method not in KNOWN_METHODS:
            method = "OTHER"  # a client can send any token as a method: bound the labels
        key = (method, route, status)
        with self._lock:
            series = self._series.get(key)
            if series is None:
                series = self._series[key] = [0] * (len(self.bounds) + 1) + [0.0, time.time()]
            series[bisect_left(self.bounds, seconds)] += 1  # the first bound >= seconds
            series[-2] += seconds

    def describe(self) -> Iterable[Metric]:
        return self._families()

    def collect(self) -> Iterable[Metric]:
        requests, latency = self._families()
        with self._lock:
            snapshot = [(key, list(series)) for key, series in self._series.items()]
        # The client's own switch (PROMETHEUS_DISABLE_CREATED_SERIES, disable_created_metrics).
        created = getattr(client_metrics, "_use_created", True)
        buckets = len(self.bounds) + 1
        routes: dict[tuple[str, str], list[float]] = {}
        for (method, route, status), series in snapshot:
            requests.add_metric(
                [method, route, str(status)],
                sum(series[:buckets]),
                created=series[-1] if created else None,
            )
            merged = routes.get((method, route))
            if merged is None:
                routes[(method, route)] = series
            else:
                merged[:-1] = [a + b for a, b in zip(merged[:-1], series[:-1], strict=True)]
                merged[-1] = min(merged[-1], series[-1])
        for (method, route), series in routes.items():
            cumulative = itertools.accumulate(series[:buckets])
            latency.add_metric(
                [method, route], list(zip(self._les, cumulative, strict=True)), series[-2]
            )
            if created:
                labels = {"method": method, "route": route}
                latency.samples.append(
                    Sample(f"{self.latency_name}_created", labels, series[-1], None, None)
                )
        return [requests, latency]

    def _families(self) -> tuple[CounterMetricFamily, HistogramMetricFamily]:
        return (
            CounterMetricFamily(
                self.requests_name,
                "HTTP requests answered, by method, route template and status.",
                labels=["method", "route", "status"],
            ),
            HistogramMetricFamily(
                self.latency_name,
                "Time from receiving a request to finishing its response, by route template.",
                labels=["method", "route"],
            ),
        )


@dataclass(frozen=True)
class Checked:
    """One instance's health as the last scrape saw it."""

    instance: str
    pattern: str
    health: Health


def metric_namespace(app_name: str) -> str:
    """The app's name as a Prometheus metric prefix (the default namespace)."""
    name = re.sub(r"[^a-z0-9_]", "_", app_name.lower()).strip("_") or "rainmaker"
    return f"_{name}" if name[0].isdigit() else name


class HealthMetrics(Collector):
    """Metric families derived from the latest health of every instance."""

    def __init__(self, namespace: str) -> None:
        self.namespace = namespace
        self.checked: list[Checked] = []

    async def refresh(self, app: AppView, timeout: float) -> None:
        """Ask every instance for its health, each within ``timeout`` seconds."""
        instances = list(app.instances.values())
        results = await asyncio.gather(*(_check(i.module, timeout) for i in instances))
        self.checked = [
            Checked(i.name, i.pattern.id, health)
            for i, health in zip(instances, results, strict=True)
        ]

    def collect(self) -> Iterable[Metric]:
        ns = self.namespace
        # A state set (one series per state, 1 for the current one), not a 1/0.5/0 gauge:
        # alerts and sums can then ask for a state by name.
        health = StateSetMetricFamily(
            f"{ns}_pattern_health",
            "Health of each pattern instance, as a state set (up, degraded, down).",
            labels=["instance", "pattern"],
        )
        pool = GaugeMetricFamily(
            f"{ns}_database_pool_connections",
            "Database pool connections, by state (in_use: checked out; open: in the pool).",
            labels=["instance", "state"],
        )
        hits = CounterMetricFamily(
            f"{ns}_cache_hits", "Cache reads that found a value.", labels=["instance"]
        )
        misses = CounterMetricFamily(
            f"{ns}_cache_misses", "Cache reads that found nothing.", labels=["instance"]
        )
        depth = GaugeMetricFamily(
            f"{ns}_jobs_queue_depth",
            "Jobs waiting in each queue (waiting: ready to run; delayed: scheduled later).",
            labels=["instance", "queue", "state"],
        )
        dead = GaugeMetricFamily(
            f"{ns}_jobs_dead_letters", "Jobs that failed for good.", labels=["instance"]
        )
        outcomes = CounterMetricFamily(
            f"{ns}_jobs_outcomes",
            "Jobs this process's worker finished, by outcome.",
            labels=["instance", "outcome"],
        )
        in_flight = GaugeMetricFamily(
            f"{ns}_jobs_in_flight", "Jobs running in this process.", labels=["instance"]
        )
        for item in self.checked:
            name = item.instance
            status = item.health.status
            current = Status(status)
            health.add_metric(
                [name, item.pattern], {state.value: state is current for state in Status}
            )
            details = item.health.details
            for state, value in _numbers(details.get("pool")):
                pool.add_metric([name, state], value)
            cache_hits, cache_misses = _number(details.get("hits")), _number(details.get("misses"))
            if cache_hits is not None and cache_misses is not None:
                hits.add_metric([name], cache_hits)
                misses.add_metric([name], cache_misses)  # the hit ratio is PromQL's to derive
            queues = details.get("queues")
            if isinstance(queues, Mapping):
                for queue, counts in queues.items():
                    for state in ("waiting", "delayed"):
                        waiting = _number(
                            counts.get(state) if isinstance(counts, Mapping) else None
                        )
                        if waiting is not None:
                            depth.add_metric([name, str(queue), state], waiting)
            if (letters := _number(details.get("dead_letters"))) is not None:
                dead.add_metric([name], letters)
            for outcome, value in _numbers(details.get("outcomes")):
                outcomes.add_metric([name, outcome], value)
            if (running := _number(details.get("in_flight"))) is not None:
                in_flight.add_metric([name], running)
        yield from (health, pool, hits, misses, depth, dead, outcomes, in_flight)


async def _check(module: Any, timeout: float) -> Health:
    if module is None:
        return Health.down(reason="not built")
    try:
        result: Health = await asyncio.wait_for(module.health(), timeout)
    except TimeoutError:
        return Health.down(reason=f"health check took over {timeout:g}s")
    except Exception as exc:
        return Health.down(reason=f"health check raised {type(exc).__name__}")
    return result


def _number(value: object) -> float | None:
    """``value`` when it is a number (booleans are not), else ``None``."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return None


def _numbers(value: object) -> Iterator[tuple[str, float]]:
    if isinstance(value, Mapping):
        for key, item in value.items():
            number = _number(item)
            if number is not None:
                yield str(key), number
