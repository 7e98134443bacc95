"""Route templates as the request layer labels them: prefixes, one router under two
prefixes, mounts, routes added after the first requests (its templates are remembered)."""

from __future__ import annotations

from dataclasses import dataclass

import httpx
from fastapi import APIRouter, FastAPI
from opentelemetry.trace import Tracer
from prometheus_client import CollectorRegistry
from prometheus_client.exposition import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from rainmaker.patterns.observability.asgi import ObservabilityMiddleware
from rainmaker.patterns.observability.metrics import RequestMetrics


@dataclass
class Instruments:
    request_metrics: RequestMetrics | None
    tracer: Tracer | None = None


def counts(registry: CollectorRegistry) -> dict[str, float]:
    """Requests answered by route template."""
    found: dict[str, float] = {}
    for family in text_string_to_metric_families(generate_latest(registry).decode()):
        for sample in family.samples:
            if sample.name == "t_http_requests_total":
                route = sample.labels["route"]
                found[route] = found.get(route, 0) + sample.value
    return found


async def test_templates_carry_prefixes_and_mounts_and_follow_new_routes() -> None:
    items = APIRouter()

    @items.get("/items/{item_id}")
    async def item(item_id: int) -> dict[str, int]:
        return {"id": item_id}

    app = FastAPI()
    app.include_router(items, prefix="/v1")
    app.include_router(items, prefix="/v2")  # one router, two templates
    mounted = FastAPI()

    @mounted.get("/things/{thing_id}")
    async def thing(thing_id: int) -> dict[str, int]:
        return {"id": thing_id}

    app.mount("/sub", mounted)
    registry = CollectorRegistry()
    metrics = RequestMetrics(registry, namespace="t", buckets=[0.1, 1.0])
    layer = ObservabilityMiddleware(app, instruments=Instruments(metrics))
    transport = httpx.ASGITransport(app=layer)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        for path in ("/v1/items/1", "/v2/items/2", "/v1/items/3", "/sub/things/4") * 2:
            assert (await client.get(path)).status_code == 200
        assert (await client.get("/nowhere")).status_code == 404
        assert counts(registry) == {
            "/v1/items/{item_id}": 4,
            "/v2/items/{item_id}": 2,
            "/sub/things/{thing_id}": 2,
            "<unmatched>": 1,
        }
        # Routes added once requests were answered: the remembered templates follow.
        app.include_router(items, prefix="/v3")
        assert (await client.get("/v3/items/5")).status_code == 200
        assert (await client.get("/v1/items/6")).status_code == 200
    found = counts(registry)
    assert found["/v3/items/{item_id}"] == 1
    assert found["/v1/items/{item_id}"] == 5
