"""The leak watch: sustained growth of memory, tasks or descriptors, by pattern module.

Off by default (``leak_watch.enabled``). On, a task samples every ``interval`` seconds the
process's resident memory, its asyncio task count and its open file descriptors and, when
``leak_watch.tracemalloc_frames`` is above 0, the Python allocations that grew since the
previous sample, charged to the module that made them (the innermost frame in a pattern's
package — ``rainmaker.patterns.<family>``, named with its instances — or in the app
folder, by path).

Growth is *sustained* when a measure rose at every one of the last ``window`` samples and
by more than its threshold in total: a cache filling once or a burst of traffic rises and
then stops; a leak does not. Sustained growth turns the pattern's health ``degraded``
(the details say which measure, by how much, and the modules that grew) and logs a
warning once per episode.

tracemalloc costs: every allocation records its stack (measured with ``rainmaker soak``
on one machine: 1 frame makes requests about 1.5-2x slower, 10 frames about 6-8x), so
allocation sites are a setting of their own.
RSS, task and descriptor samples cost a few microseconds per interval.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import sys
import tracemalloc
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rainmaker import AppContext

if TYPE_CHECKING:
    from rainmaker.patterns.observability.settings import LeakWatchSettings

MIB = 1024 * 1024
TOP_MODULES = 5


@dataclass(frozen=True)
class Sample:
    rss: int | None
    tasks: int
    fds: int | None


class LeakWatch:
    """Samples, decides what grows in a sustained way, and says so in health and logs."""

    def __init__(self, settings: LeakWatchSettings, ctx: AppContext) -> None:
        self.settings = settings
        self.ctx = ctx
        self.samples: deque[Sample] = deque(maxlen=settings.window + 1)
        # Per interval: bytes each module's allocations grew by (tracemalloc only).
        self.module_growth: deque[dict[str, int]] = deque(maxlen=settings.window)
        self.findings: dict[str, Any] = {}
        self._snapshot: tracemalloc.Snapshot | None = None
        self._started_tracing = False
        self._task: asyncio.Task[None] | None = None
        self._owners = _ModuleOwners(ctx)

    def start(self) -> None:
        frames = self.settings.tracemalloc_frames
        if frames and not tracemalloc.is_tracing():
            tracemalloc.start(frames)
            self._started_tracing = True  # ours to stop; someone else's we leave running
        self._task = asyncio.create_task(self._run(), name="rainmaker.observability.leak-watch")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._started_tracing:
            tracemalloc.stop()
            self._started_tracing = False
        self._snapshot = None

    async def _run(self) -> None:
        while True:
            self.sample()
            await asyncio.sleep(self.settings.interval)

    def sample(self) -> None:
        """Take one sample and re-decide (public so that a test need not wait)."""
        self.samples.append(Sample(_rss(), len(asyncio.all_tasks()), _open_fds()))
        if tracemalloc.is_tracing():
            snapshot = tracemalloc.take_snapshot()
            if self._snapshot is not None:
                self.module_growth.append(self._owners.growth(snapshot, self._snapshot))
            self._snapshot = snapshot
        findings = self._decide()
        if findings and not self.findings:
            self.ctx.log.warning("observability.leak_suspected", **findings)
        elif self.findings and not findings:
            self.ctx.log.info("observability.leak_cleared")
        self.findings = findings

    def _decide(self) -> dict[str, Any]:
        settings = self.settings
        findings: dict[str, Any] = {}
        if len(self.samples) <= settings.window:
            return findings
        series = list(self.samples)
        measures: dict[str, tuple[list[int | None], float]] = {
            "rss": ([s.rss for s in series], settings.rss_growth_mib * MIB),
            "tasks": ([s.tasks for s in series], settings.count_growth),
            "fds": ([s.fds for s in series], settings.count_growth),
        }
        for name, (values, threshold) in measures.items():
            known = [v for v in values if v is not None]
            if len(known) == len(values) and _sustained(known, threshold):
                findings[name] = {"from": known[0], "to": known[-1], "samples": len(known)}
        if len(self.module_growth) == settings.window:
            modules = _sustained_modules(self.module_growth, settings.traced_growth_mib * MIB)
            if modules:
                findings["modules"] = modules
        return findings

    def health_details(self) -> Mapping[str, Any]:
        return {"leak_suspected": self.findings} if self.findings else {}


def _sustained(values: list[int], threshold: float) -> bool:
    rising = all(later > earlier for earlier, later in itertools.pairwise(values))
    return rising and values[-1] - values[0] > threshold


def _sustained_modules(intervals: deque[dict[str, int]], threshold: float) -> dict[str, int]:
    """Modules that grew in every interval of the window, by more than ``threshold``."""
    common = set(intervals[0]).intersection(*intervals)
    grown = {
        module: sum(interval[module] for interval in intervals)
        for module in common
        if all(interval[module] > 0 for interval in intervals)
    }
    top = sorted(grown.items(), key=lambda item: item[1], reverse=True)[:TOP_MODULES]
    return {module: size for module, size in top if size > threshold}


class _ModuleOwners:
    """Allocation file -> the module that owns it (see the module docstring)."""

    def __init__(self, ctx: AppContext) -> None:
        self.root = str(ctx.app.root.resolve()) + os.sep
        self.ctx = ctx
        self._cache: dict[str, str | None] = {}

    def _families(self) -> dict[str, list[str]]:
        families: dict[str, list[str]] = {}
        for instance in self.ctx.app.instances.values():
            factory = instance.pattern.factory
            module = factory.partition(":")[0] if isinstance(factory, str) else ""
            module = module or type(instance.module).__module__
            parts = module.split(".")
            if parts[:2] == ["rainmaker", "patterns"] and len(parts) > 2:
                families.setdefault(parts[2], []).append(instance.name)
        return families

    def owner(self, filename: str) -> str | None:
        if filename in self._cache:
            return self._cache[filename]
        owner: str | None = None
        marker = f"{os.sep}rainmaker{os.sep}patterns{os.sep}"
        if marker in filename:
            family = filename.split(marker, 1)[1].split(os.sep, 1)[0]
            instances = self._families().get(family)
            owner = f"rainmaker.patterns.{family}" + (
                f" ({', '.join(instances)})" if instances else ""
            )
        elif filename.startswith(self.root) and f"{os.sep}.venv{os.sep}" not in filename:
            owner = str(Path(filename).relative_to(self.root))
        self._cache[filename] = owner
        return owner

    def growth(
        self, snapshot: tracemalloc.Snapshot, previous: tracemalloc.Snapshot
    ) -> dict[str, int]:
        grown: dict[str, int] = {}
        for stat in snapshot.compare_to(previous, "traceback"):
            if stat.size_diff <= 0:
                continue
            for frame in reversed(stat.traceback):  # innermost first
                owner = self.owner(frame.filename)
                if owner is not None:
                    grown[owner] = grown.get(owner, 0) + stat.size_diff
                    break
        return grown


def _rss() -> int | None:
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:
        return None  # no /proc (macOS, Windows): the other measures still work


def _open_fds() -> int | None:
    folder = "/proc/self/fd" if sys.platform.startswith("linux") else "/dev/fd"
    try:
        return len(os.listdir(folder))
    except OSError:
        return None
