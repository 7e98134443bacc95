"""Command groups that installed packages contribute: ``rainmaker <group> …``.

A package adds a Typer app to the ``rainmaker.commands`` entry-point group
(``jobs = "my_package.commands:app"``), and ``rainmaker --help`` lists it where the package is
installed. The built-in jobs patterns contribute ``rainmaker jobs`` this way. A contribution
that fails to load, is not a Typer app, or takes the name of a built-in command is left out
with a warning naming the package and the fix: it never breaks the other commands.
"""

from __future__ import annotations

from collections.abc import Callable
from importlib.metadata import EntryPoint, entry_points

import typer

COMMANDS_GROUP = "rainmaker.commands"


def command_names(app: typer.Typer) -> set[str]:
    """Names ``app`` already answers to: its commands and command groups."""
    names = {
        info.name or (info.callback.__name__.replace("_", "-") if info.callback else "")
        for info in app.registered_commands
    }
    names |= {info.name or "" for info in app.registered_groups}
    return names - {""}


def add_contributed_commands(
    app: typer.Typer, taken: set[str], warn: Callable[[str], None]
) -> list[str]:
    """Add every contributed group to ``app``; return the names added."""
    added = []
    for entry in sorted(entry_points(group=COMMANDS_GROUP), key=lambda e: e.name):
        if entry.name in taken:
            package = _package_of(entry)
            warn(
                f"{package}: command group {entry.name!r} clashes with an existing "
                f"`rainmaker {entry.name}` and is left out; fix: rename its entry point in "
                f'[project.entry-points."{COMMANDS_GROUP}"]'
            )
            continue
        try:
            group = entry.load()
        except Exception as error:
            package = _package_of(entry)
            warn(
                f"{package}: command group {entry.name!r} ({entry.value}) failed to load: "
                f"{type(error).__name__}: {error}; fix: reinstall or remove {package}"
            )
            continue
        if not isinstance(group, typer.Typer):
            package = _package_of(entry)
            warn(
                f"{package}: command group {entry.name!r} ({entry.value}) is a "
                f"{type(group).__name__}, not a typer.Typer; fix: point the entry point at one"
            )
            continue
        app.add_typer(group, name=entry.name)
        taken.add(entry.name)
        added.append(entry.name)
    return added


def _package_of(entry: EntryPoint) -> str:
    """The distribution declaring ``entry``, for a warning: reading its name parses the
    distribution's METADATA, which a contribution that loads fine never needs."""
    return entry.dist.name if entry.dist else entry.value
