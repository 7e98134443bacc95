"""The composed app's OpenAPI document, made true for the clients generated from it.

FastAPI's generator describes what a handler returns on success; it knows nothing of the
problem+json errors our handlers answer, so left alone the document declares FastAPI's
``HTTPValidationError`` (``application/json``, an array ``detail``) for 422 and no other
error at all. :func:`build_openapi` starts from FastAPI's document
(:func:`fastapi.openapi.utils.get_openapi`) and, for each operation:

- declares the shared ``Problem`` schema (:class:`rainmaker.http.ProblemDetails`) as
  ``application/problem+json`` for each error it can return: 422 where it takes input,
  404 where its path has parameters, 400 and 413 where it takes a body (one that does not
  parse, one over the size limit), and what its dependencies
  declared with :func:`rainmaker.http.raises` (401/403 for the auth guards, 429 for rate
  limits, 503 for ``Inject``) or its decorator with :func:`rainmaker.http.responses`;
- keeps one tag (the instance's) and a unique operationId (see :func:`operation_id`);
- declares every path parameter, also those only a dependency reads (``{org}``);
- marks uploaded files ``format: binary`` (OpenAPI 3.0's spelling, which generators read,
  beside 3.1's ``contentMediaType``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute, RouteContext, iter_route_contexts
from starlette.routing import BaseRoute

from rainmaker.http.responses import (
    PROBLEM_JSON,
    PROBLEM_SCHEMA,
    ProblemDetails,
    dependency_errors,
    problem_response,
)

#: FastAPI's own validation models, replaced by ``Problem``.
FASTAPI_VALIDATION_SCHEMAS = ("HTTPValidationError", "ValidationError")
_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")


def operation_id(route: Any) -> str:
    """``<instance>_<handler name>``: short, stable and readable in a generated client.

    The instance is the route's first tag (``include_router`` puts it first); a handler
    name that already starts with it is not prefixed twice. FastAPI calls this for every
    route (``generate_unique_id_function``), so body schema names follow it too.
    """
    # ``route`` is an APIRoute, or FastAPI's context of one seen through include_router.
    name = re.sub(r"\W+", "_", str(route.name)).strip("_") or "operation"
    tags = getattr(route, "tags", None) or ()
    prefix = re.sub(r"\W+", "_", str(tags[0])).strip("_") if tags else ""
    if not prefix or name == prefix or name.startswith(f"{prefix}_"):
        return name
    return f"{prefix}_{name}"


def build_openapi(app: FastAPI) -> dict[str, Any]:
    """FastAPI's document for ``app``, completed as the module docstring says."""
    schema = get_openapi(
        title=app.title,
        version=app.version,
        openapi_version=app.openapi_version,
        summary=app.summary,
        description=app.description,
        routes=app.routes,
        tags=app.openapi_tags,
        servers=app.servers,
        separate_input_output_schemas=app.separate_input_output_schemas,
    )
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    _add_problem_schema(components)
    seen_ids: set[str] = set()
    for route in _api_routes(app.routes):
        path = schema.get("paths", {}).get(route.path_format or "")
        if path is None:
            continue
        for method in sorted(route.methods or ()):
            operation = path.get(method.lower())
            if operation is not None:
                _complete_operation(operation, route, seen_ids, method.lower())
    for name in FASTAPI_VALIDATION_SCHEMAS:
        components.pop(name, None)
    for model in components.values():
        _mark_binary(model)
    return schema


def install_openapi(app: FastAPI) -> None:
    """Serve :func:`build_openapi` as the app's document (built once, on first request)."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = build_openapi(app)
        return app.openapi_schema

    # FastAPI's documented way to extend the document ("Extending OpenAPI").
    app.openapi = openapi  # type: ignore[method-assign]


def _api_routes(routes: Sequence[BaseRoute]) -> Iterable[RouteContext]:
    # Included routers are contexts over the original routes (FastAPI >= 0.165): their
    # path, tags and dependant are the effective ones, prefix and router dependencies in.
    for context in iter_route_contexts(routes):
        if isinstance(context.original_route, APIRoute) and context.include_in_schema:
            yield context


def _add_problem_schema(components: dict[str, Any]) -> None:
    model = ProblemDetails.model_json_schema(ref_template="#/components/schemas/{model}")
    for name, definition in model.pop("$defs", {}).items():
        components.setdefault(name, definition)
    components[PROBLEM_SCHEMA] = model


def _complete_operation(
    operation: dict[str, Any], route: RouteContext, seen_ids: set[str], method: str
) -> None:
    tags = operation.get("tags")
    if tags:
        operation["tags"] = tags[:1]
    unique = operation.get("operationId") or operation_id(route)
    if unique in seen_ids:  # two handlers of one name in one instance: tell them apart
        unique = f"{unique}_{method}"
    seen_ids.add(unique)
    operation["operationId"] = unique
    _declare_path_parameters(operation, route.path_format or "")
    responses: dict[str, Any] = operation.setdefault("responses", {})
    dependant = route.dependant
    statuses = dependency_errors(dependant) if isinstance(dependant, Dependant) else set()
    if "{" in (route.path_format or ""):
        statuses.add(404)
    if "requestBody" in operation:
        statuses.update((400, 413))  # a body that does not parse; one over the size limit
    if "422" in responses or operation.get("parameters") or "requestBody" in operation:
        statuses.add(422)
    for code in sorted(statuses):
        responses.setdefault(str(code), problem_response(code))
    for status, response in responses.items():
        if status.isdigit() and int(status) >= 400 and not _has_own_model(response):
            declared = problem_response(int(status))
            declared["description"] = response.get("description") or declared["description"]
            declared.setdefault("headers", {}).update(response.get("headers", {}))
            if not declared["headers"]:
                del declared["headers"]
            responses[status] = declared


def _declare_path_parameters(operation: dict[str, Any], path: str) -> None:
    """Declare every ``{name}`` of the path, also those only a dependency reads.

    ``CurrentOrg`` reads ``{org}`` from the request, not from a handler parameter, so
    FastAPI leaves it out, and the document's path template would not match its
    parameters (generators then drop the operation).
    """
    parameters: list[dict[str, Any]] = operation.setdefault("parameters", [])
    declared = {p.get("name") for p in parameters if p.get("in") == "path"}
    for name in re.findall(r"{([^}:]+)(?::[^}]*)?}", path):
        if name not in declared:
            parameters.append(
                {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
            )
    if not parameters:
        del operation["parameters"]


def _has_own_model(response: dict[str, Any]) -> bool:
    """Whether an error response names a schema of its own (kept as the route said)."""
    content = response.get("content") or {}
    if PROBLEM_JSON in content:
        return True
    for media in content.values():
        schema = media.get("schema")
        if schema and schema.get("$ref", "").rsplit("/", 1)[-1] not in FASTAPI_VALIDATION_SCHEMAS:
            return True
    return False


def _mark_binary(node: Any) -> None:
    if isinstance(node, dict):
        if node.get("type") == "string" and node.get("contentMediaType") == (
            "application/octet-stream"
        ):
            node.setdefault("format", "binary")
        for value in node.values():
            _mark_binary(value)
    elif isinstance(node, list):
        for value in node:
            _mark_binary(value)


__all__ = ["build_openapi", "install_openapi", "operation_id"]
