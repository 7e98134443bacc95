"""The `rainmaker` command end to end, in a subprocess: output, exit codes, no tracebacks."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

FAKES_APP = """
[app]
name = "acme"
local_patterns = ["acme_patterns:store", "acme_patterns:user"]

[patterns.users]
use = "acme-user"

[patterns.db]
use = "acme-store"
password = "${DB_PASSWORD:-hunter2-very-secret}"

[profiles.production.patterns.db]
path = "/srv/prod.db"
"""

PATTERNS = """
from pydantic import Field, SecretStr
from rainmaker import Capability, Module, Pattern, Settings

class Store: ...
StoreCap = Capability("Store", Store)

class StoreSettings(Settings):
    path: str = Field("store.db", description="Where data lives.")
    password: SecretStr = Field(SecretStr(""), description="Password.")

class StoreModule(Module[StoreSettings]):
    async def start(self):
        self.ctx.services.register(StoreCap, Store())

store = Pattern(id="acme-store", version="1.0.0", name="Store", settings=StoreSettings,
                factory=StoreModule, provides=[StoreCap])
user = Pattern(id="acme-user", version="1.0.0", name="User", settings=Settings,
               factory=Module, requires=[StoreCap])
"""


def rainmaker(
    *args: str, cwd: Path | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, "COLUMNS": "200", "NO_COLOR": "1", **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "rainmaker", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=full_env,
        timeout=60,
    )


@pytest.fixture
def app_dir(tmp_path: Path) -> Path:
    (tmp_path / "rainmaker.toml").write_text(FAKES_APP)
    (tmp_path / "acme_patterns.py").write_text(PATTERNS)
    return tmp_path


def test_check_valid_app(app_dir: Path) -> None:
    result = rainmaker("check", "--app", str(app_dir))
    assert result.returncode == 0, result.stderr
    assert "2 instances valid" in result.stdout
    assert "db → users" in result.stdout


def test_invalid_composition_exits_2_with_every_problem_and_no_traceback(app_dir: Path) -> None:
    toml = app_dir / "rainmaker.toml"
    toml.write_text(toml.read_text().replace('use = "acme-store"', 'use = "acme-stor"\npth = 1'))
    result = rainmaker("check", "--app", str(app_dir), "--set", "users.colour=red")
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert "unknown pattern 'acme-stor'" in result.stderr
    assert "did you mean 'acme-store'" in result.stderr
    assert "users.colour: unknown setting 'colour'" in result.stderr


def test_malformed_toml_exit_2(tmp_path: Path) -> None:
    (tmp_path / "rainmaker.toml").write_text('[app]\nname = "x\n')
    result = rainmaker("check", "--app", str(tmp_path))
    assert result.returncode == 2
    assert "line 2" in result.stderr and "Traceback" not in result.stderr


def test_missing_composition_exit_2(tmp_path: Path) -> None:
    result = rainmaker("plan", "--app", str(tmp_path))
    assert result.returncode == 2
    assert "no composition file" in result.stderr


def test_config_show_redacts_secrets_and_names_layers(app_dir: Path) -> None:
    result = rainmaker(
        "config",
        "show",
        "--json",
        "--app",
        str(app_dir),
        "--profile",
        "production",
        env={"RAINMAKER__DB__PASSWORD": "from-env-secret"},
    )
    assert result.returncode == 0, result.stderr
    rows = {(r["instance"], r["key"]): r for r in json.loads(result.stdout)}
    assert rows[("db", "path")] == {
        "instance": "db",
        "key": "path",
        "value": '"/srv/prod.db"',
        "source": "profile production",
    }
    assert rows[("db", "password")]["value"] == "********"
    assert rows[("db", "password")]["source"] == "env RAINMAKER__DB__PASSWORD"
    assert "from-env-secret" not in result.stdout and "hunter2" not in result.stdout


def test_graph_formats(app_dir: Path) -> None:
    mermaid = rainmaker("graph", "--app", str(app_dir), "--format", "mermaid")
    assert "users -->|Store| db" in mermaid.stdout
    dot = rainmaker("graph", "--app", str(app_dir), "--format", "dot")
    assert '"users" -> "db" [label="Store"];' in dot.stdout
    text = rainmaker("graph", "--app", str(app_dir))
    assert "requires Store from db" in text.stdout


def test_plan_lists_order_and_environment(app_dir: Path) -> None:
    result = rainmaker("plan", "--app", str(app_dir))
    assert result.returncode == 0, result.stderr
    assert "Instances, in start order" in result.stdout
    assert "DB_PASSWORD: unset, default" in result.stdout


def test_lock_then_drift(app_dir: Path) -> None:
    assert rainmaker("lock", "--app", str(app_dir)).returncode == 0
    lock = json.loads((app_dir / "rainmaker.lock").read_text())
    assert set(lock["patterns"]) == {"acme-store", "acme-user"}
    assert lock["patterns"]["acme-store"]["settings_schema"].startswith("sha256:")
    assert rainmaker("check", "--app", str(app_dir)).returncode == 0
    patterns = app_dir / "acme_patterns.py"
    patterns.write_text(
        patterns.read_text().replace(
            'store = Pattern(id="acme-store", version="1.0.0"',
            'store = Pattern(id="acme-store", version="1.1.0"',
        )
    )
    result = rainmaker("check", "--app", str(app_dir))
    assert result.returncode == 2
    assert "acme-store is locked at 1.0.0 but 1.1.0 is installed" in result.stderr


def test_patterns_and_pattern_info() -> None:
    listing = rainmaker("patterns")
    assert listing.returncode == 0, listing.stderr
    info = rainmaker("pattern", "info", "nope-nope")
    assert info.returncode == 2
    assert "no installed pattern 'nope-nope'" in info.stderr
