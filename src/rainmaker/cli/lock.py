"""``rainmaker lock``: record the installed pattern versions the app was checked with."""

from __future__ import annotations

import typer
from rich.console import Console

from rainmaker.cli.inspect import used_pattern_ids
from rainmaker.cli.options import CURRENT_FOLDER, AppOption, ProfileOption, SetOption, load_app
from rainmaker.kernel.lock import LOCK_FILE, lock_entries, write_lock

console = Console(highlight=False)


def register(app: typer.Typer) -> None:
    """Add the ``lock`` command."""
    app.command()(lock)


def lock(
    app: AppOption = CURRENT_FOLDER, profile: ProfileOption = None, set_: SetOption = None
) -> None:
    """Write rainmaker.lock: pattern ids, versions and settings-schema hashes."""
    application = load_app(app, profile, set_)
    entries = lock_entries(used_pattern_ids(application), application.catalog)
    path = application.composition.root / LOCK_FILE
    write_lock(path, application.name, entries)
    console.print(f"[green]✓[/] wrote {path} ({len(entries)} patterns)")
