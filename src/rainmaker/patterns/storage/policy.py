"""What may be stored: the size limit and the content-type allow-list, for every backend.

Both are enforced while the data streams in, so an oversized upload is refused as soon as
it crosses the limit rather than after it was written, and nothing of it is kept.
"""

from __future__ import annotations

import fnmatch
import mimetypes
from collections.abc import AsyncIterable, AsyncIterator, Sequence
from dataclasses import dataclass

from rainmaker import InvalidInputError
from rainmaker.capabilities.storage import Body
from rainmaker.patterns.storage.errors import ObjectTooLargeError

DEFAULT_CONTENT_TYPE = "application/octet-stream"


@dataclass(frozen=True)
class UploadPolicy:
    """``max_size`` in bytes (``None``: no limit) and ``allowed_content_types`` as
    patterns such as ``image/*`` (empty: any type)."""

    max_size: int | None
    allowed_content_types: Sequence[str]
    pattern_id: str | None = None

    def content_type_for(self, key: str, content_type: str | None) -> str:
        """The content type to store: the given one, else guessed from the key; refused
        with :class:`InvalidInputError` when the allow-list does not contain it."""
        chosen = (content_type or "").strip() or mimetypes.guess_type(key)[0]
        chosen = chosen or DEFAULT_CONTENT_TYPE
        essence = chosen.split(";", 1)[0].strip().lower()
        if "/" not in essence or any(c.isspace() for c in essence):
            raise InvalidInputError(
                f"content type {chosen!r} is not a valid media type",
                pattern_id=self.pattern_id,
                hint="send a type such as 'image/png'",
            )
        if self.allowed_content_types and not any(
            fnmatch.fnmatchcase(essence, allowed.lower()) for allowed in self.allowed_content_types
        ):
            raise InvalidInputError(
                f"content type {essence!r} is not allowed here; allowed: "
                f"{', '.join(self.allowed_content_types)}",
                pattern_id=self.pattern_id,
                hint="upload one of the allowed types, or extend allowed_content_types",
            )
        return chosen

    def too_large(self, size: int | None = None) -> ObjectTooLargeError:
        """The error for an object over ``max_size``."""
        seen = f" ({size} bytes or more)" if size is not None else ""
        return ObjectTooLargeError(
            f"the object is larger than the limit of {self.max_size} bytes{seen}; "
            "nothing was stored",
            pattern_id=self.pattern_id,
            hint="send a smaller object, or raise the storage's max_size setting",
        )

    def check_size(self, size: int) -> None:
        """Raise :class:`ObjectTooLargeError` when ``size`` is over the limit."""
        if self.max_size is not None and size > self.max_size:
            raise self.too_large(size)

    async def limited(self, data: Body) -> AsyncIterator[bytes]:
        """``data`` as chunks, raising :class:`ObjectTooLargeError` at the chunk that
        crosses ``max_size`` (before the caller writes it)."""
        if isinstance(data, bytes | bytearray | memoryview):
            self.check_size(len(data))
            if data:
                yield bytes(data)
            return
        if not isinstance(data, AsyncIterable):
            raise InvalidInputError(
                f"put() takes bytes or an async iterator of bytes, not {type(data).__name__}",
                pattern_id=self.pattern_id,
            )
        total = 0
        async for chunk in data:
            if not chunk:
                continue
            total += len(chunk)
            self.check_size(total)
            yield bytes(chunk)
