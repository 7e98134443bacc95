"""The ``rainmaker`` command: Typer app, command registration and error handling.

Exit codes: 0 success, 1 runtime failure (a pattern failed to start, a server is down),
2 invalid composition or usage. No traceback is shown unless ``--debug`` is given.
"""

from __future__ import annotations

import sys

import typer

from rainmaker.cli import db, deploy, docs, inspect, lock, new, pattern, run, worker
from rainmaker.cli.render import err_console, print_composition_error, print_pattern_error
from rainmaker.kernel.errors import CompositionError, PatternError

app = typer.Typer(
    name="rainmaker",
    help="Compose production Python backends from tested patterns.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

_debug = False


@app.callback()
def _global(
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks for failures."),
) -> None:
    global _debug
    _debug = debug


for command_module in (new, inspect, lock, pattern, run, worker, db, docs, deploy):
    command_module.register(app)


def main(argv: list[str] | None = None) -> None:
    """Console entry point: run the command and turn errors into exit codes."""
    try:
        app(args=argv, standalone_mode=False)
    except CompositionError as error:
        print_composition_error(error)
        _maybe_traceback()
        sys.exit(2)
    except PatternError as error:
        print_pattern_error(error)
        _maybe_traceback()
        sys.exit(1)
    except typer.Exit as exit_:
        sys.exit(exit_.exit_code)
    except (typer.Abort, KeyboardInterrupt):
        err_console.print("[yellow]aborted[/]")
        sys.exit(130)
    except Exception as error:  # click usage errors carry their own exit code
        import click

        if isinstance(error, click.ClickException):
            error.show()
            sys.exit(error.exit_code)
        if _debug:
            raise
        err_console.print(f"[bold red]✗ unexpected error:[/] {type(error).__name__}: {error}")
        err_console.print("  run again with --debug for the traceback")
        sys.exit(1)


def _maybe_traceback() -> None:
    if _debug:
        err_console.print_exception()
