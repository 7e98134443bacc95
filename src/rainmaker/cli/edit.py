"""``rainmaker add`` and ``rainmaker remove``: edit the composition, then check it.

``add ID`` writes ``[patterns.NAME]`` with ``use = "ID"`` and every required setting as a
``${VAR}`` reference, installing the pattern's distribution from a package index first when
it is not installed and an index is given; ``remove NAME`` takes the instance out of the
file and out of every profile, refusing while other instances require what it provides.
Both keep the file's comments and layout (:mod:`rainmaker.cli.toml_edit`), regenerate
``.env.example`` as ``rainmaker new`` does, and end with ``rainmaker check``'s validation:
exit 2 when the composition is not valid yet, with what to do about it.
"""

from __future__ import annotations

import copy
import importlib
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.markup import escape

from rainmaker.cli import inspect
from rainmaker.cli.options import CURRENT_FOLDER, AppOption
from rainmaker.cli.render import err_console
from rainmaker.kernel.catalog import Catalog
from rainmaker.kernel.composition import (
    DEFAULT_PROFILE,
    INSTANCE_NAME,
    env_name,
    find_composition,
    read_composition,
)
from rainmaker.kernel.env_example import env_example_for
from rainmaker.kernel.errors import CompositionError, PatternError, Problem
from rainmaker.kernel.pattern import Pattern
from rainmaker.kernel.resolution import resolve
from rainmaker.kernel.suggest import did_you_mean
from rainmaker.kernel.validation import validate_instances

if TYPE_CHECKING:
    import tomlkit
    from tomlkit.items import Table

# tomlkit, and toml_edit built on it, are imported by the commands that edit a file:
# every other command (`run`, `--help`) would pay for importing them.

console = Console(highlight=False)

ENV_EXAMPLE = ".env.example"
INDEX_ENV = "RAINMAKER_INDEX"
# JSON Schema types a "${VAR}" string can stand for: the settings models parse them from text.
_TEXT_TYPES = {"string", "integer", "number", "boolean"}

IndexOption = Annotated[
    str | None,
    typer.Option(
        "--index",
        envvar=INDEX_ENV,
        help="A package index (folder, file:// or http(s):// simple index) to install the "
        "pattern's distribution from when it is not installed.",
        show_default=False,
    ),
]


def register(app: typer.Typer) -> None:
    """Add the ``add`` and ``remove`` commands."""
    app.command("add")(add)
    app.command("remove")(remove)


# -- add ------------------------------------------------------------------------------------


def add(
    pattern_id: Annotated[str, typer.Argument(help="The pattern id (`rainmaker patterns`).")],
    as_: Annotated[
        str | None,
        typer.Option("--as", help="Instance name (default: from the id, auth-jwt -> auth)."),
    ] = None,
    app: AppOption = CURRENT_FOLDER,
    index: IndexOption = None,
) -> None:
    """Add a pattern instance to rainmaker.toml (its required settings as ${VAR}), then check."""
    from rainmaker.cli.toml_edit import add_table, plain, read_document

    path = find_composition(app)
    document = read_document(path)
    data = plain(document)
    catalog = _catalog_for(data, path.parent)
    pattern = catalog.get(pattern_id)
    if pattern is None:
        catalog = _install(pattern_id, index, catalog, data, path.parent)
        pattern = catalog.get(pattern_id)
        assert pattern is not None  # _install raised otherwise
    name = as_ if as_ is not None else default_instance_name(pattern)
    _refuse_bad_name(name, pattern, data, chosen=as_ is not None)

    table, variables = instance_table(name, pattern)
    expected = copy.deepcopy(data)
    expected.setdefault("patterns", {})[name] = table.unwrap()
    add_table(document, "patterns", name, table)
    _write(path, document, expected)
    _write_env_example(path, catalog)

    console.print(
        f"[green]✓[/] added [bold]\\[patterns.{escape(name)}][/] to {path.name}: "
        f"{pattern.id} {pattern.version} ({escape(pattern.name)}); {ENV_EXAMPLE} updated"
    )
    if variables:
        console.print(
            f"  set {', '.join(variables)} in the environment (listed in {ENV_EXAMPLE}); "
            f"`rainmaker pattern info {pattern.id}` describes every setting"
        )
    _check(path, f"{path.name} after adding {name!r}")


