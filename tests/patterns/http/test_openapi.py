"""The composed app's OpenAPI document says what the server answers, errors included."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest

from rainmaker.http import ProblemDetails


@pytest.fixture
async def client(serve: Any) -> httpx.AsyncClient:
    result: httpx.AsyncClient = await serve()
    return result


@pytest.fixture
async def spec(client: httpx.AsyncClient) -> dict[str, Any]:
    answer = await client.get("/openapi.json")
    assert answer.status_code == 200
    document: dict[str, Any] = answer.json()
    return document


def problem_schema(response: dict[str, Any]) -> str:
    content = response["content"]
    assert list(content) == ["application/problem+json"], content
    ref: str = content["application/problem+json"]["schema"]["$ref"]
    return ref


async def test_422_is_the_shared_problem_not_fastapis_model(spec: dict[str, Any]) -> None:
    schemas = spec["components"]["schemas"]
    assert "HTTPValidationError" not in schemas and "ValidationError" not in schemas
    assert schemas["Problem"]["properties"]["detail"]["type"] == "string"
    assert "errors" in schemas["Problem"]["properties"]
    create = spec["paths"]["/api/items"]["post"]
    assert problem_schema(create["responses"]["422"]) == "#/components/schemas/Problem"
    assert "413" in create["responses"]  # it takes a body


async def test_path_parameters_declare_404(spec: dict[str, Any]) -> None:
    read = spec["paths"]["/api/items/{item_id}"]["get"]
    problem_schema(read["responses"]["404"])


async def test_short_operation_ids_and_one_tag(spec: dict[str, Any]) -> None:
    ids = []
    for path in spec["paths"].values():
        for operation in path.values():
            assert len(operation["tags"]) == 1
            ids.append(operation["operationId"])
    assert len(ids) == len(set(ids))
    assert spec["paths"]["/api/items/{item_id}"]["get"]["operationId"] == "items_get_item"
    assert all(re.fullmatch(r"[a-z][a-z0-9_]*", id_) for id_ in ids), ids


async def test_rate_limited_answer_matches_the_declared_problem(client: httpx.AsyncClient) -> None:
    answer = await client.get("/api/limited")
    problem = ProblemDetails.model_validate(answer.json())  # the schema the document declares
    assert problem.retry_after == 3 and answer.headers["retry-after"] == "3"


async def test_docs_page_loads_everything_from_this_server(client: httpx.AsyncClient) -> None:
    page = await client.get("/docs")
    assert page.status_code == 200
    csp = page.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "default-src 'none'" in csp
    assert "<script>" not in page.text  # no inline script: the CSP would block it
    urls = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert len(urls) >= 3
    for url in urls:
        assert url.startswith("/docs/"), url  # nothing from a CDN
        asset = await client.get(url)
        assert asset.status_code == 200, url
        assert len(asset.content) > 100
    script = await client.get("/docs/swagger-ui-bundle.js")
    assert "javascript" in script.headers["content-type"]
    redirect = await client.get("/docs/oauth2-redirect")
    assert redirect.status_code == 200 and 'src="oauth2-redirect.js"' in redirect.text
    assert (await client.get("/docs/oauth2-redirect.js")).status_code == 200
    assert (await client.get("/docs/index.html")).status_code == 404  # only what the page uses
