"""Lifecycle conformance: what every pattern's module must do, whatever it provides.

The checks, each usable on its own (they raise :class:`ConformanceError` saying what is
wrong) and gathered in the pytest suite :class:`LifecycleConformance`:

- the settings model yields a JSON Schema with a description for every field;
- every declared example validates against the settings model;
- ``health()`` before ``start()`` answers *down* instead of raising;
- start -> stop -> start again works (and the restarted module is not down);
- a second ``stop()`` is harmless;
- repeated start/stop cycles (20 by default) leave no asyncio task, thread, socket or
  file descriptor behind, and traced memory grows by less than a bound.

Use the suite like a capability contract: subclass it and give one fixture::

    from rainmaker.testing.conformance import LifecycleConformance, PatternUnderTest

    class TestMyPatternLifecycle(LifecycleConformance):
        @pytest.fixture
        def pattern_under_test(self, tmp_path):
            return PatternUnderTest(my_pattern, {"greeting": "hi"}, root=tmp_path)

The pattern is composed with :func:`~rainmaker.testing.harness.load_pattern`, so what it
requires gets its embedded default unless ``providers`` names a real one.
"""

from __future__ import annotations

import asyncio
import gc
import os
import threading
import time
import tracemalloc
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from rainmaker.kernel.health import Health, Status
from rainmaker.kernel.pattern import Pattern
from rainmaker.testing.harness import LoadedPattern, load_pattern
from rainmaker.testing.schema_docs import undocumented_fields

CYCLES = 20
# Traced allocations that may survive CYCLES start/stop cycles: room for caches that fill
# up once (logging, regex, pydantic), far below what a per-cycle leak of a pool, a client
# or a buffer adds up to over the cycles.
MEMORY_GROWTH_BOUND = 2 * 1024 * 1024
# Threads and sockets are released by their owners shortly after stop (a worker thread
# notices its queue closed); leaks are judged only after this much waiting.
SETTLE_SECONDS = 5.0


class ConformanceError(AssertionError):
    """A pattern breaks the lifecycle contract; the message says which rule and how."""


@dataclass(frozen=True)
class PatternUnderTest:
    """How to compose the pattern for the conformance checks.

    ``pattern`` is an installed id or a :class:`Pattern`; ``settings`` its settings;
    ``providers`` real providers by capability name (``{"Database": {"use":
    "database-postgres", "url": ...}}``), the rest are embedded defaults; ``root`` the
    test's folder for files.
    """

    pattern: str | Pattern[Any]
    settings: Mapping[str, Any] = field(default_factory=dict)
    root: Path = field(default_factory=Path.cwd)
    providers: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    extra_patterns: tuple[Pattern[Any], ...] = ()

    def load(self) -> LoadedPattern:
        """A fresh, unstarted composition of the pattern."""
        return load_pattern(
            self.pattern,
            self.settings,
            root=self.root,
            providers=self.providers,
            extra_patterns=self.extra_patterns,
            name="conformance",
        )

    def declaration(self) -> Pattern[Any]:
        """The :class:`Pattern` itself."""
        return self.load().pattern if isinstance(self.pattern, str) else self.pattern


# -- declarative checks -----------------------------------------------------------------------


def check_settings_schema(pattern: Pattern[Any]) -> dict[str, Any]:
    """The settings' JSON Schema, after checking that every field has a description."""
    try:
        schema: dict[str, Any] = pattern.settings.model_json_schema()
    except Exception as exc:
        raise ConformanceError(
            f"{pattern.id}: the settings model yields no JSON Schema ({exc})"
        ) from exc
    undocumented = undocumented_fields(schema)
    if undocumented:
        raise ConformanceError(
            f"{pattern.id}: settings fields without a description: {', '.join(undocumented)}; "
            "add Field(description=...)"
        )
    return schema


def check_examples(pattern: Pattern[Any]) -> None:
    """Every declared example validates (and at least one is declared)."""
    if not pattern.examples:
        raise ConformanceError(f"{pattern.id}: declares no examples; add Pattern(examples=[...])")
    for number, example in enumerate(pattern.examples, 1):
        try:
            pattern.settings.model_validate(example)
        except Exception as exc:
            raise ConformanceError(
                f"{pattern.id}: example {number} does not validate: {exc}"
            ) from exc