def default_instance_name(pattern: Pattern[Any]) -> str:
    """The instance name ``add`` uses without ``--as``.

    A pattern of a family that provides a capability is named after its family
    (``auth-jwt`` -> ``auth``, ``cache-memory`` -> ``cache``); any other is its id with
    underscores (``dev-dashboard`` -> ``dev_dashboard``).
    """
    family, _, variant = pattern.id.partition("-")
    name = family if variant and pattern.provisions else pattern.id.replace("-", "_")
    name = re.sub(r"[^a-z0-9_-]", "_", name.lower())
    return name if INSTANCE_NAME.match(name) and name != "app" else f"p_{name}"


def instance_table(name: str, pattern: Pattern[Any]) -> tuple[Table, list[str]]:
    """``[patterns.NAME]`` for ``pattern``: ``use``, then each needed setting as ``${VAR}``.

    Needed are the settings without a default, and, when the settings model still rejects
    a table holding only those (a rule such as "a secret or keys"), the keys of the
    pattern's first example, which is valid by contract. ``VAR`` is ``<INSTANCE>_<KEY>``
    (``AUTH_SECRET``), not ``RAINMAKER__<INSTANCE>__<KEY>``: that variable already overrides
    the file, and one variable should not do two jobs. A needed setting that is a table or
    a list gets a comment instead (no single variable holds it; ``check`` says it is missing).
    """
    import tomlkit

    table = tomlkit.table()
    table.add("use", pattern.id)
    variables = []
    properties = pattern.settings.model_json_schema().get("properties", {})
    fields = {info.alias or field: info for field, info in pattern.settings.model_fields.items()}
    for key in needed_settings(pattern):
        info = fields.get(key)
        if info is not None and info.description:
            table.add(tomlkit.comment(info.description))
        if _holds_text(properties.get(key, {})):
            variable = f"{env_name(name)}_{key.upper()}"
            variables.append(variable)
            table.add(key, f"${{{variable}}}")
        else:
            table.add(tomlkit.comment(f"{key} = …  (required: a table or list, set it here)"))
    return table, variables


def needed_settings(pattern: Pattern[Any]) -> list[str]:
    """The settings keys a new instance of ``pattern`` must set (see :func:`instance_table`)."""
    model = pattern.settings
    required = [
        info.alias or field for field, info in model.model_fields.items() if info.is_required()
    ]
    example = pattern.examples[0] if pattern.examples else {}
    try:
        model.model_validate({key: example.get(key, "x" * 64) for key in required})
    except ValidationError as exc:
        if all(error["type"] == "missing" for error in exc.errors()) or not example:
            return required
        return [*required, *(key for key in example if key not in required)]
    return required


def _holds_text(schema: dict[str, Any]) -> bool:
    if "anyOf" in schema:
        return any(_holds_text(option) for option in schema["anyOf"])
    return schema.get("type") in _TEXT_TYPES or "enum" in schema or "const" in schema


def _refuse_bad_name(
    name: str, pattern: Pattern[Any], data: dict[str, Any], *, chosen: bool
) -> None:
    if not INSTANCE_NAME.match(name) or name == "app":
        raise CompositionError(
            [
                Problem(
                    f"invalid instance name {name!r}",
                    fix="use lowercase letters, digits, '-' and '_', starting with a letter "
                    "('app' is reserved)",
                )
            ]
        )
    instances = _instances(data)
    clash = next((other for other in instances if env_name(other) == env_name(name)), None)
    if clash is None:
        return
    free = [
        candidate
        for candidate in (pattern.id.replace("-", "_"), *(f"{name}_{n}" for n in range(2, 99)))
        if INSTANCE_NAME.match(candidate)
        and all(env_name(candidate) != env_name(other) for other in instances)
    ]
    use = instances[clash]
    raise CompositionError(
        [
            Problem(
                f"an instance named {clash!r} is already in the composition"
                + (f' (use = "{use}")' if use else "")
                + ("" if chosen else f"; {pattern.id} would be named {name!r}"),
                instance=clash,
                fix=f"choose another name: rainmaker add {pattern.id} --as {free[0]}",
            )
        ],
        where="the composition",
    )


def _instances(data: dict[str, Any]) -> dict[str, str]:
    """Every instance name the file defines, in its base or in a profile, with its ``use``."""
    found: dict[str, str] = {}
    tables = [data.get("patterns")]
    profiles = data.get("profiles")
    if isinstance(profiles, dict):
        tables += [body.get("patterns") for body in profiles.values() if isinstance(body, dict)]
    for patterns in tables:
        if isinstance(patterns, dict):
            for name, table in patterns.items():
                use = table.get("use") if isinstance(table, dict) else None
                if name not in found or not found[name]:
                    found[name] = use if isinstance(use, str) else ""
    return found


