"""Process metrics: what the process costs, next to what its requests cost.

Two sources, both in the app's own registry (never prometheus_client's global one):

- prometheus_client's own collectors, under their standard names so that existing
  dashboards and alerts work unchanged: :class:`~prometheus_client.ProcessCollector`
  (``process_resident_memory_bytes``, ``process_cpu_seconds_total``,
  ``process_open_fds``… read from ``/proc``, so Linux only),
  :class:`~prometheus_client.GCCollector` (``python_gc_collections_total`` by generation)
  and :class:`~prometheus_client.PlatformCollector` (``python_info``);
- ours, which the client has no collector for: the number of asyncio tasks
  (``<ns>_asyncio_tasks``: a count that only grows is a task leak) and the event-loop lag
  (``<ns>_event_loop_lag_seconds``): :class:`LoopLagMonitor` sleeps for an interval and
  measures how late it wakes up — the time some callback held the loop, which every
  request waiting on that loop paid.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Iterable

from prometheus_client import (
    GCCollector,
    Histogram,
    PlatformCollector,
    ProcessCollector,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector, CollectorRegistry

# Lag worth knowing about starts around a millisecond; beyond a second the app is stalled.
LAG_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


def register_process_collectors(registry: CollectorRegistry) -> None:
    """Add prometheus_client's process, GC and platform collectors to ``registry``."""
    ProcessCollector(registry=registry)
    GCCollector(registry=registry)
    PlatformCollector(registry=registry)


class LoopLagMonitor(Collector):
    """Samples the event-loop lag while the app runs; collects the lag and the task count.

    ``start()`` must run on the app's loop; the samples feed a histogram (registered in
    the registry given) and the last sample, collected with the task count.
    """

    def __init__(self, registry: CollectorRegistry, *, namespace: str, interval: float) -> None:
        self.namespace = namespace
        self.interval = interval
        self.lag = Histogram(
            "event_loop_lag_seconds",
            "How late the event loop ran a timer: time some callback held the loop.",
            namespace=namespace,
            buckets=LAG_BUCKETS,
            registry=registry,
        )
        self.last_lag: float | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[None] | None = None
        registry.register(self)

    def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._task = asyncio.create_task(self._sample(), name="rainmaker.observability.loop-lag")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._loop = None

    async def _sample(self) -> None:
        while True:
            began = time.perf_counter()
            await asyncio.sleep(self.interval)
            lag = max(0.0, time.perf_counter() - began - self.interval)
            self.last_lag = lag
            self.lag.observe(lag)

    def collect(self) -> Iterable[Metric]:
        ns = self.namespace
        loop = self._loop
        if loop is None:
            return
        tasks = GaugeMetricFamily(
            f"{ns}_asyncio_tasks", "asyncio tasks not yet done on the app's event loop."
        )
        tasks.add_metric([], float(len(asyncio.all_tasks(loop))))
        yield tasks
        if self.last_lag is not None:
            last = GaugeMetricFamily(
                f"{ns}_event_loop_lag_last_seconds", "The latest event-loop lag sample."
            )
            last.add_metric([], self.last_lag)
            yield last


def runtime_rows(registry: CollectorRegistry, namespace: str) -> list[tuple[str, str]]:
    """The process figures as ``/metrics`` has them, for the dashboard's Runtime panel.

    Read from the registry itself, so the panel shows what Prometheus would scrape.
    """
    values: dict[str, float] = {}
    for family in registry.collect():
        for sample in family.samples:
            if sample.name == "python_gc_collections_total":
                values[sample.name] = values.get(sample.name, 0.0) + sample.value
            elif not sample.labels:
                values[sample.name] = sample.value
    shown: list[tuple[str, str, Callable[[float], str]]] = [
        ("resident memory", "process_resident_memory_bytes", lambda v: f"{v / 2**20:.1f} MiB"),
        ("CPU time", "process_cpu_seconds_total", lambda v: f"{v:.2f} s"),
        ("open file descriptors", "process_open_fds", lambda v: f"{v:.0f}"),
        ("GC collections", "python_gc_collections_total", lambda v: f"{v:.0f}"),
        ("asyncio tasks", f"{namespace}_asyncio_tasks", lambda v: f"{v:.0f}"),
        (
            "event-loop lag (last)",
            f"{namespace}_event_loop_lag_last_seconds",
            lambda v: f"{v * 1000:.2f} ms",
        ),
    ]
    return [(label, render(values[name])) for label, name, render in shown if name in values]
