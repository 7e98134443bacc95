"""``rainmaker profile``: run the app under a sampling profiler and say which pattern costs.

The app is built and started in this process, then a load drives it through
``httpx.ASGITransport`` (no sockets, so the profile holds the app and not the network):
``--requests N`` requests at ``--route``, or as many as fit in ``--seconds N``, by
``--concurrency`` clients. pyinstrument samples the whole time; the command writes its HTML
report and a speedscope JSON file (open it at https://www.speedscope.app), and prints a
table of where the time went **by pattern instance**: each sampled frame is charged to
the innermost frame of a known owner on its stack — the package of a built-in pattern
(``rainmaker.patterns.<family>`` → the instances that use it), an app-local pattern's
module, any other module in the app folder (by its path), the kernel — so SQLAlchemy
work under the database pattern counts for that database, and what no owner claims
(the event loop waiting, uvicorn-free ASGI plumbing) is "other"; the load's own httpx
client is shown apart, as it is not the app's cost.

Only the load is profiled; ``rainmaker plan --timings`` times the start. A composition
that is invalid or fails to start exits 2 with the composition's error.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape

from rainmaker.cli.options import AppOption, ProfileOption, SetOption, load_app
from rainmaker.cli.render import print_pattern_error
from rainmaker.cli.tables import new_table, print_table
from rainmaker.kernel.application import Application
from rainmaker.kernel.errors import StartupError
from rainmaker.kernel.profile_owners import ProfileOwners

if TYPE_CHECKING:
    pass

console = Console(highlight=False)

LOAD = "the load (httpx client, not the app)"
INTERVAL = 0.001  # seconds between samples: pyinstrument's default, fine-grained enough


def register(app: typer.Typer) -> None:
    """Add ``profile`` to the ``rainmaker`` app."""
    app.command("profile")(profile)


def profile(
    app_path: AppOption = Path("."),
    profile_name: ProfileOption = None,
    overrides: SetOption = None,
    requests: Annotated[
        int | None,
        typer.Option("--requests", min=1, help="Drive this many requests (default 1000)."),
    ] = None,
    seconds: Annotated[
        float | None,
        typer.Option("--seconds", min=0.1, help="Drive requests for this long instead."),
    ] = None,
    route: Annotated[
        str, typer.Option("--route", help="The path every request asks for (GET).")
    ] = "/health/live",
    concurrency: Annotated[
        int, typer.Option("--concurrency", min=1, max=256, help="Clients sending at once.")
    ] = 8,
    out: Annotated[
        Path, typer.Option("--out", help="Folder for profile.html and profile.speedscope.json.")
    ] = Path("profile"),
) -> None:
    """Profile the app under load and show the time each pattern instance took."""
    if requests is not None and seconds is not None:
        console.print("[red]✗[/] give --requests or --seconds, not both")
        raise typer.Exit(2)
    if not route.startswith("/"):
        console.print(f"[red]✗[/] --route must be a path starting with '/', not {route!r}")
        raise typer.Exit(2)
    try:
        import pyinstrument  # noqa: F401  (checked before the app starts)
    except ModuleNotFoundError:
        console.print("[red]✗[/] rainmaker profile needs pyinstrument (not installed)")
        console.print("  fix: pip install 'rainmaker-patterns[profiling]'")
        raise typer.Exit(1) from None
    application = load_app(app_path, profile_name, overrides)  # invalid: exit 2 (main)
    load = Load(route, requests if seconds is None else None, seconds, concurrency)
    try:
        result = asyncio.run(_profile(application, load))
    except StartupError as error:
        # The composition could not start, so there is nothing to profile: the same
        # verdict as an invalid composition.
        print_pattern_error(error)
        raise typer.Exit(2) from error
    out.mkdir(parents=True, exist_ok=True)
    html, speedscope = out / "profile.html", out / "profile.speedscope.json"
    html.write_text(result.html, encoding="utf-8")
    speedscope.write_text(result.speedscope, encoding="utf-8")
    _print_summary(application, load, result, html, speedscope)


@dataclass(frozen=True)
class Load:
    route: str
    requests: int | None
    seconds: float | None
    concurrency: int

    @property
    def total(self) -> int | None:
        if self.requests is None and self.seconds is None:
            return 1000
        return self.requests


@dataclass
class Outcome:
    html: str
    speedscope: str
    elapsed: float
    statuses: Counter[int] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    by_owner: dict[str, float] = field(default_factory=dict)
    sampled: float = 0.0


async def _profile(application: Application, load: Load) -> Outcome:
    import httpx
    from pyinstrument import Profiler
    from pyinstrument.renderers import HTMLRenderer, SpeedscopeRenderer

    async with application.running():
        # The load itself runs in this process: its client's share is not the app's.
        owners = ProfileOwners.of(
            application.instances.values(), Path(application.composition.root),
            apart={"httpx": LOAD},
        )  # fmt: skip
        transport = httpx.ASGITransport(app=application)
        statuses: Counter[int] = Counter()
        errors: Counter[str] = Counter()
        async with httpx.AsyncClient(transport=transport, base_url="http://localhost") as client:
            # One request first: the route exists, the lazy imports are done before sampling.
            await _send(client, load.route, statuses, errors)
            statuses.clear()
            errors.clear()
            remaining = [load.total] if load.total is not None else None
            deadline = time.perf_counter() + load.seconds if load.seconds is not None else None

            async def client_loop() -> None:
                while True:
                    if remaining is not None:
                        if remaining[0] <= 0:
                            return
                        remaining[0] -= 1
                    elif deadline is not None and time.perf_counter() >= deadline:
                        return
                    await _send(client, load.route, statuses, errors)

            # async_mode "disabled": sample the one thread whatever task it runs, so every
            # concurrent request is in the profile, not only the task that started it.
            profiler = Profiler(interval=INTERVAL, async_mode="disabled")
            began = time.perf_counter()
            profiler.start()
            try:
                await asyncio.gather(*(client_loop() for _ in range(load.concurrency)))
            finally:
                session = profiler.stop()
            elapsed = time.perf_counter() - began
    root = session.root_frame()
    by_owner, sampled = owners.attribute(root) if root is not None else ({}, 0.0)
    return Outcome(
        html=profiler.output(HTMLRenderer()),
        speedscope=profiler.output(SpeedscopeRenderer()),
        elapsed=elapsed,
        statuses=statuses,
        errors=errors,
        by_owner=by_owner,
        sampled=sampled,
    )


async def _send(client: Any, route: str, statuses: Counter[int], errors: Counter[str]) -> None:
    try:
        response = await client.get(route)
    except Exception as exc:  # a failing app is a finding, not a crash of the profiler
        errors[type(exc).__name__] += 1
        return
    statuses[response.status_code] += 1


def _print_summary(
    application: Application, load: Load, result: Outcome, html: Path, speedscope: Path
) -> None:
    sent = sum(result.statuses.values()) + sum(result.errors.values())
    rate = sent / result.elapsed if result.elapsed else 0.0
    statuses = ", ".join(f"{code}: {n}" for code, n in sorted(result.statuses.items()))
    console.print(
        f"[bold]Profile of {escape(application.name)}[/]: {sent} x GET {escape(load.route)} "
        f"in {result.elapsed:.2f}s ({rate:.0f} req/s, {load.concurrency} at once)"
    )
    console.print(f"  statuses: {statuses or 'none'}")
    if result.errors:
        failed = ", ".join(f"{name}: {n}" for name, n in result.errors.most_common())
        console.print(f"  [red]requests that raised[/]: {failed}")
    if result.statuses and all(code >= 400 for code in result.statuses):
        console.print(
            f"  [yellow]warning:[/] every request failed: is {escape(load.route)} a route "
            "of this app? (rainmaker routes lists them)"
        )
    table = new_table("Time by pattern instance", ("owner", "pattern", "seconds", "share"))
    patterns = {name: i.pattern.id for name, i in application.instances.items()}
    total = result.sampled or 1.0
    for owner, seconds in ProfileOwners.ranked(result.by_owner):
        names = owner.split(", ")
        pattern = ", ".join(sorted({patterns[n] for n in names if n in patterns})) or "-"
        table.add_row(escape(owner), pattern, f"{seconds:.3f}", f"{seconds / total:.1%}")
    print_table(console, table)
    console.print(f"HTML: {html}\nspeedscope: {speedscope} (open at https://www.speedscope.app)")
