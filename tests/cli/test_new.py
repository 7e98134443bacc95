"""`rainmaker new` gives an app that validates (and, with the HTTP pattern, serves)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.cli.test_commands import rainmaker


def test_new_app_checks_and_its_own_test_passes(tmp_path: Path) -> None:
    created = rainmaker("new", "demo", cwd=tmp_path)
    assert created.returncode == 0, created.stderr
    app = tmp_path / "demo"
    assert {p.name for p in app.iterdir()} >= {
        "rainmaker.toml",
        "README.md",
        ".env.example",
        "tests",
        "demo_hello.py",
    }
    assert "RAINMAKER__HELLO__GREETING" in (app / ".env.example").read_text()
    checked = rainmaker("check", "--app", "demo", cwd=tmp_path)
    assert checked.returncode == 0, checked.stderr
    before = rainmaker("plan", "--app", "demo", cwd=tmp_path)
    assert "database-sqlite on db: pending:" in before.stdout, before.stdout + before.stderr
    assert "GET    │ /hello" in before.stdout
    assert rainmaker("db", "upgrade", "--app", "demo", cwd=tmp_path).returncode == 0
    after = rainmaker("plan", "--app", "demo", cwd=tmp_path)
    assert "database-sqlite on db: up to date" in after.stdout
    tests = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(app / "tests")],
        capture_output=True,
        text=True,
        cwd=app,
        timeout=120,
    )
    assert tests.returncode == 0, tests.stdout + tests.stderr


def test_new_refuses_bad_name_and_non_empty_folder(tmp_path: Path) -> None:
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "file").write_text("x")
    result = rainmaker("new", "taken", cwd=tmp_path)
    assert result.returncode == 2
    assert "taken exists and is not empty" in result.stderr
    result = rainmaker("new", "Bad Name", cwd=tmp_path)
    assert result.returncode == 2
    assert "invalid app name 'Bad Name'" in result.stderr


def test_examples_starter_is_what_rainmaker_new_writes(tmp_path: Path) -> None:
    # examples/starter is checked in as `rainmaker new starter` output (make demo ran it
    # before the demo SaaS): keep the two from drifting apart.
    starter = Path(__file__).resolve().parents[2] / "examples" / "starter"
    created = rainmaker("new", "starter", "--dir", str(tmp_path / "starter"))
    assert created.returncode == 0, created.stderr
    written = {p.relative_to(tmp_path / "starter") for p in (tmp_path / "starter").rglob("*")}
    for relative in sorted(p for p in written if (tmp_path / "starter" / p).is_file()):
        assert (starter / relative).read_text() == (tmp_path / "starter" / relative).read_text(), (
            f"examples/starter/{relative} differs from `rainmaker new starter`; regenerate it"
        )
