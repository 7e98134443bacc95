"""The leak watch through the real app: a route that keeps memory (or tasks) per request
turns the observability pattern's health degraded, naming the module that grew; steady
traffic does not; off by default."""

from __future__ import annotations

import asyncio
import sys
import tracemalloc
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from rainmaker import Pattern, Settings
from rainmaker.kernel.application import Application
from rainmaker.patterns.observability.module import ObservabilityModule
from rainmaker.testing.harness import build_app, http_client

LEAKY_MODULE = """
import asyncio

from fastapi import APIRouter

from rainmaker import Module

router = APIRouter()
KEPT: list[bytes] = []
PARKED: set[asyncio.Task[None]] = set()


@router.get("/keep")
async def keep() -> dict[str, int]:
    KEPT.append(bytes(4096))  # never released: the planted leak
    return {"kept": len(KEPT)}


@router.get("/park")
async def park() -> dict[str, int]:
    task = asyncio.create_task(asyncio.Event().wait())  # never finishes: a task leak
    PARKED.add(task)
    return {"parked": len(PARKED)}


@router.get("/steady")
async def steady() -> dict[str, int]:
    return {"n": len(bytes(4096))}


class LeakyModule(Module):
    def router(self) -> APIRouter:
        return router

    async def stop(self) -> None:
        for task in PARKED:
            task.cancel()
        PARKED.clear()
        KEPT.clear()
"""


@pytest.fixture
def leaky_pattern(tmp_path: Path) -> Iterator[Pattern[Settings]]:
    (tmp_path / "leaky_mod.py").write_text(LEAKY_MODULE)
    sys.path.insert(0, str(tmp_path))
    try:
        yield Pattern(
            id="leaky",
            version="1.0.0",
            name="Leaky",
            settings=Settings,
            factory="leaky_mod:LeakyModule",
        )
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop("leaky_mod", None)


def compose(root: Path, pattern: Pattern[Settings], **leak_watch: Any) -> Application:
    watch = {
        "enabled": True,
        "interval": 3600,
        "window": 3,
        "count_growth": 5,
        "rss_growth_mib": 512,
        "traced_growth_mib": 0.2,
        **leak_watch,
    }
    return build_app(
        {
            "web": {"use": "framework-fastapi"},
            "leaks": {"use": "leaky"},
            "obs": {"use": "observability", "leak_watch": watch},
        },
        root=root,
        extra_patterns=[pattern],
    )


def watch_of(app: Application) -> Any:
    module = app.instances["obs"].module
    assert isinstance(module, ObservabilityModule) and module.leak_watch is not None
    return module.leak_watch


async def drive(app: Application, path: str, rounds: int, per_round: int) -> None:
    """``rounds`` intervals of ``per_round`` requests, one sample after each."""
    watch = watch_of(app)
    async with http_client(app) as client:
        for _ in range(rounds):
            for _ in range(per_round):
                assert (await client.get(path)).status_code == 200
            watch.sample()


async def test_a_growing_module_turns_health_degraded_and_is_named(
    tmp_path: Path, leaky_pattern: Pattern[Settings], capsys: pytest.CaptureFixture[str]
) -> None:
    app = compose(tmp_path, leaky_pattern, tracemalloc_frames=1)
    async with app.running():
        await asyncio.sleep(0)  # the watch's first sample
        await drive(app, "/keep", rounds=4, per_round=100)  # 400 KiB per interval
        health = await app.instances["obs"].module.health()  # type: ignore[union-attr]
        assert health.status == "degraded"
        modules = health.details["leak_suspected"]["modules"]
        assert list(modules) == ["leaky_mod.py"]
        assert modules["leaky_mod.py"] > 3 * 100 * 4096
        assert "observability.leak_suspected" in capsys.readouterr().err
        report = await app.health()
        (obs,) = [row for row in report.instances if row.instance == "obs"]
        assert obs.status == "degraded"  # as /health reports it
    assert not tracemalloc.is_tracing()  # the watch stops what it started


async def test_leaked_tasks_are_noticed_without_tracemalloc(
    tmp_path: Path, leaky_pattern: Pattern[Settings]
) -> None:
    app = compose(tmp_path, leaky_pattern)
    async with app.running():
        await asyncio.sleep(0)
        await drive(app, "/park", rounds=4, per_round=10)
        health = await app.instances["obs"].module.health()  # type: ignore[union-attr]
        assert health.status == "degraded"
        tasks = health.details["leak_suspected"]["tasks"]
        assert tasks["to"] - tasks["from"] >= 30
        assert not tracemalloc.is_tracing()


async def test_steady_traffic_stays_up(tmp_path: Path, leaky_pattern: Pattern[Settings]) -> None:
    app = compose(tmp_path, leaky_pattern, tracemalloc_frames=1)
    async with app.running():
        await asyncio.sleep(0)
        await drive(app, "/steady", rounds=5, per_round=100)
        health = await app.instances["obs"].module.health()  # type: ignore[union-attr]
        assert health.status == "up", health.details


async def test_off_by_default(tmp_path: Path) -> None:
    app = build_app(
        {"web": {"use": "framework-fastapi"}, "obs": {"use": "observability"}}, root=tmp_path
    )
    async with app.running():
        module = app.instances["obs"].module
        assert isinstance(module, ObservabilityModule) and module.leak_watch is None
        names = {task.get_name() for task in asyncio.all_tasks()}
        assert "rainmaker.observability.leak-watch" not in names
