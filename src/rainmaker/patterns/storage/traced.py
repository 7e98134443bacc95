"""Spans around storage operations, registered instead of the store when tracing is on.

:class:`TracedObjectStore` wraps any :class:`~rainmaker.capabilities.storage.ObjectStore`:
one ``storage.<operation>`` span per call with the backend, the instance, the key (or
prefix, or source and destination) and, once known, the object's size and content type.
``get`` times opening the object (where a missing key fails); the streaming that follows
belongs to whoever reads it. ``signed_url`` does no I/O and is not traced. With tracing
off the module registers the bare store: this file costs nothing then.
"""

from __future__ import annotations

from typing import Any

from rainmaker.capabilities.storage import (
    Body,
    ObjectInfo,
    ObjectPage,
    ObjectReader,
    ObjectStore,
    SignedMethod,
)
from rainmaker.capabilities.tracing import AttributeValue, SpanTracer


class TracedObjectStore:
    """An :class:`ObjectStore` that times each call of ``inner`` as a span."""

    def __init__(self, inner: ObjectStore, tracer: SpanTracer, *, backend: str) -> None:
        self.inner = inner
        self._tracer = tracer
        self._attributes: dict[str, AttributeValue] = {
            "storage.backend": backend,
            "rainmaker.instance": inner.instance,
        }

    @property
    def instance(self) -> str:
        return self.inner.instance

    def _span(self, operation: str, **attributes: AttributeValue) -> Any:
        return self._tracer.span(
            f"storage.{operation}",
            {**self._attributes, "storage.operation": operation, **_dotted(attributes)},
            kind="client",
        )

    async def put(self, key: str, data: Body, *, content_type: str | None = None) -> ObjectInfo:
        with self._span("put", key=key) as span:
            info = await self.inner.put(key, data, content_type=content_type)
            _describe(span, info)
            return info

    async def get(self, key: str, *, chunk_size: int | None = None) -> ObjectReader:
        with self._span("get", key=key) as span:
            reader = await self.inner.get(key, chunk_size=chunk_size)
            _describe(span, reader.info)
            return reader

    async def head(self, key: str) -> ObjectInfo:
        with self._span("head", key=key) as span:
            info = await self.inner.head(key)
            _describe(span, info)
            return info

    async def exists(self, key: str) -> bool:
        with self._span("exists", key=key) as span:
            found = await self.inner.exists(key)
            span.set_attribute("storage.found", found)
            return found

    async def delete(self, key: str) -> None:
        with self._span("delete", key=key):
            await self.inner.delete(key)

    async def list(
        self, prefix: str = "", *, cursor: str | None = None, limit: int = 1000
    ) -> ObjectPage:
        with self._span("list", prefix=prefix, limit=limit) as span:
            page = await self.inner.list(prefix, cursor=cursor, limit=limit)
            span.set_attribute("storage.count", len(page.items))
            return page

    async def copy(self, source: str, destination: str) -> ObjectInfo:
        with self._span("copy", source=source, key=destination) as span:
            info = await self.inner.copy(source, destination)
            _describe(span, info)
            return info

    async def signed_url(
        self,
        key: str,
        *,
        method: SignedMethod = "GET",
        expires_in: float | None = None,
        content_type: str | None = None,
    ) -> str:
        return await self.inner.signed_url(
            key, method=method, expires_in=expires_in, content_type=content_type
        )

    def __getattr__(self, name: str) -> Any:
        # What a backend offers beyond the capability (multipart uploads on S3…).
        return getattr(self.inner, name)

    def __repr__(self) -> str:
        return f"TracedObjectStore({self.inner!r})"


def _dotted(attributes: dict[str, AttributeValue]) -> dict[str, AttributeValue]:
    return {f"storage.{name}": value for name, value in attributes.items()}


def _describe(span: Any, info: ObjectInfo) -> None:
    span.set_attribute("storage.size", info.size)
    span.set_attribute("storage.content_type", info.content_type)
