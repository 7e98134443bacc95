"""Process metrics in /metrics: prometheus_client's collectors in the app's own registry,
plus the asyncio task count and the event-loop lag."""

from __future__ import annotations

import asyncio
import platform
import sys
import time
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from rainmaker.kernel.application import Application
from rainmaker.patterns.observability.module import ObservabilityModule
from rainmaker.testing.harness import http_client
from tests.patterns.observability.conftest import composition, make_app


async def families(app: Application) -> dict[str, list[tuple[dict[str, str], float]]]:
    async with http_client(app) as client:
        response = await client.get("/metrics")
    assert response.status_code == 200
    found: dict[str, list[tuple[dict[str, str], float]]] = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            found.setdefault(sample.name, []).append((sample.labels, sample.value))
    return found


def only(found: dict[str, list[tuple[dict[str, str], float]]], name: str) -> float:
    (sample,) = found[name]
    return sample[1]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="ProcessCollector reads /proc")
async def test_memory_cpu_and_fds_of_this_process(app: Application) -> None:
    found = await families(app)
    rss = only(found, "process_resident_memory_bytes")
    assert 10 * 2**20 < rss < 64 * 2**30  # a Python process with FastAPI loaded
    assert only(found, "process_cpu_seconds_total") > 0
    assert only(found, "process_open_fds") >= 3
    assert only(found, "process_max_fds") >= only(found, "process_open_fds")


async def test_gc_collections_and_platform(app: Application) -> None:
    found = await families(app)
    generations = {labels["generation"] for labels, _ in found["python_gc_collections_total"]}
    assert generations == {"0", "1", "2"}
    ((info_labels, _),) = found["python_info"]
    assert info_labels["implementation"] == platform.python_implementation()
    assert info_labels["version"] == platform.python_version()


async def test_asyncio_tasks_are_counted_on_the_apps_loop(app: Application) -> None:
    before = only(await families(app), "obs_asyncio_tasks")
    release = asyncio.Event()
    parked = [asyncio.create_task(release.wait()) for _ in range(25)]
    try:
        during = only(await families(app), "obs_asyncio_tasks")
    finally:
        release.set()
        await asyncio.gather(*parked)
    assert during - before >= 25


async def test_event_loop_lag_sees_a_callback_that_blocks_the_loop(tmp_path: Path) -> None:
    application = make_app(tmp_path, composition(tmp_path, metrics={"loop_lag_interval": 0.02}))
    async with application.running():
        await asyncio.sleep(0.05)
        time.sleep(0.3)  # a handler that blocks the loop, as sync I/O in async code does
        await asyncio.sleep(0.05)
        found = await families(application)
    over = {
        labels["le"]: value for labels, value in found["obs_event_loop_lag_seconds_bucket"]
    }
    count = only(found, "obs_event_loop_lag_seconds_count")
    assert count >= 2
    assert over["0.25"] < count  # at least one sample landed above 250 ms
    assert only(found, "obs_event_loop_lag_seconds_sum") >= 0.25


async def test_the_lag_sampler_stops_with_the_app(tmp_path: Path) -> None:
    application = make_app(tmp_path, composition(tmp_path))
    async with application.running():
        module = application.instances["obs"].module
        assert isinstance(module, ObservabilityModule) and module.loop_lag is not None
        names = {task.get_name() for task in asyncio.all_tasks()}
        assert "rainmaker.observability.loop-lag" in names
    names = {task.get_name() for task in asyncio.all_tasks()}
    assert "rainmaker.observability.loop-lag" not in names


async def test_process_metrics_can_be_turned_off(tmp_path: Path) -> None:
    application = make_app(tmp_path, composition(tmp_path, metrics={"process": False}))
    async with application.running():
        found = await families(application)
    assert "obs_http_requests_total" in found or "obs_pattern_health" in found
    assert not any(name.startswith(("process_", "python_gc")) for name in found)
    assert "obs_asyncio_tasks" not in found


async def test_two_apps_in_one_process_each_have_process_metrics(tmp_path: Path) -> None:
    # Registered in each app's registry, never the global one: no duplicate-name error.
    first = make_app(tmp_path / "a", composition(tmp_path / "a"))
    second = make_app(tmp_path / "b", composition(tmp_path / "b"))
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    async with first.running(), second.running():
        assert "python_gc_collections_total" in await families(first)
        assert "python_gc_collections_total" in await families(second)


async def test_the_dashboard_shows_the_startup_timeline(tmp_path: Path) -> None:
    from rainmaker.testing.harness import build_app

    application = build_app(
        {
            "web": {"use": "framework-fastapi"},
            "db": {"use": "database-sqlite", "path": str(tmp_path / "app.db")},
            "dashboard": {"use": "dev-dashboard"},
            "obs": {"use": "observability"},
        },
        root=tmp_path,
    )
    # The dashboard answers loopback clients that name a loopback host.
    async with application.running(), http_client(application, base_url="http://localhost") as c:
        state = (await c.get("/_rainmaker/api/state")).json()
    (panel,) = [p for p in state["panels"] if p["title"] == "Startup timeline"]
    assert panel["instance"] == "obs"
    assert [row[0] for row in panel["rows"]] == application.order
    assert all(row[4] != "-" for row in panel["rows"])  # every instance's start time
    assert panel["note"].startswith("start took ")


async def test_the_dashboard_shows_the_runtime_figures(tmp_path: Path) -> None:
    from rainmaker.testing.harness import build_app

    token = "operator-token-0123456789-abcdefghijkl"
    application = build_app(
        {
            "web": {"use": "framework-fastapi"},
            "dashboard": {"use": "dev-dashboard"},
            "obs": {
                "use": "observability",
                "leak_watch": {"enabled": True, "interval": 3600},
                "operator": {"enabled": True, "token": token},
            },
        },
        root=tmp_path,
    )
    async with application.running(), http_client(application, base_url="http://localhost") as c:
        await asyncio.sleep(0)  # the lag sampler and the leak watch take their first sample
        changed = await c.put(
            "/_operator/loggers/rainmaker.web",
            json={"level": "warning"},
            headers={"authorization": f"Bearer {token}"},
        )
        assert changed.status_code == 200
        state = (await c.get("/_rainmaker/api/state")).json()
    (panel,) = [p for p in state["panels"] if p["title"] == "Runtime"]
    rows = dict(panel["rows"])
    assert rows["asyncio tasks"].isdigit() and int(rows["asyncio tasks"]) >= 1
    assert rows["GC collections"].isdigit()
    assert rows["leak watch"] == "no growth"
    assert rows["log levels changed at runtime"] == "rainmaker.web=warning"
    if sys.platform.startswith("linux"):
        assert rows["resident memory"].endswith(" MiB")
