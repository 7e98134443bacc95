"""Prometheus metrics of one app, in a registry of its own.

Two sources:

- :class:`RequestMetrics`, fed by the ASGI middleware on every request: a counter by
  method, route template and status, and a latency histogram by method and route
  template. Label children are cached, so a request costs one dict lookup, one ``inc``
  and one ``observe``.
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
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    Metric,
    StateSetMetricFamily,
)
from prometheus_client.registry import Collector

from rainmaker import Health, Status

if TYPE_CHECKING:
    from rainmaker import AppView

KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
UNMATCHED = "<unmatched>"


class RequestMetrics:
    """HTTP request counter and latency histogram (see the module docstring)."""

    __slots__ = ("_children", "latency", "requests")

    def __init__(
        self, registry: CollectorRegistry, *, namespace: str, buckets: Sequence[float]
    ) -> None:
        self.requests = Counter(
            "http_requests",
            "HTTP requests answered, by method, route template and status.",
            ["method", "route", "status"],
            namespace=namespace,
            registry=registry,
        )
        self.latency = Histogram(
            "http_request_duration_seconds",
            "Time from receiving a request to finishing its response, by route template.",
            ["method", "route"],
            namespace=namespace,
            buckets=sorted(buckets),
            registry=registry,
        )
        # (method, route, status) -> its counter child and its route's histogram child:
        # one lookup per request, never ``labels()`` (which validates and locks).
        self._children: dict[tuple[str, str, int], tuple[Any, Any]] = {}

    def record(self, method: str, route: str, status: int, seconds: float) -> None:
        """Count one answered request and observe its duration."""
        if method not in KNOWN_METHODS:
            method = "OTHER"  # a client can send any token as a method: bound the labels
        key = (method, route, status)
        children = self._children.get(key)
        if children is None:
            children = self._children[key] = (
                self.requests.labels(method, route, str(status)),
                self.latency.labels(method, route),
            )
        count, latency = children
        count.inc()
        latency.observe(seconds)


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