# -- lifecycle checks ---------------------------------------------------------------------------


async def check_health_before_start(under_test: PatternUnderTest) -> Health:
    """``health()`` of a built but unstarted module answers down, without raising."""
    loaded = under_test.load()
    module = loaded.module
    try:
        health = await asyncio.wait_for(module.health(), SETTLE_SECONDS)
    except Exception as exc:
        raise ConformanceError(
            f"{loaded.pattern.id}: health() before start() raised {type(exc).__name__}: {exc}; "
            "answer Health.down(reason='not started') instead"
        ) from exc
    if not isinstance(health, Health) or Status(health.status) is not Status.DOWN:
        raise ConformanceError(
            f"{loaded.pattern.id}: health() before start() answered {health!r}, not down"
        )
    return health


async def check_restart(under_test: PatternUnderTest) -> None:
    """Start, stop and start the same app again; the module is not down after either start."""
    loaded = under_test.load()
    for attempt in ("first start", "start after a stop"):
        try:
            await loaded.start()
        except Exception as exc:
            raise ConformanceError(
                f"{loaded.pattern.id}: {attempt} failed: {type(exc).__name__}: {exc}"
            ) from exc
        try:
            report = await loaded.app.health()
            mine = next(i for i in report.instances if i.instance == loaded.instance)
            if mine.status is Status.DOWN:
                raise ConformanceError(
                    f"{loaded.pattern.id}: down after the {attempt}: {dict(mine.details)}"
                )
        finally:
            await loaded.stop()


async def check_stop_twice(under_test: PatternUnderTest) -> None:
    """``stop()`` called again after the app stopped the module does not raise."""
    loaded = under_test.load()
    await loaded.start()
    await loaded.stop()
    try:
        await asyncio.wait_for(loaded.module.stop(), SETTLE_SECONDS)
    except Exception as exc:
        raise ConformanceError(
            f"{loaded.pattern.id}: a second stop() raised {type(exc).__name__}: {exc}; "
            "make stop() idempotent"
        ) from exc


@dataclass(frozen=True)
class Resources:
    """What the process holds at one moment: tasks, threads, file descriptors, memory."""

    tasks: Counter[str]
    threads: frozenset[str]
    fds: Counter[str]
    memory: int

    @classmethod
    def now(cls) -> Resources:
        current = asyncio.current_task()
        tasks = Counter(
            _describe_task(task)
            for task in asyncio.all_tasks()
            if task is not current and not task.done()
        )
        threads = frozenset(
            f"{thread.name} ({thread.ident})"
            for thread in threading.enumerate()
            # The event loop's default executor keeps its worker threads for the loop's
            # lifetime by design; they belong to the loop, not to any pattern.
            if not thread.name.startswith("asyncio_")
        )
        memory = tracemalloc.get_traced_memory()[0] if tracemalloc.is_tracing() else 0
        return cls(tasks, threads, open_descriptors(), memory)


def _describe_task(task: asyncio.Task[Any]) -> str:
    coro = task.get_coro()
    name = getattr(coro, "__qualname__", None) or repr(coro)
    return f"{task.get_name()} running {name}"


def open_descriptors() -> Counter[str]:
    """What each open file descriptor points at (``socket:[…]`` for sockets), counted.

    Empty where the platform has no ``/proc/self/fd`` (or ``/dev/fd``) to read.
    """
    for folder in ("/proc/self/fd", "/dev/fd"):
        if not os.path.isdir(folder):
            continue
        targets: Counter[str] = Counter()
        for name in os.listdir(folder):
            try:
                target = os.readlink(os.path.join(folder, name))
            except OSError:
                continue  # the descriptor used to list the folder, already closed
            # Socket and pipe inode numbers differ on every open: count them by kind.
            kind = target.split(":", 1)[0] if target.startswith(("socket:", "pipe:")) else target
            targets[kind] += 1
        return targets
    return Counter()


