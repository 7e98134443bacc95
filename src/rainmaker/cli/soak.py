"""``rainmaker soak``: drive a fixed request mix at a composition and report what grows.

A leak shows as memory that grows with the number of requests served, so the command
measures growth *per 10,000 requests*, after a warm-up that fills the caches which are
meant to fill (route label caches, connection pools, lazily imported modules):

1. start the app in this process; send the warm-up share of the requests;
2. start :mod:`tracemalloc`; read the process's RSS, asyncio task count and open file
   descriptors;
3. send the requests, round-robin over the mix (``--route``, repeatable; by default every
   unauthenticated ``GET`` route without path parameters, internal ``/_…`` ones excepted);
4. at half-way and at the end, collect garbage and read them again: the growth over the
   second half (what fills up once has done so by then; a leak keeps growing) of traced
   Python memory, RSS, tasks and descriptors, each per 10,000 successful requests, and the
   allocation sites that grew most, each charged to its owner (the innermost frame of a
   pattern's package, an app-local module or the kernel, as ``rainmaker profile`` does),
   so a leak names its pattern.

Traced memory over ``--max-growth-kb`` per 10,000 requests (and over 64 KiB in all, so
that a one-off allocation in a short soak is not a rate), or tasks or descriptors
that grew by more than ``--max-growth-count`` per 10,000 (and by 3 or more), fails the
soak: exit 1. Failed
requests are reported with their counts and never counted as growth: the rates divide by
successful requests only, and a soak in which none succeeded fails. A composition that
is invalid or fails to start exits 2 with its error.
"""

from __future__ import annotations

import asyncio
import gc
import os
import resource
import sys
import tracemalloc
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape

from rainmaker.cli.options import AppOption, ProfileOption, SetOption, load_app
from rainmaker.cli.profile import LOAD
from rainmaker.cli.render import print_pattern_error
from rainmaker.cli.tables import new_table, print_table
from rainmaker.kernel.application import Application
from rainmaker.kernel.errors import StartupError
from rainmaker.kernel.profile_owners import ProfileOwners

console = Console(highlight=False)

PER = 10_000
# A short soak turns a one-off allocation (a lazy import, a cache entry) into a steep rate:
# 14 KiB over 500 requests reads as 280 KiB per 10k. Traced growth below this, in
# absolute terms over the measured half, is never judged a leak.
MIN_TRACED_GROWTH = 64 * 1024
MIN_COUNT_GROWTH = 3  # likewise for tasks and fds: one more is a timer, not a leak
# tracemalloc's cost grows with the frames it keeps per allocation (25 frames: about 20x
# slower requests here, 10: about 8x); 10 reach a pattern's own code from the allocation
# site, --frames 30 also reaches it through SQLAlchemy or FastAPI internals.
TRACE_FRAMES = 10
TOP_SITES = 8
UNOWNED = "other (libraries, the interpreter)"


def register(app: typer.Typer) -> None:
    """Add ``soak`` to the ``rainmaker`` app."""
    app.command("soak")(soak)


def soak(
    app_path: AppOption = Path("."),
    profile_name: ProfileOption = None,
    overrides: SetOption = None,
    requests: Annotated[
        int, typer.Option("--requests", min=100, help="Requests to send after the warm-up.")
    ] = 10_000,
    routes: Annotated[
        list[str] | None,
        typer.Option("--route", help="A GET path of the mix (repeatable; default: see help)."),
    ] = None,
    warmup: Annotated[
        float, typer.Option("--warmup", min=0.0, max=1.0, help="Warm-up, as a share of --requests.")
    ] = 0.2,
    concurrency: Annotated[
        int, typer.Option("--concurrency", min=1, max=256, help="Clients sending at once.")
    ] = 8,
    max_growth_kb: Annotated[
        float,
        typer.Option("--max-growth-kb", min=0, help="Traced memory growth allowed per 10k."),
    ] = 256.0,
    frames: Annotated[
        int,
        typer.Option("--frames", min=1, max=100, help="Stack frames kept per allocation."),
    ] = TRACE_FRAMES,
    max_growth_count: Annotated[
        float,
        typer.Option("--max-growth-count", min=0, help="Task or fd growth allowed per 10k."),
    ] = 5.0,
) -> None:
    """Find leaks: growth of memory, tasks and fds per 10k requests, by pattern."""
    application = load_app(app_path, profile_name, overrides)  # invalid: exit 2 (main)
    mix = list(routes or default_mix(application))
    if not mix or any(not route.startswith("/") for route in mix):
        console.print(
            "[red]✗[/] no request mix: give --route /path (a GET path, repeatable)"
            if not mix
            else f"[red]✗[/] every --route must be a path starting with '/': {mix}"
        )
        raise typer.Exit(2)
    try:
        report = asyncio.run(_soak(application, mix, requests, warmup, concurrency, frames))
    except StartupError as error:
        print_pattern_error(error)
        raise typer.Exit(2) from error
    failed = _print_report(application, mix, report)
    failed |= _verdict(report, max_growth_kb, max_growth_count)
    raise typer.Exit(1 if failed else 0)


