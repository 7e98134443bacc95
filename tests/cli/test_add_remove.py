"""``rainmaker add``, ``remove`` and ``patterns --available``, through the installed script.

Each test edits a copy of an app made by ``rainmaker new``. Installing from an index goes
into a throw-away ``--target`` folder (``PIP_TARGET`` on ``PYTHONPATH``), never into the
project's environment.
"""

from __future__ import annotations

import base64
import hashlib
import html
import os
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

SCRIPT = Path(sys.executable).with_name("rainmaker")


def rainmaker(
    *args: str, cwd: Path | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, "COLUMNS": "200", "NO_COLOR": "1", **(env or {})}
    for variable in ("RAINMAKER_INDEX", "RAINMAKER_PROFILE"):
        if variable not in (env or {}):
            full_env.pop(variable, None)
    return subprocess.run(
        [str(SCRIPT), *args], capture_output=True, text=True, cwd=cwd, env=full_env, timeout=180
    )


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("new")
    result = rainmaker("new", "shop", cwd=root)
    assert result.returncode == 0, result.stderr
    return root / "shop"


@pytest.fixture
def shop(template: Path, tmp_path: Path) -> Path:
    app = tmp_path / "shop"
    shutil.copytree(template, app)
    return app


def toml(app: Path) -> dict[str, object]:
    return tomllib.loads((app / "rainmaker.toml").read_text(encoding="utf-8"))


# -- add ------------------------------------------------------------------------------------


def test_add_writes_the_table_keeps_comments_and_checks(shop: Path) -> None:
    before = (shop / "rainmaker.toml").read_text(encoding="utf-8")
    result = rainmaker("add", "cache-memory", "--app", str(shop))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "added [patterns.cache]" in result.stdout
    assert "instances valid" in result.stdout  # check ran and passed
    text = (shop / "rainmaker.toml").read_text(encoding="utf-8")
    # Every comment line of the file survives, and the one introducing the profiles still
    # sits right above [profiles.production.app], after the new table.
    for line in before.splitlines():
        if line.startswith("#"):
            assert line in text
    assert '[patterns.cache]\nuse = "cache-memory"\n\n# Production overrides' in text
    assert toml(shop)["patterns"]["cache"] == {"use": "cache-memory"}  # type: ignore[index]
    assert "# --- cache ---" in (shop / ".env.example").read_text(encoding="utf-8")
    assert rainmaker("check", "--app", str(shop)).returncode == 0


def test_add_writes_required_settings_as_variables_into_env_example(shop: Path) -> None:
    result = rainmaker("add", "email-console", "--as", "mail", "--app", str(shop))
    # The new variable is not set here: check says so, and exit 2 tells a script.
    assert result.returncode == 2, result.stdout + result.stderr
    assert "added [patterns.mail]" in result.stdout
    assert "set MAIL_DEFAULT_SENDER" in result.stdout
    assert "MAIL_DEFAULT_SENDER is not set" in result.stderr
    assert toml(shop)["patterns"]["mail"] == {  # type: ignore[index]
        "use": "email-console",
        "default_sender": "${MAIL_DEFAULT_SENDER}",
    }
    env_example = (shop / ".env.example").read_text(encoding="utf-8")
    assert "\nMAIL_DEFAULT_SENDER=\n" in env_example
    assert "# --- mail ---" in env_example
    ok = rainmaker("check", "--app", str(shop), env={"MAIL_DEFAULT_SENDER": "a@b.example"})
    assert ok.returncode == 0, ok.stderr


def test_add_auth_without_a_database_names_the_providers(shop: Path) -> None:
    # The app's own hello pattern requires Database too: removing db needs --force.
    removed = rainmaker("remove", "db", "--force", "--app", str(shop))
    assert "removed [patterns.db]" in removed.stdout, removed.stdout + removed.stderr
    result = rainmaker("add", "auth-jwt", "--app", str(shop), env={"AUTH_SECRET": "s" * 40})
    assert result.returncode == 2, result.stdout + result.stderr
    assert "added [patterns.auth]" in result.stdout
    assert toml(shop)["patterns"]["auth"] == {  # type: ignore[index]
        "use": "auth-jwt",
        "secret": "${AUTH_SECRET}",
    }
    assert "requires Database, but no instance provides it" in result.stderr
    assert "database-sqlite" in result.stderr and "database-postgres" in result.stderr
    assert "Traceback" not in result.stderr


