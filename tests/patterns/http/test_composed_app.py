"""The composed app in-process: mounting, request ids, headers, health, OpenAPI, lifespans."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

import rainmaker
from tests.patterns.http.conftest import MakeApp, events_of


async def test_routes_are_mounted_under_the_pattern_default_prefix(serve: Any) -> None:
    client = await serve()
    response = await client.get("/api/items/7")
    assert response.status_code == 200
    assert response.json()["id"] == 7


async def test_mount_overrides_the_prefix_per_instance(serve: Any) -> None:
    client = await serve(items='mount = "/v2"')
    assert (await client.get("/v2/items/7")).status_code == 200
    assert (await client.get("/api/items/7")).status_code == 404


async def test_two_instances_on_one_path_is_a_composition_error(make_app: MakeApp) -> None:
    app = rainmaker.load(make_app(extra='[patterns.more]\nuse = "items"\n'))
    duplicate = r"GET /api/items/\{item_id\} is served by both"
    with pytest.raises(rainmaker.StartupError, match=duplicate):
        await app.start()
    assert app.state == "failed"


async def test_request_id_is_generated_echoed_and_bound_to_logs(serve: Any) -> None:
    client = await serve()
    response = await client.get("/api/logs")
    request_id = response.headers["x-request-id"]
    assert len(request_id) == 32
    lines = [json.loads(line) for line in client.logs.getvalue().splitlines() if line]
    events = {line["event"]: line for line in lines if line.get("request_id") == request_id}
    assert {"items.listed", "http.request"} <= set(events)
    assert events["http.request"]["status"] == 200


async def test_well_formed_request_id_is_honoured(serve: Any) -> None:
    client = await serve()
    response = await client.get("/api/items/1", headers={"X-Request-ID": "trace-42.a:b"})
    assert response.headers["x-request-id"] == "trace-42.a:b"
    assert response.json()["request_id"] == "trace-42.a:b"  # request.state.request_id


@pytest.mark.parametrize("bad", ["has space", "x" * 129, "<script>", "-leading"])
async def test_malformed_request_id_is_replaced(serve: Any, bad: str) -> None:
    client = await serve()
    response = await client.get("/api/items/1", headers={"X-Request-ID": bad})
    assert response.headers["x-request-id"] != bad
    assert len(response.headers["x-request-id"]) == 32


async def test_security_headers_are_added(serve: Any) -> None:
    client = await serve(http="[patterns.http.security_headers]\nhsts_max_age = 600")
    headers = (await client.get("/api/items/1")).headers
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["x-frame-options"] == "DENY"
    assert headers["content-security-policy"].startswith("default-src 'none'")
    assert headers["strict-transport-security"].startswith("max-age=600")
    docs = await client.get("/docs")
    assert docs.status_code == 200 and "swagger" in docs.text.lower()
    # Served from the package, under a CSP of its own as strict as the dashboard's.
    assert "script-src 'self'" in docs.headers["content-security-policy"]


async def test_health_live_ready_and_detail(serve: Any) -> None:
    client = await serve()
    assert (await client.get("/health/live")).json() == {"status": "alive"}
    ready = await client.get("/health/ready")
    assert ready.status_code == 200 and ready.json()["status"] == "ready"
    detail = (await client.get("/health")).json()
    assert detail["patterns"]["items"]["details"] == {"items": 3}
    assert detail["patterns"]["http"]["pattern"] == "framework-fastapi"


async def test_readiness_is_503_while_a_pattern_is_down(serve: Any) -> None:
    client = await serve(items="down = true")
    ready = await client.get("/health/ready")
    assert ready.status_code == 503
    assert ready.json()["down"] == ["items"]
    assert (await client.get("/health/live")).status_code == 200
    assert (await client.get("/health")).status_code == 503


async def test_readiness_is_503_once_shutdown_begins(serve: Any) -> None:
    client = await serve()
    client.app.begin_shutdown()
    ready = await client.get("/health/ready")
    assert ready.status_code == 503
    assert ready.json() == {"status": "not_ready", "state": "draining"}
    assert (await client.get("/api/items/1")).status_code == 200  # still serving


async def test_health_detail_can_be_restricted(serve: Any) -> None:
    client = await serve(http='[patterns.http.health]\ndetail = "off"')
    assert (await client.get("/health")).status_code == 404
    assert (await client.get("/health/ready")).status_code == 200


async def test_health_detail_loopback_only(serve: Any) -> None:
    client = await serve(http='[patterns.http.health]\ndetail = "loopback"')
    # httpx's ASGITransport reports the client as 127.0.0.1.
    assert (await client.get("/health")).status_code == 200


async def test_openapi_tags_every_pattern_route(serve: Any) -> None:
    client = await serve()
    spec = (await client.get("/openapi.json")).json()
    assert spec["info"]["title"] == "httptest"
    assert spec["paths"]["/api/items/{item_id}"]["get"]["tags"] == ["items"]
    assert spec["paths"]["/health/ready"]["get"]["tags"] == ["http"]
    assert {tag["name"] for tag in spec["tags"]} == {"http", "items"}


async def test_cors_from_settings(serve: Any) -> None:
    client = await serve(http='[patterns.http.cors]\nallow_origins = ["https://app.example"]')
    preflight = await client.options(
        "/api/items",
        headers={"Origin": "https://app.example", "Access-Control-Request-Method": "POST"},
    )
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == "https://app.example"
    other = await client.get("/api/items/1", headers={"Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in other.headers


async def test_untrusted_host_is_400_problem(serve: Any) -> None:
    client = await serve(http='trusted_hosts = ["*.example.com", "api.test"]')
    assert (await client.get("/api/items/1", headers={"Host": "api.test:8000"})).status_code == 200
    assert (await client.get("/api/items/1", headers={"Host": "a.example.com"})).status_code == 200
    response = await client.get("/api/items/1", headers={"Host": "evil.test"})
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == "untrusted_host"


async def test_router_lifespans_and_startup_handlers_run(serve: Any) -> None:
    client = await serve()
    events = events_of(client.app)
    assert {"router-startup", "lifespan-start"} <= set(events)
    assert (await client.get("/api/state")).json() == {"greeting": "hello from lifespan"}
    await client.app.stop()
    assert {"router-shutdown", "lifespan-stop"} <= set(events)


async def test_middleware_follow_their_constraints(serve: Any) -> None:
    extra = (
        '[patterns.outer]\nuse = "items"\nmount = "/outer"\nmiddleware_name = "outer"\n'
        'middleware_before = ["inner"]\n\n'
        '[patterns.inner2]\nuse = "items"\nmount = "/inner2"\nmiddleware_name = "inner"\n'
        'middleware_after = ["request-id"]\n'
    )
    # "inner" is contributed after... and "items" (no name) contributes the "broken" layer.
    client = await serve(items='middleware_name = "first"\nmiddleware_after = ["inner"]',
                         extra=extra)
    response = await client.get("/api/items/1")
    # Response headers are appended on the way out: innermost layer first.
    assert response.headers.get_list("x-layer") == ["first", "inner", "outer"]


async def test_middleware_cycle_is_a_composition_error_naming_the_chain(
    make_app: MakeApp,
) -> None:
    extra = (
        '[patterns.b]\nuse = "items"\nmount = "/b"\nmiddleware_name = "b"\n'
        'middleware_before = ["a"]\n'
    )
    app = rainmaker.load(
        make_app(items='middleware_name = "a"\nmiddleware_before = ["b"]', extra=extra)
    )
    app.build()
    module: Any = app.instances["http"].module
    with pytest.raises(rainmaker.CompositionError) as caught:
        module.compose()
    problem = caught.value.problems[0]
    assert re.search(r"a -> b -> a|b -> a -> b", problem.message)
    assert problem.key == "middleware"
