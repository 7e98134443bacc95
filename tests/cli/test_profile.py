"""`rainmaker profile` through the installed console script: a route that burns CPU in an
app-local pattern is found and charged to that pattern's instance; every composed
instance is listed; the HTML and speedscope files are written; bad input exits 2."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

SCRIPT = Path(sys.executable).with_name("rainmaker")

BURNER = """
import time

from fastapi import APIRouter

from rainmaker import Module, Pattern, Settings

router = APIRouter()


def burn(seconds: float) -> None:
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        pass


@router.get("/burn")
async def burn_route() -> dict[str, str]:
    burn(0.004)  # CPU the profile must charge to this pattern's instance
    return {"burnt": "yes"}


class BurnerSettings(Settings):
    fail_start: bool = False


class BurnerModule(Module[BurnerSettings]):
    def router(self) -> APIRouter:
        return router

    async def start(self) -> None:
        if self.settings.fail_start:
            raise RuntimeError("the burner cannot start: asked to fail")


pattern = Pattern(
    id="burner", version="1.0.0", name="Burner", settings=BurnerSettings, factory=BurnerModule
)
"""


def write_app(root: Path, *, fail_start: bool = False) -> Path:
    (root / "burner.py").write_text(BURNER)
    (root / "rainmaker.toml").write_text(
        textwrap.dedent(
            f"""
            [app]
            name = "profiled"
            local_patterns = ["burner:pattern"]

            [patterns.web]
            use = "framework-fastapi"

            [patterns.db]
            use = "database-sqlite"
            path = "app.db"

            [patterns.furnace]
            use = "burner"
            fail_start = {"true" if fail_start else "false"}
            """
        )
    )
    return root


def rainmaker(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "200", "NO_COLOR": "1", "RAINMAKER_PROFILE": ""}
    return subprocess.run(
        [str(SCRIPT), *args], capture_output=True, text=True, cwd=cwd, env=env, timeout=180
    )


def table(stdout: str) -> dict[str, tuple[str, float, float]]:
    """owner -> (pattern, seconds, share) from the summary table."""
    rows = {}
    for line in stdout.splitlines():
        cells = [cell.strip() for cell in line.split("│")[1:-1]]
        if len(cells) == 4 and cells[3].endswith("%"):
            rows[cells[0]] = (cells[1], float(cells[2]), float(cells[3].rstrip("%")))
    return rows


def test_profile_charges_the_time_to_the_pattern_that_spends_it(tmp_path: Path) -> None:
    write_app(tmp_path)
    out = tmp_path / "out"
    result = rainmaker(
        "profile", "--requests", "100", "--route", "/burn", "--out", str(out), cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr + result.stdout
    assert "100 x GET /burn" in result.stdout
    assert "200: 100" in result.stdout
    rows = table(result.stdout)
    assert {"web", "db", "furnace"} <= set(rows)  # every composed instance is listed
    pattern, seconds, share = rows["furnace"]
    assert pattern == "burner"
    assert seconds >= 0.3  # 100 requests x 4 ms of CPU, minus sampling granularity
    assert share == max(row[2] for row in rows.values())
    html = (out / "profile.html").read_text()
    assert "<html" in html.lower() and "pyinstrument" in html.lower()
    speedscope = json.loads((out / "profile.speedscope.json").read_text())
    assert speedscope["$schema"].startswith("https://www.speedscope.app/")
    names = {frame["name"] for frame in speedscope["shared"]["frames"]}
    assert "burn" in names


def test_profile_for_some_seconds(tmp_path: Path) -> None:
    write_app(tmp_path)
    result = rainmaker(
        "profile", "--seconds", "0.5", "--route", "/health/live", "--out", "p", cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr + result.stdout
    # The load ran for the time asked (at least; a loaded machine adds to it).
    ran = re.search(r"GET /health/live in (\d+\.\d+)s", result.stdout)
    assert ran is not None, result.stdout
    assert float(ran.group(1)) >= 0.5
    assert (tmp_path / "p" / "profile.speedscope.json").exists()


def test_a_route_that_fails_is_reported(tmp_path: Path) -> None:
    write_app(tmp_path)
    result = rainmaker("profile", "--requests", "5", "--route", "/nowhere", cwd=tmp_path)
    assert result.returncode == 0
    assert "404: 5" in result.stdout
    assert "every request failed" in " ".join(result.stdout.split())


def test_a_composition_that_fails_to_start_exits_2_with_its_error(tmp_path: Path) -> None:
    write_app(tmp_path, fail_start=True)
    result = rainmaker("profile", "--requests", "5", cwd=tmp_path)
    assert result.returncode == 2
    output = " ".join((result.stderr + result.stdout).split())
    assert "furnace (burner) failed to start" in output
    assert "asked to fail" in output
    assert not (tmp_path / "profile").exists()


def test_an_invalid_composition_exits_2(tmp_path: Path) -> None:
    write_app(tmp_path)
    (tmp_path / "rainmaker.toml").write_text('[app]\nname = "x"\n[patterns.a]\nuse = "nosuch"\n')
    result = rainmaker("profile", "--requests", "5", cwd=tmp_path)
    assert result.returncode == 2
    assert "nosuch" in result.stderr + result.stdout


def test_requests_and_seconds_together_exit_2(tmp_path: Path) -> None:
    write_app(tmp_path)
    result = rainmaker("profile", "--requests", "5", "--seconds", "1", cwd=tmp_path)
    assert result.returncode == 2
    assert "not both" in result.stdout