def test_add_refuses_a_name_clash_and_suggests_as(shop: Path) -> None:
    before = (shop / "rainmaker.toml").read_text(encoding="utf-8")
    result = rainmaker("add", "database-postgres", "--app", str(shop), "--as", "db")
    assert result.returncode == 2
    assert "an instance named 'db' is already in the composition" in result.stderr
    assert "--as database_postgres" in result.stderr
    assert (shop / "rainmaker.toml").read_text(encoding="utf-8") == before


def test_add_an_unknown_id_names_the_closest_installed(shop: Path) -> None:
    result = rainmaker("add", "cache-memry", "--app", str(shop))
    assert result.returncode == 2
    assert "no installed pattern 'cache-memry'" in result.stderr
    assert "did you mean 'cache-memory'" in result.stderr
    assert "--index" in result.stderr


def test_add_without_a_composition_says_where_it_looked(tmp_path: Path) -> None:
    result = rainmaker("add", "cache-memory", "--app", str(tmp_path))
    assert result.returncode == 2
    assert "no composition file at" in result.stderr


# -- remove ---------------------------------------------------------------------------------


def test_remove_takes_the_instance_and_its_profile_tables_out(shop: Path) -> None:
    result = rainmaker("remove", "db", "--force", "--app", str(shop))
    # Removed; then check reports what the app's hello pattern now lacks.
    assert result.returncode == 2, result.stdout + result.stderr
    assert "hello requires Database from db: has no provider now" in result.stdout
    assert "[patterns.db] and [profiles.production.patterns.db]" in result.stdout
    data = toml(shop)
    assert "db" not in data["patterns"]  # type: ignore[operator]
    assert data["profiles"] == {"production": {"app": {"log_format": "json"}}}
    text = (shop / "rainmaker.toml").read_text(encoding="utf-8")
    assert "# Production overrides go in profiles" in text
    assert "# --- db ---" not in (shop / ".env.example").read_text(encoding="utf-8")


def test_remove_refuses_while_others_require_it_unless_forced(shop: Path) -> None:
    added = rainmaker("add", "auth-jwt", "--app", str(shop), env={"AUTH_SECRET": "s" * 40})
    assert added.returncode == 0, added.stdout + added.stderr
    before = (shop / "rainmaker.toml").read_text(encoding="utf-8")
    refused = rainmaker("remove", "db", "--app", str(shop))
    assert refused.returncode == 2
    assert "auth requires Database from db" in refused.stderr
    assert "--force" in refused.stderr
    assert (shop / "rainmaker.toml").read_text(encoding="utf-8") == before

    forced = rainmaker("remove", "db", "--force", "--app", str(shop), env={"AUTH_SECRET": "s" * 40})
    assert forced.returncode == 2  # removed, and check now reports the missing provider
    assert "removed [patterns.db]" in forced.stdout
    assert "auth requires Database from db: has no provider now" in forced.stdout
    assert "requires Database, but no instance provides it" in forced.stderr
    assert "db" not in toml(shop)["patterns"]  # type: ignore[operator]


def test_remove_an_unknown_instance_suggests_one(shop: Path) -> None:
    result = rainmaker("remove", "dashbord", "--app", str(shop))
    assert result.returncode == 2
    assert "no instance 'dashbord'" in result.stderr
    assert "did you mean 'dashboard'" in result.stderr


# -- an index -------------------------------------------------------------------------------

GREETER = """\
from pydantic import Field

from rainmaker import Module, Pattern, Settings


class GreeterSettings(Settings):
    greeting: str = Field(description="What the greeter says.")


class GreeterModule(Module[GreeterSettings]):
    pass


greeter = Pattern(
    id="greeter", version="1.0.0", name="Greeter", settings=GreeterSettings,
    factory=GreeterModule, examples=[{"greeting": "hi"}],
)
"""


def _wheel(folder: Path, dist: str, version: str, files: dict[str, str], entry_points: str) -> None:
    """A minimal wheel, the way a build backend lays one out."""
    stem = f"{dist.replace('-', '_')}-{version}"
    info = f"{stem}.dist-info"
    contents = {
        **files,
        f"{info}/METADATA": f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\n",
        f"{info}/WHEEL": "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\n"
        "Tag: py3-none-any\n",
    }
    if entry_points:
        contents[f"{info}/entry_points.txt"] = entry_points
    record = []
    for name, text in contents.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=")
        record.append(f"{name},sha256={digest.decode()},{len(text.encode())}")
    record.append(f"{info}/RECORD,,")
    project = folder / "simple" / dist
    project.mkdir(parents=True)
    wheel = project / f"{stem}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        for name, text in contents.items():
            archive.writestr(name, text)
        archive.writestr(f"{info}/RECORD", "\n".join(record) + "\n")
    (project / "index.html").write_text(
        f'<html><body><a href="{html.escape(wheel.name)}">{wheel.name}</a></body></html>\n'
    )


