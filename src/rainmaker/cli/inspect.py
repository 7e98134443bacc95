"""Commands that look at a composition without starting it.

``check`` validates, ``plan`` shows what ``run`` would do, ``graph`` draws the dependency
graph, ``config show`` prints effective settings with their layer, ``patterns`` and
``pattern info`` describe what is installed.
"""

from __future__ import annotations

import asyncio
import json
import os
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from rainmaker.capabilities.http import Http
from rainmaker.cli.options import CURRENT_FOLDER, AppOption, ProfileOption, SetOption, load_app
from rainmaker.cli.tables import new_table, print_table
from rainmaker.kernel.application import Application
from rainmaker.kernel.catalog import LOCAL, Catalog
from rainmaker.kernel.composition import env_name, find_composition, read_composition
from rainmaker.kernel.display import display
from rainmaker.kernel.errors import CompositionError, PatternError, Problem
from rainmaker.kernel.lock import LOCK_FILE, drift, lock_entries, read_lock
from rainmaker.kernel.pattern import Pattern
from rainmaker.kernel.secret_strength import guard as guard_secret_strength
from rainmaker.kernel.secret_strength import warning_lines as weak_secret_warnings
from rainmaker.kernel.timeline import Timeline

console = Console(highlight=False)

MIGRATION_STATUS_TIMEOUT = 10.0


class GraphFormat(StrEnum):
    text = "text"
    mermaid = "mermaid"
    dot = "dot"


def register(app: typer.Typer) -> None:
    """Add ``check``, ``plan``, ``graph``, ``config`` and ``patterns``."""
    app.command()(check)
    app.command()(plan)
    app.command()(graph)
    config_app = typer.Typer(help="Effective settings.", no_args_is_help=True)
    config_app.command("show")(config_show)
    app.add_typer(config_app, name="config")
    app.command("patterns")(list_patterns)


def check(
    app: AppOption = CURRENT_FOLDER, profile: ProfileOption = None, set_: SetOption = None
) -> None:
    """Validate the composition (and the lock, when there is one); start nothing."""
    application = load_app(app, profile, set_)
    problems = _lock_drift(application)
    if problems:
        raise CompositionError(problems)
    compose_http(application)
    # Published or low-entropy secrets fail a non-development profile, as `run` would.
    weak = guard_secret_strength(application, host=None)
    console.print(
        f"[green]✓[/] {escape(application.name)}: {len(application.instances)} instances valid "
        f"(profile {application.composition.profile}); start order: "
        + " → ".join(application.order)
    )
    for line in [*weak_secret_warnings(weak), *configuration_warnings(application)]:
        console.print(f"[yellow]warning[/] {escape(line)}")


def configuration_warnings(application: Application) -> list[str]:
    """``<instance>: <warning>`` for each instance whose settings object defines
    ``configuration_warnings(profile) -> list[str]``: valid settings that the pattern
    judges insecure in this profile (trusted_hosts = '*' in production). ``check`` prints
    them as warning lines; they do not fail it."""
    profile = application.composition.profile
    found: list[str] = []
    for instance in application.instances.values():
        judge = getattr(instance.settings, "configuration_warnings", None)
        if callable(judge):
            found.extend(f"{instance.name}: {warning}" for warning in judge(profile))
    return found


def _lock_drift(application: Application) -> list[Problem]:
    path = application.composition.root / LOCK_FILE
    if not path.exists():
        return []
    try:
        locked = read_lock(path)
    except ValueError as exc:
        return [Problem(str(exc), fix="run `rainmaker lock` to write it again")]
    used = used_pattern_ids(application)
    return drift(locked, lock_entries(used, application.catalog))


def compose_http(application: Application) -> None:
    """Compose the HTTP app when one is served, as `run` would: mounts, duplicate routes,
    middleware order and routes injecting what no pattern provides raise CompositionError."""
    serves_http = any(
        p.capability.name == Http.name
        for instance in application.instances.values()
        for p in instance.pattern.provisions
    )
    if serves_http:
        application.http_module()


def used_pattern_ids(application: Application) -> set[str]:
    """Pattern ids the composition uses in its active profile and in every other profile."""
    composition = application.composition
    ids = {instance.pattern.id for instance in application.instances.values()}
    if composition.path is not None:
        for profile in composition.profiles:
            other = read_composition(composition.path, profile=profile)
            ids |= {config.use for config in other.instances.values()}
    return ids


