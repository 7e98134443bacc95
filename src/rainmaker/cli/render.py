"""Showing errors to people: one screen, every problem, no traceback unless --debug."""

from __future__ import annotations

from rich.console import Console
from rich.markup import escape

from rainmaker.kernel.errors import CompositionError, PatternError, StartupError

err_console = Console(stderr=True, highlight=False)


def print_composition_error(error: CompositionError) -> None:
    """Every problem of an invalid composition, with where, what and how to fix it."""
    err_console.print(f"[bold red]✗ {escape(error.message)}[/]")
    for problem in error.problems:
        where = f"[bold]{escape(problem.location)}[/]: " if problem.location else ""
        got = f" [dim](got {escape(problem.value)})[/]" if problem.value is not None else ""
        err_console.print(f"  • {where}{escape(problem.message)}{got}")
        if problem.fix:
            err_console.print(f"    [green]fix:[/] {escape(problem.fix)}")


def print_pattern_error(error: PatternError, *, debug: bool = False) -> None:
    """A runtime failure: which pattern, what happened, how to fix it, what was undone, and
    where the traceback is (``--debug``) when an exception lies underneath."""
    where = f"[bold]{escape(error.pattern_id)}[/]: " if error.pattern_id else ""
    err_console.print(f"[bold red]✗[/] {where}{escape(error.message)} [dim]({error.code})[/]")
    if error.hint:
        err_console.print(f"  [green]fix:[/] {escape(error.hint)}")
    if isinstance(error, StartupError) and error.pattern_id:
        if error.stopped:
            err_console.print(
                f"  started before it and stopped again: {escape(', '.join(error.stopped))}"
            )
        else:
            err_console.print("  nothing had started before it; nothing is left running")
    if not debug and error.__cause__ is not None:
        err_console.print("  run again with --debug for the traceback")
