"""The core install, in a fresh ``python3 -m venv``: no extras, as a user starting out has.

pytest loads rainmaker's plugin in every run where the distribution is installed, so the
plugin must not break pytest when the ``testing`` extra is absent: its async fixtures skip,
naming the extra. The console script must answer too, and name the extra a command needs.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


def run(*command: str | Path, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    return subprocess.run(
        [str(part) for part in command],
        capture_output=True,
        text=True,
        cwd=cwd,
        env={**env, "COLUMNS": "200", "NO_COLOR": "1"},
        timeout=600,
    )


@pytest.fixture(scope="module")
def core_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A venv with rainmaker (no extras) and bare pytest (no pytest-asyncio, no httpx)."""
    venv = tmp_path_factory.mktemp("core-venv")
    created = run(sys.executable, "-m", "venv", venv)
    assert created.returncode == 0, created.stderr
    pip = venv / "bin" / "pip"
    installed = run(pip, "install", "--quiet", ROOT, "pytest")
    assert installed.returncode == 0, installed.stdout + installed.stderr
    return venv


def test_pytest_runs_with_the_plugin_and_without_the_testing_extra(
    core_venv: Path, tmp_path: Path
) -> None:
    (tmp_path / "test_sample.py").write_text(
        "def test_plain():\n    assert 1 + 1 == 2\n\n"
        "def test_needs_the_harness(compose):\n    raise AssertionError('never runs')\n"
    )
    result = run(core_venv / "bin" / "python", "-m", "pytest", "-rs", "-p", "no:cacheprovider",
                 cwd=tmp_path)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "1 passed, 1 skipped" in output
    assert "needs pytest-asyncio" in output
    assert 'pip install "rainmaker-patterns[testing]"' in output
    plugins = run(core_venv / "bin" / "python", "-m", "pytest", "--trace-config", "--co", "-q",
                  cwd=tmp_path)
    assert "rainmaker.testing.plugin" in plugins.stdout, "the plugin was not loaded at all"


def test_the_console_script_works_and_names_missing_extras(
    core_venv: Path, tmp_path: Path
) -> None:
    script = core_venv / "bin" / "rainmaker"
    assert run(script, "--version").returncode == 0
    assert run(script, "patterns").returncode == 0
    (tmp_path / "rainmaker.toml").write_text(
        '[app]\nname = "bare"\n\n[patterns.web]\nuse = "framework-fastapi"\n'
    )
    served = run(script, "run", "--app", tmp_path)
    assert served.returncode == 1, served.stdout + served.stderr
    assert 'pip install "rainmaker-patterns[http]"' in served.stderr
    assert "Traceback" not in served.stderr
