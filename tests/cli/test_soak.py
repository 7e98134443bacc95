"""`rainmaker soak` through the installed console script: a leak planted in an app-local
pattern (a list that grows per request) fails the soak and is named by its module; the
same app without the leak passes; failing requests are counted, never growth."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

SCRIPT = Path(sys.executable).with_name("rainmaker")

LEAKY = """
from fastapi import APIRouter

from rainmaker import Module, Pattern, Settings

router = APIRouter()
SEEN: list[bytes] = []  # the planted leak: never emptied


class LeakySettings(Settings):
    leak: bool = True
    fail: bool = False


@router.get("/remember")
async def remember() -> dict[str, int]:
    if SETTINGS.fail:
        raise RuntimeError("asked to fail")
    if SETTINGS.leak:
        SEEN.append(bytes(2048))  # 2 KiB kept per request: 20 MiB per 10k
    return {"kept": len(SEEN)}


SETTINGS = LeakySettings()


class LeakyModule(Module[LeakySettings]):
    def router(self) -> APIRouter:
        global SETTINGS
        SETTINGS = self.settings
        return router


pattern = Pattern(
    id="leaky", version="1.0.0", name="Leaky", settings=LeakySettings, factory=LeakyModule
)
"""


def write_app(root: Path, *, leak: bool, fail: bool = False) -> Path:
    (root / "leaky_pattern.py").write_text(LEAKY)
    (root / "rainmaker.toml").write_text(
        textwrap.dedent(
            f"""
            [app]
            name = "soaked"
            local_patterns = ["leaky_pattern:pattern"]

            [patterns.web]
            use = "framework-fastapi"

            [patterns.memory]
            use = "leaky"
            leak = {str(leak).lower()}
            fail = {str(fail).lower()}
            """
        )
    )
    return root


def rainmaker(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "220", "NO_COLOR": "1", "RAINMAKER_PROFILE": ""}
    return subprocess.run(
        [str(SCRIPT), *args], capture_output=True, text=True, cwd=cwd, env=env, timeout=300
    )


def flat(result: subprocess.CompletedProcess[str]) -> str:
    return " ".join((result.stdout + result.stderr).split())


def test_a_planted_leak_fails_the_soak_and_names_its_pattern_module(tmp_path: Path) -> None:
    write_app(tmp_path, leak=True)
    result = rainmaker("soak", "--requests", "1000", "--route", "/remember", cwd=tmp_path)
    output = flat(result)
    assert result.returncode == 1, output
    assert "✗ leak: traced memory grows" in output
    assert "most of it in memory (leaky) at" in output  # the instance of the leaky pattern...
    assert f"{tmp_path / 'leaky_pattern.py'}:" in output  # ...and its module and line
    # 2 KiB per request is 20,000 KiB per 10k; the per-10k figure says so.
    rows = [line for line in result.stdout.splitlines() if line.startswith("│ memory (leaky)")]
    assert rows, result.stdout
    figure = float(rows[0].split("│")[2].split()[0].replace(",", ""))
    assert 18_000 < figure < 26_000


def test_the_same_app_without_the_leak_passes(tmp_path: Path) -> None:
    write_app(tmp_path, leak=False)
    result = rainmaker("soak", "--requests", "1000", "--route", "/remember", cwd=tmp_path)
    assert result.returncode == 0, flat(result)
    assert "no growth over the thresholds" in result.stdout


def test_failing_requests_are_counted_not_measured(tmp_path: Path) -> None:
    write_app(tmp_path, leak=False, fail=True)
    result = rainmaker("soak", "--requests", "200", "--route", "/remember", cwd=tmp_path)
    output = flat(result)
    assert result.returncode == 1
    assert "500: 200" in output
    assert "no request succeeded" in output


def test_a_composition_that_fails_to_start_exits_2(tmp_path: Path) -> None:
    write_app(tmp_path, leak=False)
    toml = tmp_path / "rainmaker.toml"
    toml.write_text(
        toml.read_text() + '\n[patterns.db]\nuse = "database-postgres"\n'
        'url = "postgresql://nobody:x@127.0.0.1:1/none"\n'
    )
    result = rainmaker("soak", "--requests", "100", "--route", "/remember", cwd=tmp_path)
    assert result.returncode == 2, flat(result)
    assert "db (database-postgres)" in flat(result)
