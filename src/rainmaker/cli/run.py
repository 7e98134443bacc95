"""Placeholder: the `run` commands are being written; `register` adds them to the CLI."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add this module's commands to the `rainmaker` app."""