def plan(
    app: AppOption = CURRENT_FOLDER,
    profile: ProfileOption = None,
    set_: SetOption = None,
    timings: Annotated[
        bool,
        typer.Option(
            "--timings",
            help="Also build and start the real composition, then stop it, and show how "
            "long each instance took to import, build, start and stop.",
        ),
    ] = False,
) -> None:
    """What `rainmaker run` would do: instances, start order, routes, migrations, environment."""
    application = load_app(app, profile, set_)
    application.build()
    compose_http(application)
    if timings:
        # Started for real (its servers must answer): the figures are the ones `run` pays.
        asyncio.run(_start_and_stop(application))
    composition = application.composition
    console.print(f"[bold]Plan for {escape(application.name)}[/] (profile {composition.profile})\n")

    table = new_table(
        "Instances, in start order",
        ("#", "instance", "pattern", "version", "provides", "uses"),
        prose=("provides", "uses"),
    )
    for position, instance in enumerate(application.instances.values(), start=1):
        table.add_row(
            str(position),
            instance.name,
            instance.pattern.id,
            instance.pattern.version,
            ", ".join(str(p) for p in instance.pattern.provisions) or "-",
            ", ".join(f"{cap} → {name}" for cap, name in instance.bindings.items()) or "-",
        )
    print_table(console, table)

    routes = new_table("Routes that will mount", ("method", "path", "instance"))
    for method, path, instance_name in mounted_routes(application):
        routes.add_row(method, escape(path), instance_name)
    if routes.row_count:
        print_table(console, routes)
    else:
        console.print("[dim]No routes will mount.[/]")

    if any(i.pattern.migrations for i in application.instances.values()):
        console.print("\n[bold]Migrations[/]")
        for line in migration_lines(application):
            console.print(f"  {line}")

    console.print("\n[bold]Environment variables[/]")
    if not composition.env_vars:
        console.print("  [dim]rainmaker.toml references none.[/]")
    for variable, default in sorted(composition.env_vars.items()):
        state = (
            "set"
            if variable in os.environ
            else (
                f"unset, default {default!r}" if default is not None else "[red]unset, required[/]"
            )
        )
        console.print(f"  {variable}: {state}")

    if timings:
        console.print()
        print_timeline(application.timeline)


async def _start_and_stop(application: Application) -> None:
    async with application.running():
        pass


def print_timeline(timeline: Timeline) -> None:
    """The startup timeline as a table, in start order, with the slowest named."""
    table = new_table(
        "Startup timeline (ms)",
        ("instance", "pattern", "import", "build", "start", "stop", "total", "first imported"),
        prose=("first imported",),
    )
    for timing in timeline.instances:
        table.add_row(
            timing.instance,
            timing.pattern,
            _ms(timing.import_ms if timing.factory_module else None),
            _ms(timing.build_ms),
            _ms(timing.start_ms),
            _ms(timing.stop_ms),
            _ms(timing.total_ms),
            ", ".join(timing.imported[:6]) + (" …" if len(timing.imported) > 6 else "") or "-",
        )
    print_table(console, table)
    if timeline.ready_ms is not None:
        slowest = ", ".join(timeline.summary(3))
        console.print(
            f"start() of every instance took {timeline.ready_ms:.1f} ms; "
            f"slowest (import + build + start): {escape(slowest)}"
        )


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def migration_lines(application: Application) -> list[str]:
    """Each pattern's pending revisions, read from its database (or why they are unknown)."""
    from rainmaker.cli.db import connected_runners

    async def read() -> list[str]:
        async with connected_runners(application) as runners:
            lines = []
            for runner in runners:
                for item in await runner.status():
                    at = ", ".join(item.current) or "base"
                    pending = (
                        "up to date"
                        if item.up_to_date
                        else f"pending: {', '.join(item.heads)} (at {at})"
                    )
                    lines.append(f"{item.pattern_id} on {item.database}: {pending}")
            return lines

    try:
        return asyncio.run(asyncio.wait_for(read(), MIGRATION_STATUS_TIMEOUT))
    except (PatternError, TimeoutError) as exc:
        return [f"pending revisions unknown: {exc}"]


