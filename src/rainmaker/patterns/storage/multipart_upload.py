"""Stream the file out of a ``multipart/form-data`` request body, without spooling it.

Starlette's ``request.form()`` would write the whole upload to a temporary file before the
handler runs; here python-multipart's push parser is fed the body as it arrives and the
file part's bytes are handed straight to ``storage.put``, so an upload costs one network
chunk of memory and is written once.
"""

from __future__ import annotations

from collections import deque
from collections.abc import AsyncIterator

from python_multipart.exceptions import FormParserError
from python_multipart.multipart import MultipartParser, parse_options_header

from rainmaker import InvalidInputError

# Events the parser's callbacks queue: ("headers", {name: value}), ("data", b"…"), ("end", b"").
_Event = tuple[str, object]


class MultipartFile:
    """The first part named ``field`` of a multipart body: its headers, then its bytes.

    Call :meth:`open` to read up to the part (raises :class:`InvalidInputError` when the
    body is not multipart or has no such part), then iterate :meth:`chunks`.
    """

    def __init__(
        self,
        body: AsyncIterator[bytes],
        content_type: str | None,
        *,
        field: str = "file",
        pattern_id: str | None = None,
    ) -> None:
        self.field = field
        self.pattern_id = pattern_id
        self.filename: str | None = None
        self.content_type: str | None = None
        self._body = body
        self._events: deque[_Event] = deque()
        self._header_name = b""
        self._header_value = b""
        self._headers: dict[str, str] = {}
        self._finished = False
        media, options = parse_options_header(content_type)
        boundary = options.get(b"boundary")
        if media != b"multipart/form-data" or not boundary:
            raise self._invalid(
                f"expected a multipart/form-data body with a boundary, got "
                f"{(content_type or 'no content type')[:80]!r}",
                hint=f"send the file as the form field {field!r} of a multipart/form-data POST",
            )
        self._parser = MultipartParser(
            boundary,
            {
                "on_header_field": self._on_header_field,
                "on_header_value": self._on_header_value,
                "on_header_end": self._on_header_end,
                "on_headers_finished": self._on_headers_finished,
                "on_part_data": self._on_part_data,
                "on_part_end": self._on_part_end,
            },
        )

    def _invalid(self, message: str, hint: str | None = None) -> InvalidInputError:
        return InvalidInputError(message, pattern_id=self.pattern_id, hint=hint)

    # -- parser callbacks (synchronous, called from inside write) ---------------------------

    def _on_header_field(self, data: bytes, start: int, end: int) -> None:
        self._header_name += data[start:end]

    def _on_header_value(self, data: bytes, start: int, end: int) -> None:
        self._header_value += data[start:end]

    def _on_header_end(self) -> None:
        name = self._header_name.decode("latin-1").strip().lower()
        self._headers[name] = self._header_value.decode("utf-8", "replace").strip()
        self._header_name = self._header_value = b""

    def _on_headers_finished(self) -> None:
        self._events.append(("headers", self._headers))
        self._headers = {}

    def _on_part_data(self, data: bytes, start: int, end: int) -> None:
        self._events.append(("data", bytes(data[start:end])))

    def _on_part_end(self) -> None:
        self._events.append(("end", b""))

    # -- reading ----------------------------------------------------------------------------

    async def _next_event(self) -> _Event | None:
        while not self._events:
            if self._finished:
                return None
            try:
                chunk = await self._body.__anext__()
            except StopAsyncIteration:
                self._finished = True
                try:
                    self._parser.finalize()
                except FormParserError as error:
                    raise self._invalid(f"the multipart body is malformed: {error}") from None
                continue
            try:
                self._parser.write(chunk)
            except FormParserError as error:
                raise self._invalid(f"the multipart body is malformed: {error}") from None
        return self._events.popleft()

    async def open(self) -> None:
        """Skip to the file part and read its filename and content type."""
        while (event := await self._next_event()) is not None:
            kind, value = event  # other fields' data and ends are skipped
            if kind == "headers" and isinstance(value, dict):
                _, options = parse_options_header(value.get("content-disposition", ""))
                if options.get(b"name", b"").decode("utf-8", "replace") == self.field:
                    raw = options.get(b"filename")
                    self.filename = raw.decode("utf-8", "replace") if raw else None
                    self.content_type = value.get("content-type") or None
                    return
        raise self._invalid(
            f"the multipart body has no part named {self.field!r}",
            hint=f"send the file as the form field {self.field!r}",
        )

    async def chunks(self) -> AsyncIterator[bytes]:
        """The file part's bytes as they arrive; fails when the body ends mid-part."""
        while (event := await self._next_event()) is not None:
            kind, value = event
            if kind == "end":
                return
            if kind == "data" and isinstance(value, bytes) and value:
                yield value
        raise self._invalid("the upload ended before the file part was complete")
