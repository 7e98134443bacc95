"""The ``Storage`` capability: object storage addressed by keys, streamed both ways.

Providers store bytes under keys like ``avatars/42.png``: ``put`` takes ``bytes`` or an
async iterator of chunks and never needs the whole object in memory, ``get`` hands back an
:class:`ObjectReader` (an async iterator of chunks), ``list`` pages through a prefix with an
opaque cursor, and ``signed_url`` lets a browser download or upload one object directly
for a limited time. ``storage-local`` (a folder) and ``storage-s3`` (any S3-compatible
server) pass the same contract suite, :mod:`rainmaker.testing.contracts.storage`.

Errors every provider raises: :class:`~rainmaker.NotFoundError` for a missing key,
:class:`~rainmaker.InvalidInputError` for a bad key or a refused content type, an error with
status 413 for an object over the size limit, :class:`~rainmaker.UnavailableError` when the
backing server cannot be used.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from types import TracebackType
from typing import Literal, Protocol, runtime_checkable

from rainmaker.kernel.capability import Capability

Body = bytes | AsyncIterable[bytes]
"""What ``put`` accepts: the whole (small) object, or its chunks as they come."""

SignedMethod = Literal["GET", "PUT"]


@dataclass(frozen=True)
class ObjectInfo:
    """What a provider knows about a stored object.

    ``etag`` changes whenever the content changes (an MD5 hex digest for single-part
    writes; S3 multipart uploads have their own form); ``last_modified`` is timezone-aware.
    """

    key: str
    size: int
    content_type: str
    etag: str
    last_modified: datetime | None = None

    def as_dict(self) -> dict[str, object]:
        """JSON-friendly form (what the upload route answers)."""
        return {
            "key": self.key,
            "size": self.size,
            "content_type": self.content_type,
            "etag": self.etag,
            "last_modified": self.last_modified.isoformat() if self.last_modified else None,
        }


@dataclass(frozen=True)
class ObjectSummary:
    """An object as a listing shows it: S3 listings carry no content type (``head`` does)."""

    key: str
    size: int
    etag: str
    last_modified: datetime | None = None


@dataclass(frozen=True)
class ObjectPage:
    """One page of a listing: ``items`` in key order and the ``cursor`` of the next page
    (``None`` on the last page). Cursors are opaque: pass them back unchanged."""

    items: list[ObjectSummary]
    cursor: str | None


class ObjectReader(AsyncIterator[bytes]):
    """An open object: its :attr:`info` and its content as an async iterator of chunks.

    The provider has already checked that the object exists when it hands one out, so a
    missing key fails at ``await storage.get(key)``, not half-way through a response.
    Iterating to the end closes it; ``async with`` (or :meth:`aclose`) closes it early.
    """

    def __init__(
        self,
        info: ObjectInfo,
        chunks: AsyncIterator[bytes],
        close: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self.info = info
        self._chunks = chunks
        self._close = close
        self._closed = False

    def __aiter__(self) -> ObjectReader:
        return self

    async def __anext__(self) -> bytes:
        if self._closed:
            raise StopAsyncIteration
        try:
            return await self._chunks.__anext__()
        except StopAsyncIteration:
            await self.aclose()
            raise
        except BaseException:
            await self.aclose()
            raise

    async def read(self) -> bytes:
        """The whole remaining content; only for objects known to be small."""
        return b"".join([chunk async for chunk in self])

    async def aclose(self) -> None:
        """Release the file handle or connection behind the reader. Idempotent."""
        if self._closed:
            return
        self._closed = True
        aclose = getattr(self._chunks, "aclose", None)
        if aclose is not None:
            await aclose()
        if self._close is not None:
            await self._close()

    async def __aenter__(self) -> ObjectReader:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()


@runtime_checkable
class ObjectStore(Protocol):
    """Streamed object storage by key; what the ``Storage`` capability registers."""

    @property
    def instance(self) -> str:
        """The composition's name for this storage."""
        ...

    async def put(self, key: str, data: Body, *, content_type: str | None = None) -> ObjectInfo:
        """Store ``data`` under ``key`` (replacing any object there) all or nothing.

        ``content_type`` defaults to a guess from the key's extension, else
        ``application/octet-stream``. Over the size limit nothing is stored.
        """
        ...

    async def get(self, key: str, *, chunk_size: int | None = None) -> ObjectReader:
        """Open ``key`` for streaming; raises ``NotFoundError`` when it is missing."""
        ...

    async def head(self, key: str) -> ObjectInfo:
        """Size, content type and etag of ``key``; raises ``NotFoundError`` when missing."""
        ...

    async def exists(self, key: str) -> bool:
        """Whether an object is stored under ``key``."""
        ...

    async def delete(self, key: str) -> None:
        """Remove ``key``; deleting a missing key is not an error (as in S3)."""
        ...

    async def list(
        self, prefix: str = "", *, cursor: str | None = None, limit: int = 1000
    ) -> ObjectPage:
        """Objects whose key starts with ``prefix``, in key order, ``limit`` at a time."""
        ...

    async def copy(self, source: str, destination: str) -> ObjectInfo:
        """Copy ``source`` to ``destination``; raises ``NotFoundError`` for a missing source."""
        ...

    async def signed_url(
        self,
        key: str,
        *,
        method: SignedMethod = "GET",
        expires_in: float | None = None,
        content_type: str | None = None,
    ) -> str:
        """A URL that downloads (``GET``) or uploads (``PUT``) ``key`` without other
        credentials until ``expires_in`` seconds from now. For uploads, ``content_type``
        binds the ``Content-Type`` the uploader must send. The URL may be relative to the
        app (``storage-local``) or absolute (``storage-s3``)."""
        ...


Storage: Capability[ObjectStore] = Capability(
    "Storage", ObjectStore, description="Object storage by key, streamed, with signed URLs."
)
