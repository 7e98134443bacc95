"""The OpenAPI and docs routes are matched after the patterns' routes only when no path can
reach both, so the order never changes which route answers (route_order)."""

from __future__ import annotations

from typing import Any

from starlette.routing import BaseRoute, Mount, Route

from rainmaker.cli.run import http_module
from rainmaker.patterns.http.route_order import framework_routes_last
from tests.patterns.http.conftest import MakeApp
from tests.patterns.http.test_include_router import _load


async def _endpoint(_request: Any) -> None:
    return None


def _routes(*paths: str) -> list[BaseRoute]:
    return [
        Mount(path[:-2], routes=[]) if path.endswith("/*") else Route(path, _endpoint)
        for path in paths
    ]


FRAMEWORK = ("/openapi.json", "/docs", "/docs/oauth2-redirect", "/docs/{name}")


def test_moved_behind_routes_no_path_shares() -> None:
    routes = _routes(*FRAMEWORK, "/items/{item_id}", "/health", "/documents", "/doc")
    assert framework_routes_last(routes, len(FRAMEWORK))
    assert [route.path for route in routes] == [  # type: ignore[attr-defined]
        "/items/{item_id}",
        "/health",
        "/documents",
        "/doc",
        *FRAMEWORK,
    ]


def test_kept_in_front_when_a_path_could_match_both() -> None:
    for pattern_path in (
        "/{slug}",
        "/docs/{page}",
        "/docs/search",
        "/openapi.json",
        "/do{x}",
        "/docs/*",
        "/*",
    ):
        routes = _routes(*FRAMEWORK, "/items/{item_id}", pattern_path)
        before = list(routes)
        assert not framework_routes_last(routes, len(FRAMEWORK)), pattern_path
        assert routes == before


def test_the_composed_app_serves_its_routes_then_the_docs(make_app: MakeApp) -> None:
    composed = http_module(_load(make_app())).compose()
    paths = [getattr(route, "path", None) for route in composed.fastapi.router.routes]
    assert paths[-4:] == list(FRAMEWORK)
    assert paths.index("/health/ready") < paths.index("/openapi.json")


async def test_docs_and_openapi_still_answer(serve: Any) -> None:
    client = await serve()
    assert (await client.get("/openapi.json")).status_code == 200
    assert (await client.get("/docs")).status_code == 200
    assert (await client.get("/health/live")).status_code == 200
    assert (await client.post("/openapi.json")).status_code == 405