def mounted_routes(application: Application) -> list[tuple[str, str, str]]:
    """``(methods, full path, instance)`` for every route each built module contributes."""
    rows = []
    for instance in application.instances.values():
        router = instance.module.router() if instance.module is not None else None
        for route in getattr(router, "routes", ()):
            methods = ",".join(sorted(getattr(route, "methods", None) or {"*"}))
            rows.append((methods, instance.prefix + getattr(route, "path", ""), instance.name))
    return rows


def graph(
    app: AppOption = CURRENT_FOLDER,
    profile: ProfileOption = None,
    set_: SetOption = None,
    format_: Annotated[GraphFormat, typer.Option("--format", "-f")] = GraphFormat.text,
) -> None:
    """The dependency graph: who requires what from whom."""
    application = load_app(app, profile, set_)
    typer.echo(render_graph(application, format_))


def render_graph(application: Application, format_: GraphFormat) -> str:
    """The graph as plain text, a Mermaid diagram or Graphviz dot."""
    edges = [
        (instance.name, capability, provider)
        for instance in application.instances.values()
        for capability, provider in instance.bindings.items()
    ]
    names = {
        i.name: f"{i.name} ({i.pattern.id} {i.pattern.version})"
        for i in application.instances.values()
    }
    if format_ is GraphFormat.mermaid:
        lines = ["graph TD"]
        lines += [f'  {_node(n)}["{label}"]' for n, label in names.items()]
        lines += [f"  {_node(a)} -->|{cap}| {_node(b)}" for a, cap, b in edges]
        return "\n".join(lines)
    if format_ is GraphFormat.dot:
        lines = [f'digraph "{application.name}" {{', "  rankdir=LR;"]
        lines += [f'  "{n}" [label="{label}"];' for n, label in names.items()]
        lines += [f'  "{a}" -> "{b}" [label="{cap}"];' for a, cap, b in edges]
        return "\n".join([*lines, "}"])
    lines = []
    for instance in application.instances.values():
        lines.append(names[instance.name])
        for capability, provider in instance.bindings.items():
            lines.append(f"  requires {capability} from {provider}")
    return "\n".join(lines)


def _node(name: str) -> str:
    return name.replace("-", "_")


