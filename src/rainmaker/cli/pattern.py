"""``rainmaker pattern …``: describe installed patterns (and, for authors, develop them)."""

from __future__ import annotations

import typer

from rainmaker.cli.inspect import pattern_info


def register(app: typer.Typer) -> None:
    """Add the ``pattern`` command group."""
    pattern_app = typer.Typer(help="Describe and develop patterns.", no_args_is_help=True)
    pattern_app.command("info")(pattern_info)
    app.add_typer(pattern_app, name="pattern")
