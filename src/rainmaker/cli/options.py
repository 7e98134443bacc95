"""Options every command shares, and loading the app they point at."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, TypeVar

import typer

from rainmaker.kernel.application import Application
from rainmaker.kernel.loading import load

M = TypeVar("M")

CURRENT_FOLDER = Path(".")

AppOption = Annotated[
    Path,
    typer.Option("--app", help="The app folder (or its rainmaker.toml).", show_default="."),
]
ProfileOption = Annotated[
    str | None,
    typer.Option(
        "--profile", "-p", help="Profile to apply (default: $RAINMAKER_PROFILE or development)."
    ),
]
SetOption = Annotated[
    list[str] | None,
    typer.Option("--set", help="Override one setting: instance.key=value (repeatable)."),
]


def load_app(app: Path, profile: str | None, overrides: list[str] | None) -> Application:
    """Load the composition the options name (raises CompositionError with every problem).

    Commands print their own output, so only warnings and errors are logged.
    """
    application = load(app, profile=profile, overrides=overrides or (), configure_logs=False)
    application.configure_logging(level="warning")
    return application


def built_modules(application: Application, kind: type[M]) -> list[M]:
    """Build ``application`` (start nothing) and return its modules that are ``kind``, in
    start order."""
    application.build()
    return [
        instance.module
        for instance in application.instances.values()
        if isinstance(instance.module, kind)
    ]
