"""``rainmaker db`` against a SQLite app with two dependent local patterns."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from rainmaker.cli.main import app as cli

LOCAL = (
    '["tests.patterns.database.dbtest_patterns.ledger:pattern", '
    '"tests.patterns.database.dbtest_patterns.audit:pattern"]'
)


@pytest.fixture
def app_folder(tmp_path: Path) -> Path:
    (tmp_path / "rainmaker.toml").write_text(
        f'[app]\nname = "acme"\nlocal_patterns = {LOCAL}\n\n'
        '[patterns.db]\nuse = "database-sqlite"\npath = "acme.db"\n\n'
        '[patterns.audit]\nuse = "audit"\n\n'
        '[patterns.ledger]\nuse = "ledger"\n'
    )
    return tmp_path


def run(*args: str) -> str:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False, env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    return result.output


def rows(output: str) -> dict[str, str]:
    """pattern id -> its table row."""
    found = {}
    for line in output.splitlines():
        cells = [c.strip() for c in line.split("│") if c.strip()]
        if len(cells) >= 6:
            found[cells[1]] = " ".join(cells[3:])
    return found


def test_status_upgrade_downgrade_show_every_pattern(app_folder: Path) -> None:
    app = str(app_folder)
    before = rows(run("db", "status", "--app", app))
    assert list(before) == ["database-sqlite", "ledger", "audit"]
    assert all(row.startswith("base") and "behind" in row for row in before.values())

    upgraded = run("db", "upgrade", "--app", app)
    assert upgraded.index("ledger") < upgraded.index("audit")
    after = rows(run("db", "status", "--app", app))
    assert after["ledger"] == "l002 l002 up to date"
    assert after["audit"] == "a001 a001 up to date"

    run("db", "downgrade", "--pattern", "ledger", "l001", "--app", app)
    assert rows(run("db", "status", "--app", app))["ledger"] == "l001 l002 behind"
    assert "ledger" in run("db", "upgrade", "--pattern", "ledger", "--app", app)
    assert "up to date" in run("db", "upgrade", "--app", app)


def test_unknown_pattern_names_the_known_ones(app_folder: Path) -> None:
    result = CliRunner().invoke(
        cli, ["db", "downgrade", "--pattern", "nope", "base", "--app", str(app_folder)]
    )
    assert result.exit_code != 0
    assert "ledger" in str(result.exception) or "ledger" in result.output
