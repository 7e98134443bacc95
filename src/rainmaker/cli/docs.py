"""``rainmaker docs build|serve``: the static documentation site of an app and its patterns.

``build`` writes it (deterministically: the same inputs give byte-identical files);
``serve`` builds it and serves the folder on loopback for reading in a browser.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from rainmaker.cli.options import CURRENT_FOLDER, AppOption, ProfileOption, SetOption, load_app
from rainmaker.kernel.composition import find_composition
from rainmaker.kernel.errors import CompositionError, PatternError, Problem

console = Console(highlight=False)

OutOption = Annotated[
    Path | None,
    typer.Option("--out", help="Folder to write the site into (default: <app>/site)."),
]
GuidesOption = Annotated[
    Path | None,
    typer.Option("--guides", help="A folder of Markdown guides to include (*.md)."),
]


def register(app: typer.Typer) -> None:
    """Add the ``docs`` command group."""
    docs_app = typer.Typer(help="Documentation generated from patterns.", no_args_is_help=True)
    docs_app.command("build")(build)
    docs_app.command("serve")(serve)
    app.add_typer(docs_app, name="docs")


def build(
    app: AppOption = CURRENT_FOLDER,
    profile: ProfileOption = None,
    set_: SetOption = None,
    out: OutOption = None,
    guides: GuidesOption = None,
) -> Path:
    """Write the site: every installed pattern, the app's composition and .env.example.

    Without a rainmaker.toml at --app, only the installed patterns are documented.
    """
    try:
        from rainmaker.docs.site import OutputFolderError, build_site
    except ImportError as exc:  # Jinja2 is an optional dependency
        raise PatternError(
            f"the docs generator needs Jinja2 ({exc})",
            hint="pip install 'rainmaker-patterns[docs]'",
        ) from exc
    path = find_composition(app)
    # A folder that has no rainmaker.toml documents the installed patterns; an --app that
    # does not exist at all is a mistake, reported like every other command reports it.
    application = load_app(app, profile, set_) if path.exists() or not app.exists() else None
    target = out if out is not None else path.parent / "site"
    try:
        written = build_site(target, application=application, guides=guides)
    except OutputFolderError as exc:
        raise CompositionError([Problem(str(exc), key="--out")]) from exc
    pages = sum(1 for file in written if file.suffix == ".html")
    what = f"{application.name} and its patterns" if application else "the installed patterns"
    console.print(f"[green]✓[/] {pages} pages for {escape(what)} in {escape(str(target))}")
    return target


def serve(
    app: AppOption = CURRENT_FOLDER,
    profile: ProfileOption = None,
    set_: SetOption = None,
    out: OutOption = None,
    guides: GuidesOption = None,
    host: Annotated[str, typer.Option("--host", help="Interface to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="Port to listen on (0: any free).")] = 8001,
) -> None:
    """Build the site, then serve it until Ctrl-C."""
    from rainmaker.docs.serve import site_server

    target = build(app, profile, set_, out, guides)
    with site_server(target, host, port) as server:
        bound_port = server.server_address[1]
        console.print(f"serving http://{host}:{bound_port}/ (Ctrl-C stops)")
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            console.print("stopped")
