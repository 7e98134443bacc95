"""``rainmaker jobs …`` starts only the jobs backend and what it requires, through the
installed console script: an unrelated pattern whose start would fail, and the storage
pattern whose start warns, are never started."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(sys.executable).with_name("rainmaker")

TRIPWIRE = """
from rainmaker import Module, Pattern, Settings


class Tripwire(Module[Settings]):
    async def start(self) -> None:
        raise RuntimeError("tripwire started: a jobs command started the whole app")


pattern = Pattern(id="tripwire", version="1.0.0", name="Tripwire", settings=Settings,
                  factory=Tripwire)
"""


@pytest.fixture
def app(tmp_path: Path) -> Path:
    (tmp_path / "tripwire_pattern.py").write_text(TRIPWIRE)
    (tmp_path / "rainmaker.toml").write_text(
        '[app]\nname = "queues"\nlocal_patterns = ["tripwire_pattern:pattern"]\n\n'
        '[patterns.db]\nuse = "database-sqlite"\npath = "app.db"\n\n'
        '[patterns.jobs]\nuse = "jobs-local"\n\n'
        '[patterns.files]\nuse = "storage-local"\nroot = "files"\n\n'  # warns when started
        '[patterns.trip]\nuse = "tripwire"\n\n'
        '[patterns.web]\nuse = "framework-fastapi"\n'
    )
    return tmp_path


def rainmaker(*args: str, app: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(SCRIPT), *args, "--app", str(app)],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "NO_COLOR": "1", "COLUMNS": "200"},
    )


@pytest.mark.parametrize("command", [["stats", "--json"], ["failed", "--json"]])
def test_reading_the_queue_starts_only_jobs_and_its_database(
    app: Path, command: list[str]
) -> None:
    result = rainmaker("jobs", *command, app=app)
    assert result.returncode == 0, result.stderr
    assert "tripwire" not in result.stderr
    assert "storage" not in result.stderr  # storage-local's signing-key warning
    json.loads(result.stdout)
    assert (app / "app.db").exists()  # the database the jobs backend requires did start


def test_retrying_an_unknown_job_is_a_clean_error(app: Path) -> None:
    result = rainmaker("jobs", "retry", "no-such-id", app=app)
    assert "tripwire" not in result.stderr and "Traceback" not in result.stderr
    assert result.returncode == 1  # a runtime failure, as the README documents
    assert "no failed job with id" in result.stderr
