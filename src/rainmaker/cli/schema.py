"""``rainmaker schema``: write the JSON Schema of an app's ``rainmaker.toml`` for editors.

The schema covers the installed patterns and the app's own ``local_patterns``; see
:mod:`rainmaker.kernel.composition_schema` for what it checks and what it leaves to
``rainmaker check``. Point Taplo or Even Better TOML at it with ``#:schema
./rainmaker.schema.json`` on the first line of ``rainmaker.toml``.
"""

from __future__ import annotations

import json
import os
import tomllib
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from rainmaker.cli.options import CURRENT_FOLDER, AppOption
from rainmaker.kernel.catalog import LOCAL, Catalog
from rainmaker.kernel.composition import find_composition, read_composition
from rainmaker.kernel.composition_schema import composition_schema
from rainmaker.kernel.errors import CompositionError, PatternError

console = Console(highlight=False)

SCHEMA_FILE = "rainmaker.schema.json"


def register(app: typer.Typer) -> None:
    """Add the ``schema`` command."""
    app.command("schema")(schema)


def schema(
    app: AppOption = CURRENT_FOLDER,
    output: Annotated[
        Path | None,
        typer.Option(
            "--output",
            "-o",
            help=f"Where to write it ('-': standard output; default: APP/{SCHEMA_FILE}).",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Write a JSON Schema of rainmaker.toml (installed and local patterns) for editors."""
    path = find_composition(app)
    composition = read_composition(path, environ={})
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError:
        raise CompositionError(composition.problems) from None  # names the line
    catalog = Catalog.installed()
    catalog.add_local(composition.app.local_patterns, composition.root)
    if local_problems := catalog.problems_by_id.get(LOCAL):
        raise CompositionError(local_problems, where="the app's local patterns")
    built = composition_schema(
        catalog,
        instances=_instance_patterns(data),
        title=f"rainmaker.toml of {composition.app.name}",
    )
    text = json.dumps(built, indent=2) + "\n"
    if output is not None and str(output) == "-":
        typer.echo(text, nl=False)
        return
    target = output if output is not None else path.parent / SCHEMA_FILE
    try:
        target.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise PatternError(
            f"cannot write {target}: {exc.strerror or exc}",
            hint="give --output a file in a folder you can write",
        ) from None
    relative = Path(os.path.relpath(target.resolve(), path.parent.resolve())).as_posix()
    console.print(
        f"[green]✓[/] wrote {target} ({len(catalog)} patterns); first line of rainmaker.toml "
        f"for Taplo / Even Better TOML: #:schema ./{relative}"
    )


def _instance_patterns(data: dict[str, Any]) -> dict[str, str]:
    """Instance name -> pattern id of every base table, disabled ones included."""
    patterns = data.get("patterns")
    if not isinstance(patterns, dict):
        return {}
    return {
        name: table["use"]
        for name, table in patterns.items()
        if isinstance(table, dict) and isinstance(table.get("use"), str)
    }