def _root_page(folder: Path) -> None:
    projects = sorted(p.name for p in (folder / "simple").iterdir() if p.is_dir())
    links = "".join(f'<a href="{p}/">{p}</a><br>' for p in projects)
    (folder / "simple" / "index.html").write_text(f"<html><body>{links}</body></html>\n")


@pytest.fixture
def index(tmp_path: Path) -> Path:
    """A folder index: a pattern package, one with a manifest beside it, and a library."""
    from rainmaker.testing.manifest import Manifest, PatternManifest, Provided, Required

    folder = tmp_path / "index"
    _wheel(
        folder,
        "rm-greeter",
        "1.0.0",
        {"rm_greeter/__init__.py": GREETER},
        "[rainmaker.patterns]\ngreeter = rm_greeter:greeter\n",
    )
    _wheel(folder, "rm-library", "2.0.0", {"rm_library/__init__.py": ""}, "")
    _wheel(
        folder,
        "rm-ledger",
        "1.2.0",
        {"rm_ledger/__init__.py": ""},
        "[rainmaker.patterns]\nledger = rm_ledger:ledger\n",
    )
    manifest = Manifest(
        "rm-ledger",
        "1.2.0",
        {
            "ledger": PatternManifest(
                version="1.2.0",
                settings={"type": "object"},
                provides=(Provided("Ledger", "1.0"),),
                requires=(Required("Database"),),
            )
        },
    )
    (folder / "simple" / "rm-ledger" / "rm_ledger-1.2.0.pattern-manifest.json").write_text(
        manifest.to_json()
    )
    _root_page(folder)
    return folder


def test_patterns_available_lists_pattern_distributions_only(index: Path) -> None:
    result = rainmaker("patterns", "--available", "--index", str(index))
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    greeter = next(line for line in lines if "greeter" in line)
    assert "rm-greeter 1.0.0" in greeter  # from the wheel's entry_points.txt
    ledger = next(line for line in lines if "ledger" in line)
    assert "rm-ledger 1.2.0" in ledger and "Ledger 1.0" in ledger and "Database" in ledger
    assert "rm-library" not in result.stdout  # declares no pattern
    # The same through a file:// URL of the simple index.
    as_url = rainmaker("patterns", "--available", "--index", (index / "simple").as_uri())
    assert as_url.returncode == 0 and "rm-greeter 1.0.0" in as_url.stdout


def test_patterns_available_needs_an_index() -> None:
    result = rainmaker("patterns", "--available")
    assert result.returncode == 2
    assert "--available needs --index" in result.stderr
    missing = rainmaker("patterns", "--available", "--index", "/nonexistent/index")
    assert missing.returncode == 2
    assert "no index folder" in missing.stderr


def test_add_installs_from_an_index_then_adds(shop: Path, index: Path, tmp_path: Path) -> None:
    target = tmp_path / "site"
    target.mkdir()
    env = {
        "PIP_TARGET": str(target),
        "PYTHONPATH": str(target),
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
        "RAINMAKER_INDEX": str(index),  # the configured index, as an environment variable
    }
    result = rainmaker("add", "greeter", "--app", str(shop), env=env)
    assert "installed rm-greeter==1.0.0" in result.stdout, result.stdout + result.stderr
    assert "added [patterns.greeter]" in result.stdout
    assert toml(shop)["patterns"]["greeter"] == {  # type: ignore[index]
        "use": "greeter",
        "greeting": "${GREETER_GREETING}",
    }
    assert result.returncode == 2  # GREETER_GREETING is not set yet
    ok = rainmaker("check", "--app", str(shop), env={**env, "GREETER_GREETING": "hi"})
    assert ok.returncode == 0, ok.stderr

    unknown = rainmaker("add", "gretter", "--app", str(shop), env=env)
    assert unknown.returncode == 2
    assert "did you mean 'greeter'" in unknown.stderr
