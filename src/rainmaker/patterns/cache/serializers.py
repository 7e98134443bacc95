"""Serializers: how cached values become bytes.

JSON is the default because it is safe to read from a shared server and readable in
``redis-cli``. Pickle is opt-in: it round-trips any Python object but unpickling runs code,
so only use it when every writer to the cache is trusted. Anything else is a custom object
with ``dumps``/``loads`` (see :class:`~rainmaker.capabilities.cache.Serializer`).

Counters written by ``incr`` are stored as bare ASCII digits (the form Redis ``INCRBY``
needs); :func:`decode` returns such bytes as ``int`` whatever the serializer, which is also
what JSON would give.
"""

from __future__ import annotations

import importlib
import json
import pickle
from typing import Any

from rainmaker.capabilities.cache import Serializer

BUILTIN = ("json", "pickle")


class JsonSerializer:
    """Compact UTF-8 JSON; tuples come back as lists and dict keys as strings."""

    name = "json"
    # One encoder for every call: json.dumps with options builds a new one each time.
    _encoder = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)

    def dumps(self, value: Any) -> bytes:
        try:
            return self._encoder.encode(value).encode()
        except TypeError as exc:
            raise TypeError(
                f"cannot cache {type(value).__name__} as JSON ({exc}); convert it to "
                "dicts/lists/str/numbers first, or configure serializer = 'pickle' or a "
                "custom serializer"
            ) from exc

    def loads(self, data: bytes) -> Any:
        return json.loads(data)

    def __repr__(self) -> str:
        return "JsonSerializer()"


class PickleSerializer:
    """Any picklable Python object. Only for caches no untrusted party can write to."""

    name = "pickle"

    def dumps(self, value: Any) -> bytes:
        return pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)

    def loads(self, data: bytes) -> Any:
        return pickle.loads(data)  # noqa: S301 - opt-in, documented for trusted caches only

    def __repr__(self) -> str:
        return "PickleSerializer()"


def resolve_serializer(spec: str | Serializer) -> Serializer:
    """A serializer from ``"json"``, ``"pickle"``, ``"package.module:attribute"`` or an object.

    An attribute that is a class is instantiated without arguments. Raises ``ValueError``
    saying what is wrong with ``spec``.
    """
    if not isinstance(spec, str):
        return _checked(spec, repr(spec))
    if spec == "json":
        return JsonSerializer()
    if spec == "pickle":
        return PickleSerializer()
    module_name, sep, attr = spec.partition(":")
    if not sep or not module_name or not attr:
        raise ValueError(
            f"serializer {spec!r} is neither 'json', 'pickle' nor 'package.module:attribute'"
        )
    try:
        found: Any = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as exc:
        raise ValueError(f"serializer {spec!r} cannot be imported: {exc}") from exc
    if isinstance(found, type):
        found = found()
    return _checked(found, spec)


def _checked(candidate: Any, label: str) -> Serializer:
    if not isinstance(candidate, Serializer):
        raise ValueError(
            f"serializer {label} has no dumps(value) -> bytes and loads(bytes) methods"
        )
    return candidate


def encode_counter(value: int) -> bytes:
    """A counter as Redis stores it."""
    return str(value).encode()


def decode(serializer: Serializer, data: bytes) -> Any:
    """Bytes from the store as a value: counters (bare digits) as ``int``, else ``loads``."""
    # A counter is the only thing stored as bare digits by us: JSON ints are digits too
    # (same result) and pickle never is, so this check is unambiguous for the built-ins.
    if data and (data.isdigit() or (data[:1] == b"-" and data[1:].isdigit())):
        return int(data)
    return serializer.loads(data)
