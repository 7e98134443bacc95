"""What a route answers besides success, declared cheaply so the API description is true.

Every error the HTTP layer sends is one RFC 9457 ``application/problem+json`` object,
:class:`ProblemDetails`; the composed app's OpenAPI document declares it (as the component
``Problem``) for each error an operation can return. Routes declare their errors in two
ways, and the document builder of the HTTP pattern reads both:

- from the dependencies they use: a dependency marked with :func:`raises` (the auth guards
  here are: 401 for a credential, 403 for roles/scopes, 429 for ``rate_limit``, 503 for
  ``Inject``) adds its errors to every route that depends on it, directly or not;
- with :func:`responses` in the decorator, for the errors the handler raises itself::

      @router.post("/projects", responses=responses(ConflictError, 402))

A download declares its body with :func:`binary_response` (``format: binary``, so a
generated client reads bytes, not JSON text). Path parameters imply 404 and request
input implies 422 on their own.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Annotated, Any, TypeVar

from fastapi.dependencies.models import Dependant
from pydantic import AfterValidator, BaseModel, Field

from rainmaker.kernel.errors import PatternError

PROBLEM_JSON = "application/problem+json"
PROBLEM_SCHEMA = "Problem"
"""The component name of :class:`ProblemDetails` in the OpenAPI document."""
PROBLEM_REF = f"#/components/schemas/{PROBLEM_SCHEMA}"
ERRORS_ATTRIBUTE = "__rainmaker_errors__"
"""Where :func:`raises` records a dependency's statuses (read by :func:`dependency_errors`)."""

ErrorSpec = int | type[PatternError]
"""A status code, or a :class:`PatternError` subclass standing for its ``status``."""

T = TypeVar("T")


def as_utc(moment: datetime) -> datetime:
    """``moment`` as aware UTC; a naive value is UTC already (what the tables store)."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


UtcTimestamp = Annotated[datetime, AfterValidator(as_utc)]
"""A response model's timestamp: always answered with its UTC offset, whatever the
database handed back (SQLite drops it)."""


class FieldProblem(BaseModel):
    """One rejected part of a request (a member of a 422 problem's ``errors``)."""

    field: str = Field(description="The dotted location, e.g. 'body.email'.")
    location: list[str] = Field(description="The location as its parts.")
    message: str
    type: str = Field(description="The validator's stable error type, e.g. 'missing'.")


class ProblemDetails(BaseModel):
    """An RFC 9457 problem details object: the body of every error answer.

    ``code`` is stable and machine readable; ``detail`` and ``hint`` are for people.
    Unexpected server errors carry a generic ``detail`` and the ``request_id`` to quote.
    """

    type: str = Field(description="A URI naming the problem type (ends with the code).")
    title: str
    status: int = Field(ge=100, le=599)
    detail: str
    code: str = Field(description="Stable, machine-readable error code.")
    pattern: str | None = Field(None, description="The pattern instance the error is from.")
    request_id: str | None = Field(None, description="Quote it when reporting the error.")
    hint: str | None = Field(None, description="How to fix it, when the server knows.")
    errors: list[FieldProblem] | None = Field(
        None, description="Every rejected part of the request (validation problems only)."
    )
    retry_after: int | None = Field(
        None, ge=0, description="Seconds to wait before retrying (also the Retry-After header)."
    )


def status_of(spec: ErrorSpec) -> int:
    """The HTTP status an :data:`ErrorSpec` stands for."""
    if isinstance(spec, int):
        return spec
    if isinstance(spec, type) and issubclass(spec, PatternError):
        return int(spec.status)
    raise TypeError(f"expected a status code or a PatternError subclass, got {spec!r}")


def raises(*errors: ErrorSpec) -> Callable[[T], T]:
    """Mark a dependency (a function or a class) with the errors it can answer.

    Every route depending on it, however deep, declares those errors in the OpenAPI
    document, so app and pattern dependencies get the same treatment as the built-in
    guards.
    """
    statuses = tuple(status_of(error) for error in errors)

    def mark(call: T) -> T:
        setattr(call, ERRORS_ATTRIBUTE, (*getattr(call, ERRORS_ATTRIBUTE, ()), *statuses))
        return call

    return mark


def dependency_errors(dependant: Dependant) -> set[int]:
    """The statuses the dependencies of ``dependant`` declared with :func:`raises`."""
    return {status for call in _calls(dependant) for status in getattr(call, ERRORS_ATTRIBUTE, ())}


def _calls(dependant: Dependant) -> Iterator[object]:
    for sub in dependant.dependencies:
        if sub.call is not None:
            yield sub.call
        yield from _calls(sub)


def problem_response(status: int, description: str | None = None) -> dict[str, Any]:
    """The OpenAPI response object of a problem answer with ``status``."""
    response: dict[str, Any] = {
        "description": description or _describe(status),
        "content": {PROBLEM_JSON: {"schema": {"$ref": PROBLEM_REF}}},
    }
    if status in (429, 503):
        response["headers"] = {
            "Retry-After": {
                "description": "Seconds to wait before retrying.",
                "schema": {"type": "integer", "minimum": 0},
            }
        }
    return response


def responses(*errors: ErrorSpec) -> dict[int | str, dict[str, Any]]:
    """``responses=`` for a route decorator: the problem answers the handler itself raises.

    ``errors`` are status codes or :class:`PatternError` subclasses (their ``status``).
    """
    return {status: problem_response(status) for status in sorted(map(status_of, errors))}


BINARY_SCHEMA: dict[str, Any] = {"type": "string", "format": "binary"}


def binary_response(
    *media_types: str, description: str = "The file's bytes."
) -> dict[int | str, dict[str, Any]]:
    """``responses=`` for a route answering raw bytes (a download) with status 200.

    ``media_types`` default to ``application/octet-stream``; add ``"*/*"`` when the body
    keeps the content type it was stored with.
    """
    return {
        200: {
            "description": description,
            "content": {
                media: {"schema": dict(BINARY_SCHEMA)}
                for media in media_types or ("application/octet-stream",)
            },
        }
    }


def binary_body(*media_types: str) -> dict[str, Any]:
    """``openapi_extra=`` for a route reading its raw request body (an upload) itself."""
    return {
        "requestBody": {
            "required": True,
            "content": {
                media: {"schema": dict(BINARY_SCHEMA)}
                for media in media_types or ("application/octet-stream",)
            },
        }
    }


_DESCRIPTIONS = {
    400: "The request is malformed.",
    401: "No valid credential was sent.",
    402: "A paid plan is required.",
    403: "The credential does not allow this.",
    404: "Nothing exists here (or it is not yours).",
    409: "The request conflicts with the current state.",
    410: "It existed but is gone.",
    413: "The request body is too large.",
    415: "The request body's media type is not accepted.",
    422: "The request failed validation; `errors` lists every problem.",
    429: "Too many requests; retry after `Retry-After` seconds.",
    503: "A service this route needs is unavailable; retry later.",
}


def _describe(status: int) -> str:
    return _DESCRIPTIONS.get(status, "An error, as problem details.")
