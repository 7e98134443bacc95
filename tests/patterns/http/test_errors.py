"""Every error class is answered as RFC 9457 problem+json, without leaking internals."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

PROBLEM_KEYS = {"type", "title", "status", "detail", "code", "pattern", "request_id"}


def assert_problem(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    assert PROBLEM_KEYS <= set(body)
    assert body["status"] == status
    assert body["code"] == code
    assert body["type"] == f"urn:rainmaker:problem:{code}"
    assert body["request_id"] == response.headers["x-request-id"]
    return body


@pytest.fixture
async def client(serve: Any) -> httpx.AsyncClient:
    result: httpx.AsyncClient = await serve()
    return result


async def test_validation_error_names_the_failing_fields(client: httpx.AsyncClient) -> None:
    response = await client.post("/api/items", json={"name": "", "price": "free"})
    body = assert_problem(response, 422, "validation_failed")
    fields = {error["field"] for error in body["errors"]}
    assert fields == {"body.name", "body.price"}
    assert "body.name" in body["detail"] and body["pattern"] == "items"
    assert "free" not in response.text  # the rejected input is not echoed


async def test_path_parameter_of_wrong_type_is_422(client: httpx.AsyncClient) -> None:
    body = assert_problem(await client.get("/api/items/abc"), 422, "validation_failed")
    assert body["errors"][0]["field"] == "path.item_id"


async def test_malformed_json_is_422_not_500(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/api/items", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert_problem(response, 422, "validation_failed")


async def test_unknown_route_is_404(client: httpx.AsyncClient) -> None:
    body = assert_problem(await client.get("/nowhere"), 404, "not_found")
    assert body["detail"] == "No route matches /nowhere"
    assert body["pattern"] == "http"


async def test_wrong_method_is_405_with_allow(client: httpx.AsyncClient) -> None:
    response = await client.delete("/api/items/1")
    body = assert_problem(response, 405, "method_not_allowed")
    assert response.headers["allow"] == "GET"
    assert "DELETE" in body["detail"]


async def test_declared_oversized_body_is_413(client: httpx.AsyncClient) -> None:
    response = await client.post("/api/echo", content=b"x" * (1_048_576 + 1))
    body = assert_problem(response, 413, "body_too_large")
    assert "1048576" in body["detail"]


async def test_chunked_oversized_body_is_413(client: httpx.AsyncClient) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(20):
            yield b"y" * 65_536

    response = await client.post("/api/echo", content=chunks())
    assert_problem(response, 413, "body_too_large")


async def test_body_limit_is_configurable(serve: Any) -> None:
    client = await serve(http="max_body_size = 10")
    assert (await client.post("/api/echo", content=b"0123456789")).json() == {"size": 10}
    assert_problem(await client.post("/api/echo", content=b"0123456789a"), 413, "body_too_large")


async def test_pattern_error_maps_by_code(client: httpx.AsyncClient) -> None:
    body = assert_problem(await client.get("/api/missing/widget"), 404, "not_found")
    assert body["detail"] == "no item named widget"
    assert body["pattern"] == "items"
    assert body["title"] == "Not found"


async def test_pattern_error_headers_reach_the_answer(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/expired")
    body = assert_problem(response, 401, "unauthorized")
    assert body["detail"] == "the token has expired"
    assert response.headers["WWW-Authenticate"] == 'Bearer error="invalid_token"'


async def test_rate_limited_adds_retry_after(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/limited")
    body = assert_problem(response, 429, "rate_limited")
    assert response.headers["retry-after"] == "3"
    assert body["retry_after"] == 3


async def test_server_side_pattern_error_hides_its_message(client: Any) -> None:
    body = assert_problem(await client.get("/api/unavailable"), 503, "unavailable")
    assert "10.0.0.5" not in body["detail"]
    log = client.logs.getvalue()
    assert "10.0.0.5" in log  # but the log has it,
    line = next(json.loads(x) for x in log.splitlines() if '"http.pattern_error"' in x)
    assert line["level"] == "warning"  # as an expected outage: no traceback
    assert "exception" not in line


async def test_public_unavailable_error_keeps_its_message_and_hint(client: Any) -> None:
    body = assert_problem(await client.get("/api/unavailable-public"), 503, "unavailable")
    assert body["detail"] == "exports need a storage pattern"
    assert body["hint"] == "compose storage-local"


async def test_client_error_carries_its_hint(client: Any) -> None:
    body = assert_problem(await client.get("/api/conflict"), 409, "conflict")
    assert body["detail"] == "the name is taken" and body["hint"] == "pick another name"


async def test_server_side_error_shows_no_hint(client: Any) -> None:
    body = assert_problem(await client.get("/api/unavailable"), 503, "unavailable")
    assert "hint" not in body


async def test_405_allow_lists_every_route_of_the_path(client: Any) -> None:
    response = await client.delete("/api/pair/a")
    body = assert_problem(response, 405, "method_not_allowed")
    assert response.headers["allow"] == "GET, PUT"
    assert "allowed: GET, PUT" in body["detail"]


async def test_unhandled_exception_is_500_without_internals(client: Any) -> None:
    response = await client.get("/api/boom")
    body = assert_problem(response, 500, "internal_error")
    assert "hunter2" not in response.text and "Traceback" not in response.text
    assert body["pattern"] == "items"
    log = client.logs.getvalue()
    assert "RuntimeError: database password is hunter2" in log  # full error in the log
    assert body["request_id"] in log


async def test_exception_in_middleware_is_500_problem(client: Any) -> None:
    response = await client.get("/api/middleware-bug")
    assert_problem(response, 500, "internal_error")
    assert "deadbeef" not in response.text
    assert "deadbeef" in client.logs.getvalue()