def default_mix(application: Application) -> list[str]:
    """Every unauthenticated GET route without path parameters, internal ones excepted."""
    module = application.http_module()
    listing = getattr(module, "routes", None)
    if listing is None:
        return []
    return [
        row.path
        for row in listing()
        if "GET" in row.methods
        and row.auth == "no"
        and "{" not in row.path
        and not row.path.endswith("/*")
        and not row.path.startswith("/_")
    ]


@dataclass
class Reading:
    traced: int
    rss: int
    tasks: int
    fds: int | None


@dataclass
class Report:
    before: Reading
    after: Reading
    statuses: Counter[int] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    by_owner: dict[str, int] = field(default_factory=dict)
    sites: list[tuple[str, str, int]] = field(default_factory=list)  # owner, site, bytes
    measured: Counter[int] = field(default_factory=Counter)
    """Statuses of the second half, over which growth is read."""

    @property
    def succeeded(self) -> int:
        return sum(n for status, n in self.statuses.items() if status < 400)

    @property
    def measured_successes(self) -> int:
        return sum(n for status, n in self.measured.items() if status < 400)

    @property
    def failed(self) -> int:
        return sum(self.errors.values()) + sum(
            n for status, n in self.statuses.items() if status >= 400
        )

    def per_10k(self, growth: float) -> float:
        successes = self.measured_successes
        return growth * PER / successes if successes else 0.0


