"""The ``rainmaker`` command: Typer app, command registration and error handling.

Exit codes: 0 success, 1 runtime failure (a pattern failed to start, a server is down),
2 invalid composition or usage. No traceback is shown unless ``--debug`` is given.
"""

from __future__ import annotations

import os
import sys

import typer
from rich.markup import escape

from rainmaker.cli import (
    db,
    deploy,
    docs,
    edit,
    inspect,
    lock,
    new,
    pattern,
    profile,
    run,
    schema,
    soak,
    worker,
)
from rainmaker.cli.contributed import add_contributed_commands, command_names
from rainmaker.cli.render import err_console, print_composition_error, print_pattern_error
from rainmaker.kernel.errors import CompositionError, PatternError
from rainmaker.kernel.install_hint import install_hint

app = typer.Typer(
    name="rainmaker",
    help="Compose production Python backends from tested patterns.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)

_debug = False


def _print_version(value: bool) -> None:
    if value:
        from rainmaker import __version__

        typer.echo(f"rainmaker {__version__}")
        raise typer.Exit()


@app.callback()
def _global(
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks for failures."),
    version: bool = typer.Option(
        False,
        "--version",
        callback=_print_version,
        is_eager=True,
        help="Print the installed version and exit.",
    ),
) -> None:
    global _debug
    _debug = debug


for command_module in (
    new,
    inspect,
    edit,
    schema,
    lock,
    pattern,
    run,
    profile,
    soak,
    worker,
    db,
    docs,
    deploy,
):
    command_module.register(app)


def _warn(message: str) -> None:
    err_console.print(f"[yellow]warning:[/] {escape(message)}")


BUILT_IN_COMMANDS = frozenset(command_names(app))


def _add_contributions(args: list[str]) -> None:
    """Add contributed command groups unless a built-in command is asked for by name.

    Scanning every installed distribution's entry points costs tens of milliseconds: the
    built-in commands do not pay it; ``--help``, completion and other names do.
    """
    first = next((arg for arg in args if not arg.startswith("-")), None)
    completing = any(name.endswith("_COMPLETE") for name in os.environ)
    if first in BUILT_IN_COMMANDS and not completing:
        return
    add_contributed_commands(app, set(BUILT_IN_COMMANDS), _warn)


def main(argv: list[str] | None = None) -> None:
    """Console entry point: run the command and turn errors into exit codes.

    Click runs in standalone mode, so its usage errors print their own message and exit 2,
    and ``typer.Exit(n)`` becomes exit code ``n``; only our errors and surprises land here.
    """
    args = sys.argv[1:] if argv is None else list(argv)
    try:
        _add_contributions(args)
        app(args=args, prog_name="rainmaker")
    except CompositionError as error:
        print_composition_error(error)
        _maybe_traceback()
        sys.exit(2)
    except PatternError as error:
        print_pattern_error(error, debug=_debug)
        _maybe_traceback()
        sys.exit(1)
    except KeyboardInterrupt:
        err_console.print("[yellow]aborted[/]")
        sys.exit(130)
    except Exception as error:
        if _debug:
            raise
        missing = error.name if isinstance(error, ModuleNotFoundError) else None
        hint = install_hint("rainmaker-patterns", missing)
        if hint is not None:
            err_console.print(f"[bold red]✗[/] this command needs {missing!r} (not installed)")
            err_console.print(f"  fix: {escape(hint)}")
        else:
            err_console.print(
                f"[bold red]✗ unexpected error:[/] {type(error).__name__}: {error}"
            )
            err_console.print("  run again with --debug for the traceback")
        sys.exit(1)


def _maybe_traceback() -> None:
    if _debug:
        err_console.print_exception()
