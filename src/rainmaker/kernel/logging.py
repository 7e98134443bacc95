"""Structured logging: one line per event, bound with app, pattern and request id.

JSON when the output is not a terminal (production), readable colours on a terminal.
Every secret value found in the app's settings is scrubbed from each event before it is
rendered, so a secret never reaches a log line even when code logs it by mistake.

The per-event path is kept cheap because the HTTP access log runs it on every request
(see ``bench/http``): the secrets are one precompiled pattern, the timestamp reuses the
formatted second, JSON is rendered by orjson (a dependency, about ten times faster than the
stdlib encoder; one prebuilt stdlib encoder stays as the fallback for what orjson refuses,
such as an int beyond 64 bits), and :class:`ResolvedLogger` spares hot paths the
re-assembly that a lazy structlog logger does on every call.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import time
from collections.abc import Callable, Iterable, MutableMapping
from typing import Any, Literal, TextIO

import orjson
import structlog
from structlog.typing import FilteringBoundLogger

from rainmaker.kernel.logging_batch import BatchedLines
from rainmaker.kernel.secrets import MASK

_secrets: set[str] = set()
_secrets_pattern: re.Pattern[str] | None = None
# Processors patterns add to every event (see add_processor), and how logging was last
# configured, so adding one reconfigures alike and a later configure_logging keeps it.
_added_processors: list[Callable[..., Any]] = []
_last_configuration: dict[str, Any] | None = None
# The batched binary stream of the JSON configuration in force (see logging_batch).
_batch: BatchedLines | None = None


class _JsonChain:
    """What configure_logging installed for JSON lines: :meth:`ResolvedLogger.emit` renders
    an event itself only while exactly this is in force (else structlog does, as usual)."""

    __slots__ = ("added", "factory", "length", "level", "processors", "wrapper")

    def __init__(
        self,
        processors: list[Any],
        factory: Any,
        wrapper: Any,
        level: int,
        added: tuple[Callable[..., Any], ...],
    ) -> None:
        self.processors = processors
        self.length = len(processors)
        self.factory = factory
        self.wrapper = wrapper
        self.level = level
        self.added = added  # what patterns added (add_processor), in the chain's order


_json_chain: _JsonChain | None = None


def configure_logging(
    *,
    level: str = "info",
    fmt: Literal["auto", "json", "console"] = "auto",
    secrets: Iterable[str] = (),
) -> None:
    """Configure structlog (and route stdlib logging through the same renderer)."""
    global _secrets_pattern, _last_configuration, _batch, _json_chain
    _last_configuration = {"level": level, "fmt": fmt}
    _secrets.update(s for s in secrets if s)
    if _secrets:
        # Longest first, so a secret containing another is masked whole.
        ordered = sorted(_secrets, key=len, reverse=True)
        _secrets_pattern = re.compile("|".join(re.escape(s) for s in ordered))
    if _batch is not None:
        _batch.drain()  # the lines of the previous configuration come out first
        _batch = None
    stream = _Stderr()
    use_json = fmt == "json" or (fmt == "auto" and not stream.isatty())
    # The stdlib formatter needs text; structlog's own loggers may write bytes.
    text_renderer: Any = (
        _render_json_text if use_json else structlog.dev.ConsoleRenderer(colors=stream.isatty())
    )
    renderer: Any = text_renderer
    logger_factory: Any = structlog.WriteLoggerFactory(stream)  # type: ignore[arg-type]
    if use_json and getattr(sys.stderr, "buffer", None) is not None:
        renderer = _render_json_bytes
        # One write per batch of lines instead of one per line (the access log's cost).
        _batch = stream.batch = BatchedLines(stream.buffer)
        logger_factory = structlog.BytesLoggerFactory(_batch)  # type: ignore[arg-type]
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        _add_timestamp,
        structlog.processors.format_exc_info,  # render tracebacks before scrubbing them
        *_added_processors,
        _scrub_secrets,  # last: what added processors write is scrubbed too
    ]
    numeric = logging.getLevelNamesMapping()[level.upper()]
    processors = [*shared, renderer]
    wrapper_class = structlog.make_filtering_bound_logger(numeric)
    structlog.configure(
        processors=processors,
        wrapper_class=wrapper_class,
        logger_factory=logger_factory,
        cache_logger_on_first_use=False,
    )
    _json_chain = None
    if _batch is not None:
        added = tuple(_added_processors)
        _json_chain = _JsonChain(processors, logger_factory, wrapper_class, numeric, added)
    handler = logging.StreamHandler(stream)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=shared,
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                text_renderer,
            ],
        )
    )
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(numeric)


WEB_ROLE = "web"


def bind_role(role: str) -> None:
    """Name the process role (``web``, ``worker``…) on every log line this process writes,
    so the lines of a web and a worker process started from one composition differ."""
    structlog.contextvars.bind_contextvars(role=role)


def add_processor(processor: Callable[..., Any]) -> None:
    """Run ``processor`` on every event from now on, before secrets are scrubbed.

    The one hook patterns have into the logging configuration: the observability pattern
    adds the current trace id this way. Adding the same processor again does nothing;
    logging already configured is configured again alike, and every later
    :func:`configure_logging` keeps it.
    """
    if processor in _added_processors:
        return
    _added_processors.append(processor)
    if _last_configuration is not None and structlog.is_configured():
        configure_logging(**_last_configuration)


class _Stderr:
    """``sys.stderr`` as it was when logging was configured, or the current one once closed.

    Test runners and daemons replace ``sys.stderr`` and close the old stream; writing a
    log line to it then would fail the code that logged, so the line goes to the stream
    in place instead. Text (stdlib records) is written after the batched structlog lines
    still waiting in ``batch``, so lines keep their order.
    """

    def __init__(self) -> None:
        self._stream = sys.stderr
        self.batch: BatchedLines | None = None

    def _current(self) -> TextIO:
        if self._stream.closed:
            self._stream = sys.stderr
        return self._stream

    def write(self, text: str) -> int:
        batch = self.batch
        if batch is not None and batch.pending:
            batch.drain()
        return self._current().write(text)

    def flush(self) -> None:
        self._current().flush()

    def isatty(self) -> bool:
        return self._current().isatty()

    @property
    def buffer(self) -> _StderrBytes:
        return _StderrBytes(self)


class _StderrBytes:
    """The binary side of :class:`_Stderr`, for renderers that produce bytes."""

    def __init__(self, text: _Stderr) -> None:
        self._text = text

    def write(self, data: bytes) -> int:
        return self._text._current().buffer.write(data)

    def flush(self) -> None:
        self._text._current().buffer.flush()


class ResolvedLogger:
    """A lazy structlog logger resolved once per logging configuration, for hot paths.

    Calling a lazy logger (``structlog.get_logger(...)``) assembles a new bound logger
    every time: about 20 µs, more than rendering the event. :meth:`get` returns the
    assembled logger and assembles it again only when ``structlog.configure`` has
    installed another processor chain, logger factory or wrapper class since, so the
    logger still follows the configuration in force (``capture_logs`` included, which
    edits the processor list in place).
    """

    __slots__ = ("_bound", "_factory", "_logger", "_prefix", "_processors", "_source",
                 "_wrapper")

    def __init__(self, source: FilteringBoundLogger) -> None:
        self._source = source
        self._logger: FilteringBoundLogger | None = None
        self._processors: object = None
        self._factory: object = None
        self._wrapper: object = None
        self._bound: dict[str, Any] = {}
        self._prefix: bytes | None = None  # the bound context, rendered, for emit()

    def get(self) -> FilteringBoundLogger:
        config = structlog.get_config()
        logger = self._logger
        if (
            logger is None
            or config["processors"] is not self._processors
            or config["logger_factory"] is not self._factory
            or config["wrapper_class"] is not self._wrapper
        ):
            logger = self._logger = self._source.bind()
            self._processors = config["processors"]
            self._factory = config["logger_factory"]
            self._wrapper = config["wrapper_class"]
            self._bound = dict(structlog.get_context(logger))
            self._prefix = None
        return logger

    def emit(self, level: str, event: str, fields: dict[str, Any]) -> None:
        """Log ``event`` with ``fields`` at ``level`` (a level name: ``info``, ``error``…):
        the same line as ``getattr(self.get(), level)(event, **fields)``, cheaper.

        For a hot path (the access log). While the kernel's own JSON configuration is in
        force (no ``capture_logs``), the logger's bound context is rendered once and reused
        as the line's head, and the rest of the event runs the same processors (context
        variables, level, timestamp, those patterns added, secrets) and renderer before
        going to the batched stream; ``fields`` is used as the event dict (it is modified).
        Anything else takes structlog's ordinary path.
        """
        logger = self.get()
        chain = _json_chain
        batch = _batch
        bound = self._bound
        if (
            chain is None
            or batch is None
            or self._processors is not chain.processors
            or len(chain.processors) != chain.length  # capture_logs edits it in place
            or self._factory is not chain.factory
            or self._wrapper is not chain.wrapper
            or not bound.keys().isdisjoint(fields)
        ):
            getattr(logger, level)(event, **fields)
            return
        if _LEVELS[level] < chain.level:
            return
        prefix = self._prefix
        if prefix is None:
            head = _render_json_bytes(None, level, _scrub_secrets(None, level, dict(bound)))
            prefix = self._prefix = head[:-1] + b"," if bound else b"{"
        given = dict(fields) if chain.added else fields
        fields["event"] = event
        # The processors of the chain, in its order, on what is not bound.
        structlog.contextvars.merge_contextvars(None, level, fields)
        for key in bound:  # the bound value wins over a context variable of that name
            fields.pop(key, None)
        fields["level"] = level
        _add_timestamp(None, level, fields)
        try:
            for processor in chain.added:  # the trace ids of the observability pattern, say
                fields = processor(None, level, fields)
        except structlog.DropEvent:  # as structlog does: no line
            return
        if chain.added and not bound.keys().isdisjoint(fields):
            # An added processor wrote a bound key, which it saw unset here: structlog's
            # path, where it sees the bound context, decides what the line says.
            getattr(logger, level)(event, **given)
            return
        _scrub_secrets(None, level, fields)
        try:
            rendered = orjson.dumps(fields, default=_fallback, option=orjson.OPT_NON_STR_KEYS)
        except TypeError:  # e.g. an int beyond 64 bits, as _render_json_bytes does
            whole = _scrub_secrets(None, level, {**bound, **fields})
            batch.write(_encoder.encode(whole).encode() + b"\n")
            return
        batch.write(prefix + rendered[1:] + b"\n")


_LEVELS = logging.getLevelNamesMapping()
_LEVELS.update({name.lower(): number for name, number in list(_LEVELS.items())})


class _Timestamp:
    """ISO 8601 UTC with microseconds (``2026-11-26T05:22:55.123456Z``), formatted cheaply.

    The date and time of day are formatted once per second; only the fraction is new.
    """

    __slots__ = ("_prefix", "_second")

    def __init__(self) -> None:
        self._second = -1
        self._prefix = ""

    def __call__(
        self, _logger: Any, _method: str, event: MutableMapping[str, Any]
    ) -> MutableMapping[str, Any]:
        now = time.time()
        second = int(now)
        if second != self._second:
            self._prefix = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
            self._second = second
        event["timestamp"] = f"{self._prefix}.{int((now - second) * 1_000_000):06d}Z"
        return event


_add_timestamp = _Timestamp()


def _scrub_secrets(
    _logger: Any, _method: str, event: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    pattern = _secrets_pattern
    if pattern is None:
        return event
    # Usually nothing matches: one search over all the text values says so, instead of
    # one per value (a separator cannot join two values into a false negative).
    texts = []
    for value in event.values():
        if isinstance(value, str):
            texts.append(value)
        elif isinstance(value, BaseException):
            break
    else:
        if pattern.search("\0".join(texts)) is None:
            return event
    for key, value in event.items():
        if isinstance(value, str):
            if pattern.search(value) is not None:
                event[key] = pattern.sub(MASK, value)
        elif isinstance(value, BaseException):
            event[key] = pattern.sub(MASK, repr(value))
    return event


def _fallback(value: Any) -> Any:
    """What JSON cannot encode natively: structlog's own hook, else ``repr``."""
    hook: Callable[[], Any] | None = getattr(value, "__structlog__", None)
    return hook() if hook is not None else repr(value)


_encoder = json.JSONEncoder(default=_fallback)


def _render_json_text(
    _logger: Any, _method: str, event: MutableMapping[str, Any]
) -> str:
    try:
        rendered: bytes = orjson.dumps(event, default=_fallback, option=orjson.OPT_NON_STR_KEYS)
        return rendered.decode()
    except TypeError:  # e.g. an int too large for orjson: the stdlib encodes anything
        return _encoder.encode(event)


def _render_json_bytes(
    _logger: Any, _method: str, event: MutableMapping[str, Any]
) -> bytes:
    try:
        rendered: bytes = orjson.dumps(event, default=_fallback, option=orjson.OPT_NON_STR_KEYS)
    except TypeError:
        rendered = _encoder.encode(event).encode()
    return rendered
