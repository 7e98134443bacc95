"""/metrics after real requests: counters by route template, histograms, health, pool,
cache hit ratio, queue depth and job outcomes; every app has its own registry."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

from rainmaker.capabilities.jobs import Jobs
from rainmaker.kernel.application import Application
from rainmaker.patterns.jobs.module import JobsModule
from rainmaker.patterns.observability.module import ObservabilityModule
from rainmaker.testing.harness import http_client
from tests.patterns.observability.conftest import SECRET, composition, make_app

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def parse(text: str) -> Samples:
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float | None:
    return samples.get((name, frozenset(labels.items())))


async def scrape(app: Application) -> tuple[str, Samples]:
    async with http_client(app) as client:
        response = await client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return response.text, parse(response.text)


async def test_requests_are_counted_by_route_template_and_status(app: Application) -> None:
    async with http_client(app) as client:
        for item in (1, 2, 1):
            assert (await client.get(f"/items/{item}")).status_code == 200
        assert (await client.get("/items/404")).status_code == 404
        assert (await client.get("/no/such/route")).status_code == 404
    _, samples = await scrape(app)
    total = "obs_http_requests_total"
    assert value(samples, total, method="GET", route="/items/{item_id}", status="200") == 3
    assert value(samples, total, method="GET", route="/items/{item_id}", status="404") == 1
    assert value(samples, total, method="GET", route="<unmatched>", status="404") == 1
    # The raw path never becomes a label.
    assert not any(
        dict(labels).get("route", "").startswith("/items/1") for _, labels in samples
    )


async def test_latency_histogram_has_buckets_and_counts(app: Application) -> None:
    async with http_client(app) as client:
        for item in range(5):
            await client.get(f"/items/{item}")
    _, samples = await scrape(app)
    name = "obs_http_request_duration_seconds"
    labels = {"method": "GET", "route": "/items/{item_id}"}
    assert value(samples, f"{name}_count", **labels) == 5
    assert value(samples, f"{name}_bucket", **labels, le="+Inf") == 5
    buckets = sorted(
        (float(dict(found)["le"]), v)
        for (n, found), v in samples.items()
        if n == f"{name}_bucket" and dict(found).get("route") == "/items/{item_id}"
    )
    assert len(buckets) == 14  # 13 configured bounds and +Inf
    counts = [count for _, count in buckets]
    assert counts == sorted(counts)  # cumulative
    assert (value(samples, f"{name}_sum", **labels) or 0) > 0


async def test_health_gauge_per_instance(app: Application) -> None:
    _, samples = await scrape(app)
    for instance, pattern in [
        ("web", "framework-fastapi"),
        ("db", "database-sqlite"),
        ("cache", "cache-memory"),
        ("jobs", "jobs-local"),
        ("obs", "observability"),
    ]:
        # A state set: one series per state, 1 on the current one.
        series = {"instance": instance, "pattern": pattern}
        assert value(samples, "obs_pattern_health", **series, obs_pattern_health="up") == 1
        assert value(samples, "obs_pattern_health", **series, obs_pattern_health="down") == 0


async def test_health_gauge_follows_degraded_and_down(app: Application) -> None:
    from rainmaker.kernel.health import Health

    cache = app.instances["cache"].module
    jobs = app.instances["jobs"].module
    assert cache is not None and jobs is not None

    async def degraded() -> Health:
        return Health.degraded(reason="test")

    async def hangs() -> Health:
        await asyncio.sleep(30)
        raise AssertionError("not reached")

    cache.health = degraded  # type: ignore[method-assign]
    jobs.health = hangs  # type: ignore[method-assign]
    obs = app.instances["obs"].module
    assert isinstance(obs, ObservabilityModule)
    object.__setattr__(obs.settings.metrics, "health_timeout", 0.05)
    _, samples = await scrape(app)
    health = "obs_pattern_health"
    cache_series = {"instance": "cache", "pattern": "cache-memory"}
    assert value(samples, health, **cache_series, obs_pattern_health="degraded") == 1
    assert value(samples, health, **cache_series, obs_pattern_health="up") == 0
    jobs_series = {"instance": "jobs", "pattern": "jobs-local"}
    assert value(samples, health, **jobs_series, obs_pattern_health="down") == 1


async def test_database_pool_usage(app: Application) -> None:
    name = "obs_database_pool_connections"
    _, samples = await scrape(app)
    in_use = value(samples, name, instance="db", state="in_use")
    opened = value(samples, name, instance="db", state="open")
    # Other health checks (jobs) share the pool during the scrape, so only bounds hold.
    assert in_use is not None and opened is not None
    assert 0 <= in_use <= opened
    assert opened >= 1


async def test_cache_hits_and_misses(app: Application) -> None:
    async with http_client(app) as client:
        await client.get("/items/7")  # miss, then stored
        await client.get("/items/7")  # hit
        await client.get("/items/7")  # hit
        await client.get("/items/8")  # miss
    _, samples = await scrape(app)
    assert value(samples, "obs_cache_hits_total", instance="cache") == 2
    assert value(samples, "obs_cache_misses_total", instance="cache") == 2
    # No ratio gauge: PromQL derives it from the two counters.
    assert not any(name == "obs_cache_hit_ratio" for name, _ in samples)


async def test_queue_depth_and_job_outcomes(app: Application) -> None:
    async with http_client(app) as client:
        for fail in (False, False, True):
            response = await client.post("/items/1/jobs", params={"fail": fail})
            assert response.status_code == 200
        _, samples = await scrape(app)
        depth = value(
            samples, "obs_jobs_queue_depth", instance="jobs", queue="default", state="waiting"
        )
        assert depth == 3

        module = app.instances["jobs"].module
        assert isinstance(module, JobsModule)
        worker = asyncio.create_task(module.work())
        try:
            async with asyncio.timeout(20):
                while True:
                    _, samples = await scrape(app)
                    done = [
                        value(samples, "obs_jobs_outcomes_total", instance="jobs", outcome=o)
                        for o in ("succeeded", "dead_lettered")
                    ]
                    if done == [2, 1]:
                        break
                    await asyncio.sleep(0.05)
        finally:
            module.stop_working()
            await worker
        # Scraped again once the worker is done: a scrape reads the backlog before the
        # outcome counters, so one racing the last acknowledgement may see both counted.
        _, samples = await scrape(app)
    assert value(
        samples, "obs_jobs_queue_depth", instance="jobs", queue="default", state="waiting"
    ) == 0
    assert value(samples, "obs_jobs_dead_letters", instance="jobs") == 1
    assert value(samples, "obs_jobs_outcomes_total", instance="jobs", outcome="retried") == 0
    jobs_service: Any = app.services.require(Jobs)
    assert len(await jobs_service.failed()) == 1


async def test_secrets_never_reach_metrics(app: Application) -> None:
    async with http_client(app) as client:
        await client.get(f"/items/{SECRET}")  # 422: not an int, yet its path is secret
        await client.get(f"/{SECRET}")
    text, _ = await scrape(app)
    assert SECRET not in text


async def test_each_app_has_its_own_registry(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    first = make_app(tmp_path / "a", composition(tmp_path / "a"))
    second = make_app(tmp_path / "b", composition(tmp_path / "b"))
    async with first.running(), second.running():
        async with http_client(first) as client:
            await client.get("/items/1")
        _, one = await scrape(first)
        _, two = await scrape(second)
    labels = {"method": "GET", "route": "/items/{item_id}", "status": "200"}
    assert value(one, "obs_http_requests_total", **labels) == 1
    assert value(two, "obs_http_requests_total", **labels) is None
    assert REGISTRY.get_sample_value("obs_http_requests_total", labels) is None


async def test_loopback_access_hides_metrics_from_others(tmp_path: Path) -> None:
    app = make_app(tmp_path, composition(tmp_path, metrics={"access": "loopback"}))
    async with app.running():
        async with http_client(app) as client:  # ASGITransport's client is 127.0.0.1
            assert (await client.get("/metrics")).status_code == 200
        import httpx

        transport = httpx.ASGITransport(app=app, client=("10.1.2.3", 1234))
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            assert (await client.get("/metrics")).status_code == 404


async def test_metrics_off_serves_nothing_and_adds_no_layer(tmp_path: Path) -> None:
    app = make_app(tmp_path, composition(tmp_path, metrics={"enabled": False}))
    async with app.running():
        async with http_client(app) as client:
            assert (await client.get("/metrics")).status_code == 404
        web = app.instances["web"].module
        health = await web.health() if web is not None else None
        assert health is not None and "observability" not in health.details["middleware"]


async def test_middleware_runs_just_outside_the_edge(app: Application) -> None:
    web = app.instances["web"].module
    assert web is not None
    layers = (await web.health()).details["middleware"]
    assert layers.index("observability") + 1 == layers.index("edge")
