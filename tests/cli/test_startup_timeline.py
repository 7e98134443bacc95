"""The startup timeline: measured by the kernel, shown by `plan --timings` and `run`.

A local pattern whose factory module sleeps while it is imported and whose ``start``
sleeps too makes the figures predictable enough to assert on: the timeline must name
that instance as the slowest, with at least the time it slept, in every place it shows.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from rainmaker.testing.harness import build_app

SCRIPT = Path(sys.executable).with_name("rainmaker")

PATTERN = """
from rainmaker import Pattern, Settings

class SlowSettings(Settings):
    pass

pattern = Pattern(
    id="slow", version="1.0.0", name="Slow", settings=SlowSettings,
    factory="{module}_module:SlowModule",
)
"""

MODULE = """
import asyncio
import time

import json as _json  # stdlib: never listed as a library the pattern pulled in

from rainmaker import Module

time.sleep(0.2)  # a heavy import, as a pattern pulling in a big library pays


class SlowModule(Module):
    async def start(self) -> None:
        await asyncio.sleep(0.1)

    async def stop(self) -> None:
        await asyncio.sleep(0.05)
"""


def write_app(root: Path, module: str) -> Path:
    (root / f"{module}.py").write_text(PATTERN.format(module=module))
    (root / f"{module}_module.py").write_text(MODULE)
    (root / "rainmaker.toml").write_text(
        textwrap.dedent(
            f"""
            [app]
            name = "timed"
            local_patterns = ["{module}:pattern"]
            log_format = "json"

            [patterns.web]
            use = "framework-fastapi"

            [patterns.db]
            use = "database-sqlite"
            path = "app.db"

            [patterns.slowpoke]
            use = "slow"
            """
        )
    )
    return root


def rainmaker(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "200", "NO_COLOR": "1"}
    return subprocess.run(
        [str(SCRIPT), *args], capture_output=True, text=True, cwd=cwd, env=env, timeout=120
    )


async def test_the_kernel_times_import_build_start_and_stop(tmp_path: Path) -> None:
    sys.path.insert(0, str(tmp_path))
    try:
        (tmp_path / "inproc_slow_module.py").write_text(MODULE)
        from rainmaker import Pattern, Settings

        pattern: Pattern[Settings] = Pattern(
            id="slow",
            version="1.0.0",
            name="Slow",
            settings=Settings,
            factory="inproc_slow_module:SlowModule",
        )
        app = build_app(
            {"web": {"use": "framework-fastapi"}, "slowpoke": {"use": "slow"}},
            root=tmp_path,
            extra_patterns=[pattern],
        )
        assert all(t.start_ms is None for t in app.timeline.instances)
        async with app.running():
            running = app.timeline
            view = app.instances["web"].module.ctx.app  # type: ignore[union-attr]
            assert view.timeline == running  # the same snapshot through ctx.app
        stopped = app.timeline
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop("inproc_slow_module", None)

    by_name = {t.instance: t for t in stopped.instances}
    assert set(by_name) == {"web", "slowpoke"}
    slow = by_name["slowpoke"]
    assert slow.factory_module == "inproc_slow_module"
    assert slow.import_ms >= 200
    assert slow.build_ms is not None and slow.build_ms < 200
    assert slow.start_ms is not None and slow.start_ms >= 100
    assert slow.stop_ms is not None and slow.stop_ms >= 50
    assert "json" not in slow.imported
    assert running.ready_ms is not None and running.ready_ms >= 100
    assert by_name["slowpoke"].stop_ms is not None and running.instances[1].stop_ms is None
    # Slowest first, by the figures recorded (on a loaded machine ``web`` may be slower).
    by_total = sorted(by_name, key=lambda name: by_name[name].total_ms, reverse=True)
    assert [t.instance for t in stopped.slowest(2)] == by_total
    imports = sorted(by_name, key=lambda name: by_name[name].import_ms, reverse=True)
    assert [t.instance for t in stopped.slowest_imports(2)] == [
        name for name in imports if by_name[name].import_ms > 0
    ]
    document = json.loads(json.dumps(stopped.as_dict()))
    assert document["slowest"][0] == by_total[0]
    assert "inproc_slow_module" in [i["module"] for i in document["slowest_imports"]]


async def test_a_second_start_records_new_start_figures(tmp_path: Path) -> None:
    app = build_app({"web": {"use": "framework-fastapi"}}, root=tmp_path)
    async with app.running():
        first = app.timeline
    async with app.running():
        second = app.timeline
    assert first.started_at is not None and second.started_at is not None
    assert second.started_at >= first.started_at
    assert second.instances[0].stop_ms is None  # the previous stop is forgotten at start


def test_plan_timings_starts_the_real_composition_and_lists_every_instance(
    tmp_path: Path,
) -> None:
    write_app(tmp_path, "plan_slow")
    result = rainmaker("plan", "--timings", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "Startup timeline (ms)" in result.stdout
    rows = {
        line.split("│")[1].strip(): [cell.strip() for cell in line.split("│")[2:-1]]
        for line in result.stdout.splitlines()
        if line.startswith("│")
        and line.split("│")[1].strip() in {"web", "db", "slowpoke"}
        and len(line.split("│")) > 8
    }
    assert set(rows) == {"web", "db", "slowpoke"}
    pattern, imported, _build, started, stopped, total, _libraries = rows["slowpoke"]
    assert pattern == "slow"
    assert float(imported) >= 200 and float(started) >= 100 and float(stopped) >= 50
    assert float(total) >= 300
    assert "sqlalchemy" in rows["db"][-1]  # the database pattern's import names its library
    summary = " ".join(result.stdout.split()).rpartition("slowest (import + build + start): ")[2]
    assert "slowpoke" in summary  # among the top three (the database import may be slower)


def test_plan_without_timings_starts_nothing(tmp_path: Path) -> None:
    write_app(tmp_path, "plan_quiet")
    result = rainmaker("plan", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "Startup timeline" not in result.stdout


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_run_logs_the_three_slowest_instances_when_ready(tmp_path: Path) -> None:
    write_app(tmp_path, "run_slow")
    port = free_port()
    env = {**os.environ, "NO_COLOR": "1"}
    process = subprocess.Popen(
        [str(SCRIPT), "run", "--port", str(port)],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    listening: dict[str, object] | None = None
    try:
        deadline = time.monotonic() + 60
        assert process.stdout is not None
        while time.monotonic() < deadline and listening is None:
            line = process.stdout.readline()
            if not line:
                break
            if '"server.listening"' in line:
                listening = json.loads(line)
    finally:
        process.terminate()
        process.wait(timeout=30)
    assert listening is not None, "no server.listening line"
    slowest = listening["slowest"]
    assert isinstance(slowest, list) and len(slowest) == 3
    assert any(str(entry).startswith("slowpoke ") for entry in slowest)
    assert float(str(listening["ready_ms"])) >= 100
