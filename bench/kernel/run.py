"""Kernel benchmark: how composing, starting and stopping scale with the number of patterns.

Run by hand (it is not a test)::

    .venv/bin/python bench/kernel/run.py              # full run (10, 100, 1000 patterns)
    .venv/bin/python bench/kernel/run.py --quick      # fewer repeats
    .venv/bin/python bench/kernel/run.py --profile stop --shape chain --n 1000

Part 1 builds N synthetic patterns in code (each with its own Capability, a tiny Settings
model and a Module whose ``start`` registers that capability), generates a composition TOML
with one ``[patterns.pN]`` table per pattern, and times each phase:

* ``assemble``: ``parse_composition`` + ``assemble`` (validation and resolution);
* ``start``: ``await app.start()`` (build modules, start them in dependency order);
* ``stop``: ``await app.stop()``.

Three graph shapes: ``chain`` (each pattern requires the previous one's capability),
``wide`` (one root provider, every other pattern requires it) and ``layered`` (four layers,
each pattern requires one capability of the layer above). Figures are medians of several
repeats. Growth is linear enough when 10x patterns cost at most 12x time.

Part 2 compares ``Services.require()`` and ``Services.get()`` with a plain dict lookup.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import gc
import io
import itertools
import pstats
import statistics
import sys
import time
import timeit
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from bench.results import Result, write_results

import rainmaker.kernel.application as application_module
from rainmaker.kernel.application import Application
from rainmaker.kernel.capability import Capability
from rainmaker.kernel.catalog import Catalog
from rainmaker.kernel.composition import parse_composition
from rainmaker.kernel.context import AppContext
from rainmaker.kernel.loading import assemble
from rainmaker.kernel.logging import configure_logging
from rainmaker.kernel.module import Module
from rainmaker.kernel.pattern import Pattern, Settings
from rainmaker.kernel.registry import ServiceRegistry, Services

SIZES = (10, 100, 1000)
SHAPES = ("chain", "wide", "layered")
PHASES = ("assemble", "start", "stop")
LAYERS = 4
MAX_RATIO = 12.0  # 10x patterns may cost at most 12x time


# -- synthetic patterns ------------------------------------------------------------------


class Service:
    """The interface every synthetic capability carries."""

    __slots__ = ("owner",)

    def __init__(self, owner: str) -> None:
        self.owner = owner


class TinySettings(Settings):
    """A two-field settings model, so validation does real (but small) work."""

    size: int = 1
    label: str = "x"


class SyntheticModule(Module[TinySettings]):
    """Requires its dependencies and registers its own capability on start."""

    provides: Capability[Service]
    requires: tuple[Capability[Service], ...]

    async def start(self) -> None:
        for capability in self.requires:
            self.ctx.services.require(capability)
        self.ctx.services.register(self.provides, Service(self.ctx.instance))

    async def stop(self) -> None:
        return None


@dataclass(frozen=True)
class ModuleFactory:
    """``factory(settings, ctx)`` for one synthetic pattern."""

    provides: Capability[Service]
    requires: tuple[Capability[Service], ...]

    def __call__(self, settings: TinySettings, ctx: AppContext) -> SyntheticModule:
        module = SyntheticModule(settings, ctx)
        module.provides = self.provides
        module.requires = self.requires
        return module


def dependencies(shape: str, index: int, n: int) -> list[int]:
    """Indices of the patterns whose capabilities pattern ``index`` requires."""
    if index == 0:
        return []
    if shape == "chain":
        return [index - 1]
    if shape == "wide":
        return [0]
    if shape == "layered":
        width = max(1, n // LAYERS)
        layer = index // width
        if layer == 0:
            return []
        return [(layer - 1) * width + index % width]
    raise ValueError(f"unknown shape {shape!r}")


def build_catalog(shape: str, n: int) -> Catalog:
    """A catalog of ``n`` synthetic patterns ``synth-0 … synth-<n-1>`` wired as ``shape``."""
    capabilities = [Capability(f"Cap{i}", Service) for i in range(n)]
    patterns = []
    for i in range(n):
        requires = tuple(capabilities[d] for d in dependencies(shape, i, n))
        patterns.append(
            Pattern(
                id=f"synth-{i}",
                version="1.0.0",
                name=f"Synthetic {i}",
                settings=TinySettings,
                factory=ModuleFactory(capabilities[i], requires),
                provides=(capabilities[i],),
                requires=requires,
            )
        )
    return Catalog(patterns)


def composition_text(n: int) -> str:
    """A ``rainmaker.toml`` with one ``[patterns.pI]`` table per synthetic pattern."""
    lines = ["[app]", 'name = "bench"', ""]
    for i in range(n):
        lines += [f"[patterns.p{i}]", f'use = "synth-{i}"', f"size = {i}", ""]
    return "\n".join(lines)


# -- part 1: scaling ---------------------------------------------------------------------


def assemble_app(text: str, catalog: Catalog) -> Application:
    """The timed ``assemble`` phase: parse the TOML, validate and resolve."""
    composition = parse_composition(text, root=Path("."), environ={})
    return assemble(composition, catalog)


async def measure_once(text: str, catalog: Catalog, n: int) -> dict[str, float]:
    """Seconds spent in each phase for one full assemble/start/stop cycle."""
    gc.collect()
    t0 = time.perf_counter()
    app = assemble_app(text, catalog)
    t1 = time.perf_counter()
    await app.start()
    t2 = time.perf_counter()
    await app.stop()
    t3 = time.perf_counter()
    assert len(app.order) == n and app.state == "stopped"
    return {"assemble": t1 - t0, "start": t2 - t1, "stop": t3 - t2, "total": t3 - t0}


def repeats_for(n: int, quick: bool) -> int:
    """More repeats for the fast, noisy small sizes."""
    base = {10: 51, 100: 21, 1000: 7}.get(n, 5)
    return max(3, base // 3) if quick else base


async def scaling(
    shapes: tuple[str, ...], sizes: tuple[int, ...], quick: bool
) -> dict[str, dict[int, dict[str, float]]]:
    """Median seconds per phase, by shape and size."""
    results: dict[str, dict[int, dict[str, float]]] = {}
    for shape in shapes:
        results[shape] = {}
        for n in sizes:
            catalog = build_catalog(shape, n)
            text = composition_text(n)
            await measure_once(text, catalog, n)  # warm-up (imports, pydantic caches)
            runs = [await measure_once(text, catalog, n) for _ in range(repeats_for(n, quick))]
            results[shape][n] = {
                phase: statistics.median(run[phase] for run in runs) for phase in (*PHASES, "total")
            }
    return results


def print_scaling(results: dict[str, dict[int, dict[str, float]]], sizes: tuple[int, ...]) -> bool:
    """Print the figures and ratios; return whether every phase grows about linearly."""
    linear = True
    print("## Resolve + start + stop (median ms)\n")
    print("| shape | N | assemble | start | stop | total | µs/pattern (total) |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for shape, by_size in results.items():
        for n in sizes:
            r = by_size[n]
            print(
                f"| {shape} | {n} | {r['assemble'] * 1e3:.3f} | {r['start'] * 1e3:.3f} | "
                f"{r['stop'] * 1e3:.3f} | {r['total'] * 1e3:.3f} | {r['total'] / n * 1e6:.1f} |"
            )
    print(f"\n## Growth ratios (10x patterns; linear if <= {MAX_RATIO:g}x)\n")
    print("| shape | step | assemble | start | stop | total |")
    print("|---|---|---:|---:|---:|---:|")
    for shape, by_size in results.items():
        for small, large in itertools.pairwise(sizes):
            cells = []
            for phase in (*PHASES, "total"):
                ratio = by_size[large][phase] / by_size[small][phase]
                flag = "" if ratio <= MAX_RATIO else " **!**"
                linear = linear and ratio <= MAX_RATIO
                cells.append(f"{ratio:.1f}x{flag}")
            print(f"| {shape} | {large}/{small} | " + " | ".join(cells) + " |")
    return linear


# -- part 2: service lookup --------------------------------------------------------------


def lookup_figures(number: int) -> list[tuple[str, float]]:
    """ns/op for ``Services.require``/``get`` and plain dict lookups (best of 5 runs)."""
    database = Capability("Database", Service)
    registry = ServiceRegistry()
    registry.add(database, "db", Service("db"))
    bound = Services(registry, asker="api", bindings={"Database": "db"})
    unbound = Services(registry, asker="app")  # single provider, no binding (app-level view)
    plain = {"Database": Service("db")}
    by_capability = {database: plain["Database"]}
    namespace = {
        "plain": plain,
        "by_capability": by_capability,
        "database": database,
        "bound": bound,
        "unbound": unbound,
    }
    # Expressions are timed inline (no wrapper call), so the dict baseline is honest.
    statements = [
        ('dict["Database"] (str key)', 'plain["Database"]'),
        ("dict[Database] (Capability key)", "by_capability[database]"),
        ("Services.get(Database), bound", "bound.get(database)"),
        ("Services.require(Database), bound", "bound.require(database)"),
        ("Services.get(Database), unbound", "unbound.get(database)"),
        ("Services.require(Database), unbound", "unbound.require(database)"),
    ]
    figures = []
    for label, stmt in statements:
        timer = timeit.Timer(stmt, globals=namespace)
        best = min(timer.repeat(repeat=5, number=number)) / number
        figures.append((label, best * 1e9))
    return figures


def print_lookups(figures: list[tuple[str, float]], number: int) -> None:
    baseline = figures[0][1]
    print(f"\n## Service lookup (timeit, best of 5 x {number:,} iterations)\n")
    print('| operation | ns/op | vs dict["Database"] |')
    print("|---|---:|---:|")
    for label, ns in figures:
        print(f"| {label} | {ns:.1f} | {ns / baseline:.1f}x |")


# -- profiling ---------------------------------------------------------------------------


async def profile_phase(shape: str, n: int, phase: str, top: int) -> None:
    """cProfile one phase at size ``n`` and print the functions with the most own time."""
    catalog = build_catalog(shape, n)
    text = composition_text(n)
    await measure_once(text, catalog, n)
    profiler = cProfile.Profile()
    if phase == "assemble":
        profiler.enable()
        app = assemble_app(text, catalog)
        profiler.disable()
    else:
        app = assemble_app(text, catalog)
        if phase == "start":
            profiler.enable()
        await app.start()
        if phase == "start":
            profiler.disable()
        else:
            profiler.enable()
            await app.stop()
            profiler.disable()
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(top)
    print(f"# cProfile: {phase}, {shape}, N={n} (sorted by own time)")
    print(out.getvalue())


# -- proposed fix (for comparison only; the kernel is not changed) -----------------------


class IndexedServiceRegistry(ServiceRegistry):
    """``ServiceRegistry`` with the proposed fix: remember what each instance registered.

    ``discard_instance`` then touches only that instance's capabilities, O(own keys)
    instead of O(all capabilities), so stopping N instances is O(N) instead of O(N^2).
    """

    def __init__(self) -> None:
        super().__init__()
        self._keys_by_instance: dict[str, set[str]] = {}

    def add(self, key: Capability[Any], instance: str, service: Any) -> None:
        super().add(key, instance, service)
        self._keys_by_instance.setdefault(instance, set()).add(key.name)

    def discard_instance(self, instance: str) -> None:
        for name in self._keys_by_instance.pop(instance, ()):
            providers = self._services.get(name)
            if providers is not None:
                providers.pop(instance, None)
                if not providers:
                    del self._services[name]


def apply_proposed_fix() -> None:
    """Make ``Application`` use :class:`IndexedServiceRegistry` in this process."""
    application_module.ServiceRegistry = IndexedServiceRegistry  # type: ignore[attr-defined]


def kernel_results(
    results: dict[str, dict[int, dict[str, float]]], lookups: list[tuple[str, float]]
) -> list[Result]:
    """The JSON rows: growth of the total from 100 to 1,000 patterns, and a lookup's cost."""
    rows = []
    small, large = SIZES[-2], SIZES[-1]
    for shape, by_size in results.items():
        rows.append(
            Result(
                "kernel",
                f"resolve+start+stop of {large} patterns ({shape}) vs 10x the time of {small}",
                "ms",
                ours=by_size[large]["total"] * 1e3,
                baseline=by_size[small]["total"] * 1e3 * (large // small),
                higher_is_better=False,
                goal=f"<= {MAX_RATIO / (large // small):.1f}x (linear)",
            )
        )
    by_label = dict(lookups)
    rows.append(
        Result(
            "kernel",
            "Services.require(Database) vs dict[Capability]",
            "ns/op",
            ours=by_label["Services.require(Database), bound"],
            baseline=by_label["dict[Database] (Capability key)"],
            higher_is_better=False,
        )
    )
    return rows


# -- entry point -------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats")
    parser.add_argument("--shape", choices=SHAPES, help="only this shape")
    parser.add_argument("--profile", choices=PHASES, help="cProfile one phase instead")
    parser.add_argument("--n", type=int, default=1000, help="size to profile (default 1000)")
    parser.add_argument(
        "--with-proposed-fix",
        action="store_true",
        help="run with the proposed ServiceRegistry fix patched in (kernel files untouched)",
    )
    parser.add_argument("--lookups", type=int, default=1_000_000, help="timeit iterations")
    parser.add_argument("--json", metavar="PATH", help="also write the figures as JSON rows")
    args = parser.parse_args()
    configure_logging(level="warning", fmt="console")
    if args.with_proposed_fix:
        apply_proposed_fix()
        print("(with the proposed ServiceRegistry fix patched in)\n")

    if args.profile:
        asyncio.run(profile_phase(args.shape or "chain", args.n, args.profile, top=15))
        return 0

    shapes = (args.shape,) if args.shape else SHAPES
    print(f"Python {sys.version.split()[0]} on {sys.platform}; sizes {SIZES}\n")
    results = asyncio.run(scaling(shapes, SIZES, args.quick))
    linear = print_scaling(results, SIZES)
    lookups = lookup_figures(args.lookups // 10 if args.quick else args.lookups)
    print_lookups(lookups, args.lookups // 10 if args.quick else args.lookups)
    write_results(args.json, kernel_results(results, lookups))
    print("\nAll phases linear." if linear else "\nSome phase is NOT linear (marked **!**).")
    return 0 if linear else 1


if __name__ == "__main__":
    sys.exit(main())