def _leaks(before: Resources, after: Resources) -> list[str]:
    problems = []
    if tasks := after.tasks - before.tasks:
        shown = ", ".join(f"{name} x{count}" for name, count in sorted(tasks.items()))
        problems.append(f"asyncio tasks still running: {shown}")
    if new := sorted(after.threads - before.threads):
        problems.append(f"threads still alive: {', '.join(new)}")
    grown = after.fds - before.fds
    sockets = grown.pop("socket", 0)
    if sockets:
        problems.append(f"{sockets} socket(s) left open")
    if grown:
        problems.append(
            "file descriptors left open: "
            + ", ".join(f"{target} x{count}" for target, count in sorted(grown.items()))
        )
    return problems


async def check_no_leaks(
    under_test: PatternUnderTest,
    *,
    cycles: int = CYCLES,
    memory_bound: int = MEMORY_GROWTH_BOUND,
    settle: float = SETTLE_SECONDS,
) -> None:
    """``cycles`` start/stop cycles leave nothing running or open, and memory bounded.

    One cycle runs first as a warm-up, so that what is created once per process (imports,
    the loop's executor, caches) is not counted as a leak.
    """
    loaded = under_test.load()
    await loaded.start()
    await loaded.stop()
    started_tracing = not tracemalloc.is_tracing()
    if started_tracing:
        tracemalloc.start()
    try:
        gc.collect()
        before = Resources.now()
        for _ in range(cycles):
            await loaded.start()
            await loaded.stop()
        problems = await _settled_leaks(before, settle)
        gc.collect()
        growth = tracemalloc.get_traced_memory()[0] - before.memory
    finally:
        if started_tracing:
            tracemalloc.stop()
    if growth > memory_bound:
        problems.append(
            f"traced memory grew by {growth / 1024:.0f} KiB over {cycles} cycles "
            f"(bound {memory_bound / 1024:.0f} KiB)"
        )
    if problems:
        raise ConformanceError(
            f"{loaded.pattern.id}: after {cycles} start/stop cycles: " + "; ".join(problems)
        )


async def _settled_leaks(before: Resources, settle: float) -> list[str]:
    """Leaks once owners had up to ``settle`` seconds to release what they closed."""
    deadline = time.monotonic() + settle
    while True:
        gc.collect()
        problems = _leaks(before, Resources.now())
        if not problems or time.monotonic() > deadline:
            return problems
        await asyncio.sleep(0.05)


# -- the pytest suite ---------------------------------------------------------------------------


@pytest.mark.asyncio
class LifecycleConformance:
    """Lifecycle conformance tests; subclass and define ``pattern_under_test``."""

    @pytest.fixture
    def pattern_under_test(self) -> PatternUnderTest:
        raise NotImplementedError("define the pattern_under_test fixture in your subclass")

    async def test_settings_schema_documents_every_field(
        self, pattern_under_test: PatternUnderTest
    ) -> None:
        check_settings_schema(pattern_under_test.declaration())

    async def test_declared_examples_validate(self, pattern_under_test: PatternUnderTest) -> None:
        check_examples(pattern_under_test.declaration())

    async def test_health_before_start_is_down(self, pattern_under_test: PatternUnderTest) -> None:
        await check_health_before_start(pattern_under_test)

    async def test_start_stop_start(self, pattern_under_test: PatternUnderTest) -> None:
        await check_restart(pattern_under_test)

    async def test_stop_twice_is_harmless(self, pattern_under_test: PatternUnderTest) -> None:
        await check_stop_twice(pattern_under_test)

    async def test_cycles_leave_nothing_behind(self, pattern_under_test: PatternUnderTest) -> None:
        await check_no_leaks(pattern_under_test)


__all__ = [
    "CYCLES",
    "MEMORY_GROWTH_BOUND",
    "ConformanceError",
    "LifecycleConformance",
    "PatternUnderTest",
    "check_examples",
    "check_health_before_start",
    "check_no_leaks",
    "check_restart",
    "check_settings_schema",
    "check_stop_twice",
    "undocumented_fields",
]
