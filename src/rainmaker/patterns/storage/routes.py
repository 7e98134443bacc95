"""HTTP routes of the storage patterns, mounted under the instance's prefix (``/files``).

- ``POST <mount>`` (``routes = true``): multipart upload of the form field ``file``,
  streamed into storage; the key is the ``key`` query parameter, else
  ``<random>/<file name>``. Answers 201 with the object's metadata.
- ``GET <mount>/{key}``: streams the object. Public when ``routes = true``; with
  ``storage-local`` it also serves signed URLs (``expires`` + ``signature``), which are
  always checked when present.
- ``PUT <mount>/{key}`` (``storage-local``): the upload half of signed URLs; the body is
  the object.

Handlers read the request as a stream (``request.stream()``), never as a whole.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, StreamingResponse

from rainmaker import InvalidInputError, PatternError
from rainmaker.capabilities.storage import ObjectReader, ObjectStore
from rainmaker.http import binary_body, binary_response, responses
from rainmaker.patterns.storage.answers import StoredObject
from rainmaker.patterns.storage.errors import ObjectTooLargeError
from rainmaker.patterns.storage.keys import validate_key
from rainmaker.patterns.storage.multipart_upload import MultipartFile
from rainmaker.patterns.storage.policy import UploadPolicy
from rainmaker.patterns.storage.signing import UrlSigner

# Served objects are user content: never let a browser run them as part of the app.
_OBJECT_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "sandbox; default-src 'none'",
}

# The routes read their query and body themselves (streamed); the document says what.
SIGNED_QUERY = {
    "parameters": [
        {"name": name, "in": "query", "required": False, "schema": {"type": "string"}}
        for name in ("expires", "signature")
    ]
}
UPLOAD_FORM = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {"file": {"type": "string", "format": "binary"}},
                }
            }
        },
    }
}


def storage_router(
    store: Callable[[], ObjectStore],
    *,
    policy: UploadPolicy,
    public: bool,
    signer: Callable[[], UrlSigner] | None,
    pattern_id: str,
) -> APIRouter | None:
    """The router for one storage instance, or ``None`` when it has no routes.

    ``store`` and ``signer`` are looked up per request, because the HTTP pattern composes
    routers before (or while) the storage instance starts.
    """
    if not public and signer is None:
        return None
    router = APIRouter()

    def check_declared_size(request: Request) -> None:
        declared = request.headers.get("content-length")
        if declared and declared.isdigit():
            policy.check_size(int(declared))

    if public:

        @router.post(
            "",
            status_code=201,
            summary="Upload a file (multipart/form-data)",
            response_model=StoredObject,
            responses=responses(ObjectTooLargeError, 503),
            openapi_extra=UPLOAD_FORM,
        )
        async def upload(request: Request) -> JSONResponse:
            """Store the multipart ``file`` part, streamed, under ``?key=`` or a generated
            key; 413 past ``max_size``, 422 for a type the settings do not allow."""
            upload = MultipartFile(
                request.stream(), request.headers.get("content-type"), pattern_id=pattern_id
            )
            await upload.open()
            key = request.query_params.get("key") or _key_for(upload.filename)
            validate_key(key, pattern_id=pattern_id)
            info = await store().put(key, upload.chunks(), content_type=upload.content_type)
            location = f"{request.url.path.rstrip('/')}/{quote(key, safe='/')}"
            return JSONResponse(info.as_dict(), status_code=201, headers={"Location": location})

    @router.get(
        "/{key:path}",
        summary="Download an object (public, or by signed URL)",
        response_class=StreamingResponse,
        # octet-stream first, for generated clients (which read it as bytes); */* because
        # the object keeps the content type it was stored with.
        responses={
            **binary_response("application/octet-stream", "*/*"),
            **responses(401, 403, 503),
        },
        openapi_extra=SIGNED_QUERY,
    )
    async def download(key: str, request: Request) -> StreamingResponse:
        """Stream an object with its stored content type: public objects to anyone, the
        others with a valid signed URL (``expires`` and ``signature``)."""
        query = request.query_params
        signed = "signature" in query or "expires" in query
        if signer is not None and (signed or not public):
            signer().verify(
                "GET", key, expires=query.get("expires"), signature=query.get("signature")
            )
        elif signed:
            raise InvalidInputError(
                "this storage does not serve signed URLs itself",
                pattern_id=pattern_id,
                hint="use the URL signed_url() returned (it points at the S3 server)",
            )
        reader = await store().get(key)
        return _stream(reader)

    if signer is not None:

        @router.put(
            "/{key:path}",
            summary="Upload an object by signed URL",
            response_model=StoredObject,
            responses=responses(401, 403, ObjectTooLargeError, 503),
            openapi_extra={**binary_body(), **SIGNED_QUERY},  # any content type is kept
        )
        async def upload_signed(key: str, request: Request) -> JSONResponse:
            """Store the request body under ``key`` with a signed URL made for a PUT (and,
            if it was signed with one, exactly that content type)."""
            query = request.query_params
            bound = query.get("content_type")
            signer().verify(
                "PUT",
                key,
                expires=query.get("expires"),
                signature=query.get("signature"),
                content_type=bound,
            )
            sent = request.headers.get("content-type")
            if bound and _essence(sent) != _essence(bound):
                raise InvalidInputError(
                    f"this signed URL uploads {bound!r}, but the request sent "
                    f"{(sent or 'no content type')!r}",
                    pattern_id=pattern_id,
                    hint=f"send Content-Type: {bound}",
                )
            check_declared_size(request)
            info = await store().put(key, request.stream(), content_type=bound or sent)
            return JSONResponse(info.as_dict())

    return router


def _essence(content_type: str | None) -> str:
    return (content_type or "").split(";", 1)[0].strip().lower()


def _key_for(filename: str | None) -> str:
    """``<random>/<file name>``: unique, and keeps the name a browser will save under."""
    base = uuid.uuid4().hex
    name = (filename or "").replace("\\", "/").rsplit("/", 1)[-1].strip()
    try:
        validate_key(name)
    except PatternError:
        return base
    return f"{base}/{name}"


def _stream(reader: ObjectReader) -> StreamingResponse:
    info = reader.info

    async def body() -> AsyncIterator[bytes]:
        async with reader:
            async for chunk in reader:
                yield chunk

    return StreamingResponse(
        body(),
        media_type=info.content_type,
        headers={"Content-Length": str(info.size), "ETag": f'"{info.etag}"', **_OBJECT_HEADERS},
    )
