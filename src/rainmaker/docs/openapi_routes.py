"""Routes as the app's OpenAPI document describes them, attributed to instances.

The HTTP framework tags every route with the instance that contributed it, so the
document tells which pattern serves what; its ``security`` entry says whether a route
needs credentials (the same convention as ``rainmaker routes``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rainmaker.kernel.application import Application

METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")


@dataclass(frozen=True)
class RouteDoc:
    """One operation of the OpenAPI document."""

    method: str
    path: str
    instance: str
    summary: str
    auth: bool


def openapi_document(application: Application) -> dict[str, Any] | None:
    """The app's OpenAPI document, or ``None`` when its HTTP framework cannot produce one.

    Builds and composes the modules (no I/O); raises the composition's errors.
    """
    module = application.http_module()
    compose = getattr(module, "compose", None)
    if compose is None:
        return None
    fastapi = getattr(compose(), "fastapi", None)
    document = fastapi.openapi() if fastapi is not None else None
    return document if isinstance(document, dict) else None


def openapi_routes(document: dict[str, Any]) -> list[RouteDoc]:
    """Every operation, sorted by path then method."""
    rows = []
    for path, operations in document.get("paths", {}).items():
        for method in METHODS:
            operation = operations.get(method)
            if not isinstance(operation, dict):
                continue
            tags = operation.get("tags") or ["?"]
            rows.append(
                RouteDoc(
                    method=method.upper(),
                    path=path,
                    instance=str(tags[0]),
                    summary=str(operation.get("summary") or operation.get("operationId") or ""),
                    auth=bool(operation.get("security")),
                )
            )
    return sorted(rows, key=lambda row: (row.path, METHODS.index(row.method.lower())))