async def _soak(
    application: Application,
    mix: list[str],
    requests: int,
    warmup: float,
    concurrency: int,
    frames: int,
) -> Report:
    import httpx

    async with application.running():
        owners = ProfileOwners.of(
            application.instances.values(), Path(application.composition.root),
            apart={"httpx": LOAD},
        )  # fmt: skip
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://localhost") as client:
            warm: Counter[int] = Counter()
            await _drive(
                client, mix, max(len(mix), int(requests * warmup)), concurrency, warm, Counter()
            )
            statuses: Counter[int] = Counter()
            errors: Counter[str] = Counter()
            tracemalloc.start(frames)
            try:
                # Growth is read over the second half only: what fills up once (a pool
                # opening its connections, a cache reaching its size) does so in the
                # first half, while a leak keeps growing in both.
                await _drive(client, mix, requests // 2, concurrency, statuses, errors)
                gc.collect()
                baseline = tracemalloc.take_snapshot()
                before = _read()
                measured: Counter[int] = Counter()
                await _drive(client, mix, requests - requests // 2, concurrency, measured, errors)
                statuses.update(measured)
                gc.collect()
                snapshot = tracemalloc.take_snapshot()
                after = _read()
            finally:
                tracemalloc.stop()
    report = Report(before, after, statuses, errors, measured=measured)
    patterns = {name: instance.pattern.id for name, instance in application.instances.items()}
    _attribute(report, owners, snapshot, baseline, patterns)
    return report


async def _drive(
    client: Any,
    mix: list[str],
    total: int,
    concurrency: int,
    statuses: Counter[int],
    errors: Counter[str],
) -> None:
    counter = iter(range(total))

    async def one_client() -> None:
        for index in counter:  # shared: the clients take the next request number
            route = mix[index % len(mix)]
            try:
                response = await client.get(route)
            except Exception as exc:  # a failing app is a finding, not a crash of the soak
                errors[type(exc).__name__] += 1
                continue
            await response.aclose()
            statuses[response.status_code] += 1

    await asyncio.gather(*(one_client() for _ in range(concurrency)))


def _read() -> Reading:
    traced, _peak = tracemalloc.get_traced_memory()
    return Reading(traced, _rss(), len(asyncio.all_tasks()), _open_fds())


def _rss() -> int:
    """Resident memory now (``/proc``), else the peak (``getrusage``, all platforms)."""
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return peak if sys.platform == "darwin" else peak * 1024


def _open_fds() -> int | None:
    for folder in ("/proc/self/fd", "/dev/fd"):
        try:
            return len(os.listdir(folder))
        except OSError:
            continue
    return None


def _attribute(
    report: Report,
    owners: ProfileOwners,
    snapshot: tracemalloc.Snapshot,
    baseline: tracemalloc.Snapshot,
    patterns: dict[str, str],
) -> None:
    """Charge each grown allocation site to its innermost owned frame."""
    # The soak's own code (this file, httpx's client) allocates too: not the app's growth.
    ignore = (
        tracemalloc.Filter(False, tracemalloc.__file__),
        tracemalloc.Filter(False, __file__),
    )
    grown = [
        stat
        for stat in snapshot.filter_traces(ignore).compare_to(
            baseline.filter_traces(ignore), "traceback"
        )
        if stat.size_diff > 0
    ]
    by_owner: Counter[str] = Counter()
    sites: Counter[tuple[str, str]] = Counter()
    for stat in grown:
        owner, where = UNOWNED, None
        for frame in reversed(stat.traceback):  # most recent (innermost) first
            label = owners.owner(frame.filename)
            if label is not None and label != LOAD:
                owner, where = _named(label, patterns), f"{frame.filename}:{frame.lineno}"
                break
        if where is None:
            innermost = stat.traceback[-1]
            where = f"{innermost.filename}:{innermost.lineno}"
        by_owner[owner] += stat.size_diff
        sites[(owner, where)] += stat.size_diff
    report.by_owner = dict(by_owner.most_common())
    report.sites = [(owner, site, size) for (owner, site), size in sites.most_common(TOP_SITES)]


def _print_report(application: Application, mix: list[str], report: Report) -> bool:
    statuses = ", ".join(f"{code}: {n}" for code, n in sorted(report.statuses.items()))
    console.print(
        f"[bold]Soak of {escape(application.name)}[/]: {report.succeeded + report.failed} "
        f"requests over {len(mix)} route(s) ({escape(', '.join(mix))})"
    )
    console.print(f"  statuses: {statuses or 'none'}")
    if report.errors:
        raised = ", ".join(f"{name}: {n}" for name, n in report.errors.most_common())
        console.print(f"  [red]requests that raised[/]: {raised}")
    if report.failed:
        console.print(
            f"  [yellow]{report.failed} failed request(s)[/] are not counted: growth is per "
            "10k successful requests"
        )
    before, after = report.before, report.after
    growth = new_table(
        "Growth per 10k successful requests", ("measure", "before", "after", "per 10k")
    )
    growth.add_row(
        "traced Python memory",
        _kb(before.traced),
        _kb(after.traced),
        _kb(report.per_10k(after.traced - before.traced)),
    )
    growth.add_row(
        "resident memory (RSS)",
        _kb(before.rss),
        _kb(after.rss),
        _kb(report.per_10k(after.rss - before.rss)),
    )
    growth.add_row(
        "asyncio tasks",
        str(before.tasks),
        str(after.tasks),
        f"{report.per_10k(after.tasks - before.tasks):.1f}",
    )
    if before.fds is not None and after.fds is not None:
        growth.add_row(
            "open file descriptors",
            str(before.fds),
            str(after.fds),
            f"{report.per_10k(after.fds - before.fds):.1f}",
        )
    print_table(console, growth)
    owners = new_table("Traced growth by owner", ("owner", "per 10k"))
    for owner, size in list(report.by_owner.items())[:TOP_SITES]:
        owners.add_row(escape(owner), _kb(report.per_10k(size)))
    if report.by_owner:
        print_table(console, owners)
    sites = new_table("Top allocation sites that grew", ("owner", "site", "per 10k"))
    for owner, site, size in report.sites:
        sites.add_row(escape(owner), escape(site), _kb(report.per_10k(size)))
    if report.sites:
        print_table(console, sites)
    if not report.succeeded:
        console.print("[red]✗[/] no request succeeded: nothing to measure (see the statuses)")
        return True
    return False


def _verdict(report: Report, max_kb: float, max_count: float) -> bool:
    """Print what exceeded its threshold; ``True`` when the soak fails."""
    if not report.succeeded:
        return True
    grown = report.after.traced - report.before.traced
    traced = report.per_10k(grown) / 1024
    problems = []
    if traced > max_kb and grown > MIN_TRACED_GROWTH:
        top = next(iter(report.by_owner), UNOWNED)
        site = next((s for o, s, _ in report.sites if o == top), "")
        problems.append(
            f"traced memory grows {traced:.0f} KiB per 10k requests (over {max_kb:g}); "
            f"most of it in {top}" + (f" at {site}" if site else "")
        )
    more_tasks = report.after.tasks - report.before.tasks
    tasks = report.per_10k(more_tasks)
    if tasks > max_count and more_tasks >= MIN_COUNT_GROWTH:
        problems.append(f"asyncio tasks grow {tasks:.1f} per 10k requests (over {max_count:g})")
    if report.before.fds is not None and report.after.fds is not None:
        more_fds = report.after.fds - report.before.fds
        fds = report.per_10k(more_fds)
        if fds > max_count and more_fds >= MIN_COUNT_GROWTH:
            problems.append(f"open fds grow {fds:.1f} per 10k requests (over {max_count:g})")
    for problem in problems:
        console.print(f"[red]✗ leak:[/] {escape(problem)}")
    if not problems:
        console.print("[green]✓[/] no growth over the thresholds")
    return bool(problems)


def _named(label: str, patterns: dict[str, str]) -> str:
    """``"memory (leaky)"``: an owner made of instances, with their patterns."""
    ids = sorted({patterns[name] for name in label.split(", ") if name in patterns})
    return f"{label} ({', '.join(ids)})" if ids else label


def _kb(size: float) -> str:
    return f"{size / 1024:,.1f} KiB"
