"""rainmaker.http's response declarations: errors by status or class, raises() on
dependencies, binary bodies and always-UTC timestamps."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI
from fastapi.routing import iter_route_contexts
from pydantic import BaseModel

from rainmaker import ConflictError, NotFoundError
from rainmaker.http import (
    PROBLEM_JSON,
    UtcTimestamp,
    binary_body,
    binary_response,
    raises,
    responses,
)
from rainmaker.http.responses import PROBLEM_REF, dependency_errors


def test_responses_take_statuses_and_error_classes() -> None:
    declared = responses(ConflictError, 429, NotFoundError)
    assert list(declared) == [404, 409, 429]
    assert declared[409]["content"][PROBLEM_JSON]["schema"] == {"$ref": PROBLEM_REF}
    assert "Retry-After" in declared[429]["headers"]


# Module level: FastAPI resolves these (string) annotations from the module's globals.
@raises(403)
async def guard() -> None: ...


async def outer(_: Annotated[None, Depends(guard)]) -> None: ...


def test_raises_marks_every_route_depending_on_it() -> None:
    router = APIRouter()

    @router.get("/x", dependencies=[Depends(outer)])
    async def handler() -> None: ...

    app = FastAPI()
    app.include_router(router)
    (context,) = [c for c in iter_route_contexts(app.routes) if c.path == "/x"]
    assert dependency_errors(context.dependant) == {403}


def test_binary_declarations() -> None:
    content = binary_response()[200]["content"]
    binary = {"schema": {"type": "string", "format": "binary"}}
    assert content == {"application/octet-stream": binary}
    assert binary_body("image/png")["requestBody"]["content"]["image/png"]["schema"]["format"] == (
        "binary"
    )


class Stamped(BaseModel):
    at: UtcTimestamp


def test_utc_timestamps_always_carry_their_offset() -> None:
    naive = Stamped(at=datetime(2026, 12, 1, 12, 0))  # what SQLite hands back
    assert naive.model_dump_json() == '{"at":"2026-12-01T12:00:00Z"}'
    paris = Stamped(at=datetime(2026, 12, 1, 14, 0, tzinfo=timezone(timedelta(hours=2))))
    assert paris.at == datetime(2026, 12, 1, 12, 0, tzinfo=UTC) and paris.at.tzinfo is UTC
