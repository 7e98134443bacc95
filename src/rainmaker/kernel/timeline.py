"""The startup timeline: how long each instance took to import, build, start and stop.

An operator asking "why does this app take eight seconds to start?" wants the answer by
pattern instance, not by function. The kernel therefore records, for every instance:

- ``import_ms``: importing its factory's module, when the pattern names its factory by
  string (``"pkg.module:Factory"``) and that module was not imported yet — the cost of the
  libraries the pattern pulls in (SQLAlchemy, boto3…); ``imported`` lists the third-party
  top-level packages that import loaded for the first time, so a slow import names its library;
- ``build_ms``: calling the factory (no I/O by contract);
- ``start_ms`` and ``stop_ms``: its ``start()`` and ``stop()``, at every start and stop.

The :class:`TimelineRecorder` belongs to the :class:`~rainmaker.kernel.application.Application`;
everyone else reads immutable :class:`Timeline` snapshots (``Application.timeline``,
``AppView.timeline``), so a module cannot rewrite what the kernel measured.
"""

from __future__ import annotations

import heapq
import importlib
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from rainmaker.kernel.clock import utcnow

Phase = Literal["build", "start", "stop"]


@dataclass(frozen=True)
class InstanceTiming:
    """One instance's timings in milliseconds (``None``: that phase has not happened)."""

    instance: str
    pattern: str
    factory_module: str | None = None
    import_ms: float = 0.0
    imported: tuple[str, ...] = ()
    build_ms: float | None = None
    start_ms: float | None = None
    stop_ms: float | None = None

    @property
    def total_ms(self) -> float:
        """Import, build and start: what this instance added to the time to ready."""
        return self.import_ms + (self.build_ms or 0.0) + (self.start_ms or 0.0)

    def as_dict(self) -> dict[str, Any]:
        return {
            "instance": self.instance,
            "pattern": self.pattern,
            "factory_module": self.factory_module,
            "import_ms": round(self.import_ms, 2),
            "imported": list(self.imported),
            "build_ms": _rounded(self.build_ms),
            "start_ms": _rounded(self.start_ms),
            "stop_ms": _rounded(self.stop_ms),
            "total_ms": round(self.total_ms, 2),
        }


@dataclass(frozen=True)
class Timeline:
    """A snapshot of the timings of every instance, in start order."""

    instances: tuple[InstanceTiming, ...] = ()
    started_at: datetime | None = None
    """When the last start began (aware UTC)."""
    ready_ms: float | None = None
    """Wall time of the last start, from its beginning to every instance running."""

    def slowest(self, count: int = 3) -> list[InstanceTiming]:
        """The ``count`` instances that added most to the time to ready, slowest first."""
        return sorted(self.instances, key=lambda t: t.total_ms, reverse=True)[:count]

    def slowest_imports(self, count: int = 3) -> list[InstanceTiming]:
        """The ``count`` slowest factory imports (instances whose import cost something)."""
        imports = [t for t in self.instances if t.import_ms > 0]
        return sorted(imports, key=lambda t: t.import_ms, reverse=True)[:count]

    def summary(self, count: int = 3) -> list[str]:
        """``["db 412.0ms", …]``: the slowest instances, for one log line."""
        return [f"{t.instance} {t.total_ms:.1f}ms" for t in self.slowest(count)]

    def as_dict(self) -> dict[str, Any]:
        return {
            "started_at": self.started_at.isoformat() if self.started_at else None,
            "ready_ms": _rounded(self.ready_ms),
            "instances": [t.as_dict() for t in self.instances],
            "slowest": [t.instance for t in self.slowest()],
            "slowest_imports": [
                {"instance": t.instance, "module": t.factory_module, "ms": round(t.import_ms, 2)}
                for t in self.slowest_imports()
            ],
        }


@dataclass(slots=True)
class _Record:
    """The mutable twin of :class:`InstanceTiming` the recorder writes into: updating a
    field in place costs far less than rebuilding a frozen object at every phase (the
    kernel bench times 1,000 instances)."""

    instance: str
    pattern: str
    factory_module: str | None = None
    import_ms: float = 0.0
    imported: tuple[str, ...] = ()
    build_ms: float | None = None
    start_ms: float | None = None
    stop_ms: float | None = None

    @property
    def total_ms(self) -> float:
        return self.import_ms + (self.build_ms or 0.0) + (self.start_ms or 0.0)

    def frozen(self) -> InstanceTiming:
        return InstanceTiming(
            self.instance,
            self.pattern,
            self.factory_module,
            self.import_ms,
            self.imported,
            self.build_ms,
            self.start_ms,
            self.stop_ms,
        )


@dataclass
class TimelineRecorder:
    """The kernel's mutable side of the timeline (see the module docstring)."""

    _timings: dict[str, _Record] = field(default_factory=dict)
    _started_at: datetime | None = None
    _began: float | None = None
    _ready_ms: float | None = None

    def add(self, instance: str, pattern: str) -> None:
        self._timings.setdefault(instance, _Record(instance, pattern))

    def import_factory(self, instance: str, factory: object) -> None:
        """Import the module of a factory named by string, timing it.

        ``Pattern.build`` then finds the module in ``sys.modules``. A factory given as an
        object was imported with its pattern: nothing to time. Import errors propagate
        unchanged, so the caller reports them exactly as ``Pattern.build`` would.
        """
        if not isinstance(factory, str):
            return
        module_name = factory.partition(":")[0]
        record = self._timings[instance]
        record.factory_module = module_name
        if module_name in sys.modules:
            return
        before = set(sys.modules)
        began = time.perf_counter()
        importlib.import_module(module_name)
        record.import_ms = (time.perf_counter() - began) * 1000
        record.imported = tuple(
            sorted(
                top
                for top in {name.partition(".")[0] for name in set(sys.modules) - before}
                # The libraries a pattern pulls in are the story, not the stdlib or ourselves.
                if top not in sys.stdlib_module_names
                and top != "rainmaker"
                and top != "_distutils_hack"
            )
        )

    def record(self, instance: str, name: Phase, began: float) -> None:
        """Record the ``build``, ``start`` or ``stop`` of one instance that began at
        ``began`` (``time.perf_counter()``); the kernel calls it in a ``finally``, so a
        failing start's duration is part of the story too."""
        elapsed = (time.perf_counter() - began) * 1000
        record = self._timings[instance]
        if name == "build":
            record.build_ms = elapsed
        elif name == "start":
            record.start_ms = elapsed
        else:
            record.stop_ms = elapsed

    def begin_start(self) -> None:
        """A start begins: forget the previous start's and stop's figures."""
        self._started_at = utcnow()
        self._began = time.perf_counter()
        self._ready_ms = None
        for record in self._timings.values():
            record.start_ms = record.stop_ms = None

    def ready(self) -> None:
        """Every instance runs: the time to ready is known."""
        if self._began is not None:
            self._ready_ms = (time.perf_counter() - self._began) * 1000

    @property
    def ready_ms(self) -> float | None:
        """Wall time of the last start (``None`` before one has finished)."""
        return self._ready_ms

    def summary(self, count: int = 3) -> list[str]:
        """:meth:`Timeline.summary` of the current figures, without the snapshot of every
        instance (the kernel logs it at each start, 1,000 instances in the kernel bench)."""
        slowest = heapq.nlargest(count, self._timings.values(), key=lambda r: r.total_ms)
        return [f"{r.instance} {r.total_ms:.1f}ms" for r in slowest]

    def snapshot(self) -> Timeline:
        return Timeline(
            tuple(record.frozen() for record in self._timings.values()),
            self._started_at,
            self._ready_ms,
        )


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 2)
