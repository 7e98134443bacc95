"""``rainmaker tally …``: a command group contributed through ``rainmaker.commands``."""

import typer

app = typer.Typer(help="Tally: counts things.", no_args_is_help=True)


@app.command("hello")
def hello() -> None:
    """Say that the contributed command runs."""
    typer.echo("tally says hello")


@app.command("fail")
def fail() -> None:
    """Exit 1, as a failing command should."""
    raise typer.Exit(1)