def _catalog_for(data: dict[str, Any], root: Path) -> Catalog:
    """The installed patterns plus the app's local ones (import problems: left to check)."""
    catalog = Catalog.installed()
    app = data.get("app")
    local = app.get("local_patterns") if isinstance(app, dict) else None
    if isinstance(local, list) and all(isinstance(item, str) for item in local):
        catalog.add_local(local, root)
    return catalog


def _install(
    pattern_id: str, index: str | None, catalog: Catalog, data: dict[str, Any], root: Path
) -> Catalog:
    """Install the distribution that offers ``pattern_id`` from ``index``; the new catalog."""
    if index is None:
        close = did_you_mean(pattern_id, catalog.ids())
        raise CompositionError(
            [
                Problem(
                    f"no installed pattern {pattern_id!r}",
                    fix=(f"{close} " if close else "")
                    + "`rainmaker patterns` lists the installed ones; to install it from a "
                    f"package index, pass --index URL (or set ${INDEX_ENV})",
                )
            ]
        )
    from rainmaker.cli.pattern_index import NotAnIndex, read_offer, simple_url
    from rainmaker.testing.simple_index import IndexReadError

    try:
        offer = read_offer(index)
    except NotAnIndex as exc:
        raise typer.BadParameter(str(exc), param_hint="--index") from None
    except IndexReadError as exc:
        raise PatternError(str(exc), hint="check --index") from None
    offered = offer.find(pattern_id)
    if offered is None:
        ids = [p.id for p in offer.patterns]
        close = did_you_mean(pattern_id, sorted({*ids, *catalog.ids()}))
        raise CompositionError(
            [
                Problem(
                    f"neither installed nor offered by {index}: pattern {pattern_id!r}",
                    fix=(f"{close} " if close else "")
                    + (f"the index offers: {', '.join(ids)}" if ids else "the index offers none"),
                )
            ]
        )
    requirement = f"{offered.distribution}=={offered.release}"
    console.print(f"installing {requirement} from {escape(offer.index)} (for {pattern_id}) …")
    result = subprocess.run(  # noqa: S603 - this interpreter's pip, a pinned name==version
        [sys.executable, "-m", "pip", "install", "--index-url", simple_url(index), requirement],
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        tail = "\n".join((result.stdout + result.stderr).strip().splitlines()[-8:])
        raise PatternError(
            f"pip could not install {requirement} from {offer.index}:\n{tail}",
            hint="if its dependencies are on another index, install it yourself: "
            f"pip install --index-url {simple_url(index)} --extra-index-url "
            f"https://pypi.org/simple {requirement}",
        )
    importlib.invalidate_caches()  # the new distribution's modules must be importable now
    refreshed = _catalog_for(data, root)
    if refreshed.get(pattern_id) is None:
        raise PatternError(
            f"{requirement} is installed but declares no pattern {pattern_id!r}"
            + "".join(f": {p.message}" for p in refreshed.problems_by_id.get(pattern_id, [])[:1]),
            hint=f"ask its authors, or pip uninstall {offered.distribution}",
        )
    console.print(f"[green]✓[/] installed {requirement}")
    return refreshed


# -- remove ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Dependant:
    """An instance bound to the one being removed for a capability, in some profiles."""

    instance: str
    capability: str
    optional: bool
    profiles: tuple[str, ...]


def remove(
    name: Annotated[str, typer.Argument(help="The instance name, as in [patterns.NAME].")],
    app: AppOption = CURRENT_FOLDER,
    force: Annotated[
        bool,
        typer.Option("--force", help="Remove it even while other instances require it."),
    ] = False,
) -> None:
    """Take an instance out of rainmaker.toml and its profiles, then check."""
    from rainmaker.cli.toml_edit import plain, read_document, remove_table

    path = find_composition(app)
    document = read_document(path)
    data = plain(document)
    instances = _instances(data)
    if name not in instances:
        raise CompositionError(
            [
                Problem(
                    f"no instance {name!r} in {path.name}",
                    fix=did_you_mean(name, instances)
                    or f"its instances are: {', '.join(instances) or 'none'}",
                )
            ]
        )
    catalog = _catalog_for(data, path.parent)
    dependants = find_dependants(path, name, catalog)
    required = [d for d in dependants if not d.optional]
    if required and not force:
        err_console.print(
            f"[bold red]✗ not removed:[/] other instances require what {escape(name)} provides"
        )
        for dependant in required:
            err_console.print(f"  • {escape(_describe(dependant, name))}")
        err_console.print(
            "    [green]fix:[/] give them another provider first (`rainmaker add ID --as NAME`, "
            'then providers = { Capability = "NAME" } where several could serve), '
            "or pass --force to remove it anyway"
        )
        raise typer.Exit(2)

    paths: list[tuple[str, ...]] = [("patterns", name)]
    profiles = data.get("profiles")
    if isinstance(profiles, dict):
        paths += [
            ("profiles", profile, "patterns", name)
            for profile, body in profiles.items()
            if isinstance(body, dict)
            and isinstance(body.get("patterns"), dict)
            and name in body["patterns"]
        ]
    expected = copy.deepcopy(data)
    removed = []
    for table_path in paths:
        if remove_table(document, table_path):
            removed.append("[" + ".".join(table_path) + "]")
            _delete_path(expected, table_path)
    _write(path, document, expected)
    _write_env_example(path, catalog)

    console.print(
        f"[green]✓[/] removed {escape(' and '.join(removed))} from {path.name}; "
        f"{ENV_EXAMPLE} updated"
    )
    for dependant in dependants:
        note = "runs without it" if dependant.optional else "has no provider now"
        console.print(f"  {escape(_describe(dependant, name))}: {note}")
    gone = sorted(set(_profile_names(data)) - set(_profile_names(plain(document))))
    if gone:
        console.print(f"  profile {', '.join(gone)} had nothing else and is gone from {path.name}")
    _check(path, f"{path.name} after removing {name!r}")


def find_dependants(path: Path, name: str, catalog: Catalog) -> list[Dependant]:
    """Instances that ``name`` provides a capability to, in the default or any profile."""
    profiles = [DEFAULT_PROFILE, *read_composition(path, environ={}).profiles]
    seen: dict[tuple[str, str, bool], list[str]] = {}
    for profile in dict.fromkeys(profiles):
        composition = read_composition(path, profile=profile, environ={})
        instances, _ = validate_instances(composition, catalog)
        resolve(instances, catalog)  # sets each instance's bindings
        for instance in instances:
            if instance.name == name:
                continue
            for requirement in instance.pattern.requirements:
                capability = requirement.capability.name
                bound = instance.bindings.get(capability) == name
                if bound or instance.providers.get(capability) == name:
                    key = (instance.name, capability, requirement.optional)
                    seen.setdefault(key, []).append(profile)
    return [
        Dependant(instance, capability, optional, tuple(found))
        for (instance, capability, optional), found in seen.items()
    ]


def _describe(dependant: Dependant, name: str) -> str:
    kind = "uses" if dependant.optional else "requires"
    where = (
        ""
        if DEFAULT_PROFILE in dependant.profiles
        else f" (profile {', '.join(dependant.profiles)})"
    )
    optional = " (optional)" if dependant.optional else ""
    return f"{dependant.instance} {kind} {dependant.capability}{optional} from {name}{where}"


def _profile_names(data: dict[str, Any]) -> list[str]:
    profiles = data.get("profiles")
    return list(profiles) if isinstance(profiles, dict) else []


def _delete_path(data: dict[str, Any], path: tuple[str, ...]) -> None:
    *parents, last = path
    for key in parents:
        data = data[key]
    del data[last]


# -- shared ---------------------------------------------------------------------------------


def _write(path: Path, document: tomlkit.TOMLDocument, expected: dict[str, Any]) -> None:
    from rainmaker.cli.toml_edit import EditError, write_document

    try:
        write_document(path, document, expected)
    except EditError as exc:
        raise PatternError(
            str(exc),
            hint="edit rainmaker.toml by hand this time, and report the file's layout as a bug",
        ) from None
    except OSError as exc:
        raise PatternError(f"cannot write {path}: {exc}", hint="check its permissions") from None


def _write_env_example(path: Path, catalog: Catalog) -> None:
    target = path.parent / ENV_EXAMPLE
    try:
        target.write_text(env_example_for(path, catalog), encoding="utf-8")
    except OSError as exc:
        raise PatternError(f"cannot write {target}: {exc}", hint="check its permissions") from None


def _check(path: Path, where: str) -> None:
    """``rainmaker check`` on the edited file: its problems are the ones to fix next."""
    try:
        inspect.check(app=path, profile=None, set_=None)
    except CompositionError as error:
        raise CompositionError(error.problems, where=where) from None