def config_show(
    app: AppOption = CURRENT_FOLDER,
    profile: ProfileOption = None,
    set_: SetOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Effective settings of every instance and the layer each came from (secrets redacted)."""
    application = load_app(app, profile, set_)
    rows = [
        (instance.name, key, display(type(instance.settings), key, value), source)
        for instance in application.instances.values()
        for key, value, source in instance.settings_with_sources()
    ]
    if as_json:
        typer.echo(
            json.dumps(
                [dict(zip(("instance", "key", "value", "source"), r, strict=True)) for r in rows],
                indent=2,
            )
        )
        return
    table = new_table(
        f"Settings of {application.name} (profile {application.composition.profile})",
        ("instance", "key", "value", "from"),
        prose=("value",),
    )
    for row in rows:
        table.add_row(*(escape(cell) for cell in row))
    print_table(console, table)


def list_patterns(
    available: Annotated[
        bool, typer.Option("--available", help="List what --index offers instead.")
    ] = False,
    index: Annotated[
        str | None,
        typer.Option(
            "--index",
            envvar="RAINMAKER_INDEX",
            help="A package index: a folder from `pattern publish --to`, or a simple-index URL.",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Installed patterns with their versions and capabilities (--available: an index's)."""
    if available:
        list_available(index)
        return
    catalog = Catalog.installed()
    table = new_table(
        "Installed patterns",
        ("id", "version", "name", "provides", "requires", "from"),
        prose=("name", "provides", "requires"),
    )
    for pattern in catalog:
        table.add_row(
            pattern.id,
            pattern.version,
            pattern.name,
            ", ".join(str(p) for p in pattern.provisions) or "-",
            ", ".join(str(r) for r in pattern.requirements) or "-",
            escape(catalog.origins[pattern.id].split(" (", 1)[0]),  # the distribution
        )
    print_table(console, table)
    if catalog.problems:
        raise CompositionError(catalog.problems, where="the installed patterns")


def list_available(index: str | None) -> None:
    """The patterns an index offers: distributions declaring the pattern entry-point group."""
    from rainmaker.cli.pattern_index import NotAnIndex, read_offer
    from rainmaker.testing.simple_index import IndexReadError

    if index is None:
        raise typer.BadParameter("--available needs --index URL (or $RAINMAKER_INDEX)")
    try:
        offer = read_offer(index)
    except NotAnIndex as exc:
        raise typer.BadParameter(str(exc), param_hint="--index") from None
    except IndexReadError as exc:
        raise PatternError(str(exc), hint="check --index") from None
    installed = Catalog.installed()
    table = Table(title=f"Patterns offered by {escape(offer.index)}")
    for column in ("id", "version", "distribution", "provides", "requires", "installed"):
        table.add_column(column)
    for offered in offer.patterns:
        here = installed.get(offered.id)
        table.add_row(
            offered.id,
            offered.version or "?",
            f"{escape(offered.distribution)} {offered.release}",
            "?" if offered.provides is None else ", ".join(offered.provides) or "-",
            "?" if offered.requires is None else ", ".join(offered.requires) or "-",
            here.version if here is not None else "-",
        )
    console.print(table if offer.patterns else "[dim]The index offers no patterns.[/]")
    for note in offer.notes:
        console.print(f"[yellow]note:[/] {escape(note)}")
    if offer.patterns:
        console.print(f"add one to an app: rainmaker add ID --index {escape(index)}")


def pattern_info(
    pattern_id: Annotated[str, typer.Argument(help="The pattern id.")],
    app: Annotated[
        Path | None,
        typer.Option("--app", help="Also look among this app's local patterns."),
    ] = None,
) -> None:
    """Settings (defaults, descriptions, environment names), provides, requires and examples."""
    catalog = Catalog.installed()
    if app is not None:
        composition = read_composition(find_composition(app))
        if composition.problems:
            raise CompositionError(composition.problems)
        catalog.add_local(composition.app.local_patterns, composition.root)
        if local_problems := catalog.problems_by_id.get(LOCAL):
            raise CompositionError(local_problems)
    pattern = catalog.get(pattern_id)
    if pattern is None:
        from rainmaker.kernel.suggest import did_you_mean

        raise CompositionError(
            [
                Problem(
                    f"no installed pattern {pattern_id!r}",
                    fix=did_you_mean(pattern_id, catalog.ids())
                    or "run `rainmaker patterns` to list what is installed",
                )
            ]
        )
    console.print(f"[bold]{pattern.id}[/] {pattern.version} — {escape(pattern.name)}")
    if pattern.description:
        console.print(escape(pattern.description))
    console.print(f"provides: {', '.join(str(p) for p in pattern.provisions) or '-'}")
    console.print(f"requires: {', '.join(str(r) for r in pattern.requirements) or '-'}")
    if pattern.mount:
        console.print(f'routes mount at: {pattern.mount} (change with mount = "/path")')
    print_table(console, settings_table(pattern))
    for number, example in enumerate(pattern.examples, start=1):
        console.print(f"\n[bold]Example {number}[/]")
        body = "\n".join(f"{k} = {json.dumps(v)}" for k, v in example.items())
        console.print(
            escape(f'[patterns.{pattern.id.split("-")[0]}]\nuse = "{pattern.id}"\n{body}')
        )


def settings_table(pattern: Pattern[Any]) -> Table:
    """A table of the pattern's settings from its JSON Schema and fields."""
    schema = pattern.settings.model_json_schema()
    properties = schema.get("properties", {})
    required = set(schema.get("required", []))
    table = new_table(
        "Settings",
        ("key", "type", "default", "description", "environment"),
        prose=("type", "default", "description"),
    )
    for name, info in pattern.settings.model_fields.items():
        prop = properties.get(info.alias or name, {})
        default = (
            "(required)"
            if name in required
            else display(pattern.settings, name, info.get_default(call_default_factory=True))
        )
        table.add_row(
            name,
            _schema_type(prop),
            escape(default),
            escape(info.description or ""),
            f"RAINMAKER__<INSTANCE>__{env_name(name)}",
        )
    return table


def _schema_type(prop: dict[str, Any]) -> str:
    if prop.get("format") == "duration":
        return "duration"  # a string in the schema; TOML gives seconds or ISO 8601
    if "type" in prop:
        return str(prop["type"])
    if "anyOf" in prop:
        return " | ".join(_schema_type(p) for p in prop["anyOf"])
    if "enum" in prop:
        return " | ".join(repr(v) for v in prop["enum"])
    if "$ref" in prop:
        return str(prop["$ref"]).rsplit("/", 1)[-1]
    return "any"
