"""``rainmaker new NAME``: a new app that runs with no server at all.

The app gets a ``rainmaker.toml`` using only embedded defaults (whichever of them are
installed), one app-local pattern with a route as an example of app code, a README, a
``.env.example`` generated from the settings schemas and a tests folder with one test.
"""

from __future__ import annotations

import re
from pathlib import Path
from string import Template
from typing import Annotated

import typer
from rich.console import Console

from rainmaker.kernel.catalog import Catalog
from rainmaker.kernel.composition import FILE_NAME, read_composition
from rainmaker.kernel.env_example import env_example_for
from rainmaker.kernel.errors import CompositionError, Problem
from rainmaker.kernel.loading import assemble

console = Console(highlight=False)

# Embedded defaults a new app starts with, by instance name, when installed.
STARTER_PATTERNS = {
    "web": "framework-fastapi",
    "db": "database-sqlite",
    "dashboard": "dev-dashboard",  # /_rainmaker, off in production
}

NAME = re.compile(r"^[a-z][a-z0-9_-]*$")


def register(app: typer.Typer) -> None:
    """Add the ``new`` command."""
    app.command()(new)


def new(
    name: Annotated[str, typer.Argument(help="The app's name; also its folder.")],
    directory: Annotated[
        Path | None, typer.Option("--dir", help="Where to create it (default: ./NAME).")
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Write into a non-empty folder.")] = False,
) -> None:
    """Create an app folder that runs with embedded defaults only."""
    target = directory or Path(name)
    problems = []
    if not NAME.match(name):
        problems.append(
            Problem(
                f"invalid app name {name!r}",
                fix="use lowercase letters, digits, '-' and '_', starting with a letter",
            )
        )
    if target.exists() and any(target.iterdir()) and not force:
        problems.append(
            Problem(f"{target} exists and is not empty", fix="choose another name or pass --force")
        )
    if problems:
        raise CompositionError(problems)

    catalog = Catalog.installed()
    instances = {inst: pid for inst, pid in STARTER_PATTERNS.items() if catalog.get(pid)}
    files = render_app(name, instances)
    for relative, text in files.items():
        path = target / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    # .env.example comes from the written app itself, so it covers the local pattern too.
    assemble(read_composition(target / FILE_NAME, environ={}), catalog)  # the app is valid
    (target / ".env.example").write_text(
        env_example_for(target / FILE_NAME, catalog), encoding="utf-8"
    )
    console.print(
        f"[green]✓[/] created {target} with {', '.join(instances.values()) or 'no patterns'}"
    )
    console.print(
        f"  next: [bold]rainmaker run --app {target}[/], then open http://127.0.0.1:8000/docs "
        "(API) and http://127.0.0.1:8000/_rainmaker (dashboard)"
    )


def render_app(name: str, instances: dict[str, str]) -> dict[str, str]:
    """Every file of a new app but ``.env.example``, by relative path."""
    tables = "\n".join(f'[patterns.{inst}]\nuse = "{pid}"\n' for inst, pid in instances.items())
    production = (
        '\n[profiles.production.patterns.db]\nuse = "database-postgres"\nurl = "${DATABASE_URL}"\n'
        if instances.get("db") == "database-sqlite"
        else ""
    )
    values = {
        "name": name,
        "module": name.replace("-", "_"),
        "tables": tables,
        "production": production,
    }
    return {
        "rainmaker.toml": Template(TOML).substitute(values),
        f"{values['module']}_hello.py": Template(HELLO).substitute(values),
        "README.md": Template(README).substitute(values),
        "tests/test_app.py": Template(TEST).substitute(values),
        ".gitignore": "*.db\n*.db-wal\n*.db-shm\n*.db.migrate-lock\n.env\n__pycache__/\n",
    }


TOML = """\
# $name, composed by Rainmaker. Every pattern here is an embedded default: no server needed.
# `rainmaker plan` shows what runs; `rainmaker pattern info ID` lists a pattern's settings.

[app]
name = "$name"
local_patterns = ["${module}_hello:pattern"]

$tables
[patterns.hello]
use = "hello"

# Production overrides go in profiles, e.g. `rainmaker run --profile production`:
[profiles.production.app]
log_format = "json"
$production
"""

HELLO = '''\
"""An app-local pattern: a module-level route that asks for what it needs by type."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter
from pydantic import Field

from rainmaker import Module, Pattern, Settings
from rainmaker.capabilities import Database, SqlDatabase
from rainmaker.http import Inject, PatternSettings


class HelloSettings(Settings):
    greeting: str = Field("hello", description="The word the /hello route answers with.")


router = APIRouter()


@router.get("/hello")
async def hello(
    settings: Annotated[HelloSettings, PatternSettings(HelloSettings)],
    db: Annotated[SqlDatabase, Inject(Database)],
) -> dict[str, str]:
    return {"message": f"{settings.greeting} from $name", "database": db.backend}


class HelloModule(Module[HelloSettings]):
    def router(self) -> APIRouter:
        return router


pattern = Pattern(
    id="hello",
    version="0.1.0",
    name="Hello",
    description="Answers GET /hello.",
    settings=HelloSettings,
    factory=HelloModule,
    requires=[Database],
)
'''

README = """\
# $name

Composed by [Rainmaker](https://pypi.org/project/rainmaker-patterns/) from patterns.

    rainmaker run            # serve on http://127.0.0.1:8000 (docs at /docs)
    rainmaker plan           # what runs, in which order, which routes

    pip install "rainmaker-patterns[testing]"   # pytest and the harness, once
    python -m pytest tests   # the app's tests

Settings live in `rainmaker.toml`; every one can be overridden from the environment
(`RAINMAKER__<INSTANCE>__<KEY>`, see `.env.example`) or with `--set instance.key=value`.
"""

TEST = '''\
"""The app starts with embedded defaults, is ready, and answers its own route."""

import asyncio
from pathlib import Path

import httpx

import rainmaker

APP = Path(__file__).resolve().parent.parent


def test_app_starts_and_serves() -> None:
    async def scenario() -> tuple[int, int]:
        app = rainmaker.load(APP)
        async with app.running():
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://app") as client:
                ready = await client.get("/health/ready")
                hello = await client.get("/hello")
        return ready.status_code, hello.status_code

    assert asyncio.run(scenario()) == (200, 200)
'''
