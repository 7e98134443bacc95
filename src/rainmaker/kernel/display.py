"""How settings values are shown to people: as they are written in TOML, secrets masked.

``rainmaker config show``, ``rainmaker pattern info``, the developer dashboard, the docs
and validation messages all show values through :func:`display`, so a value reads the same
everywhere and can be copied back into ``rainmaker.toml``: ``true`` rather than ``True``,
``"rainmaker"`` rather than ``'rainmaker'``, ``900`` rather than
``datetime.timedelta(seconds=900)``, nested settings as an inline table. TOML has no null,
so an unset optional value reads ``(not set)``.

Redaction goes by type, never by name: a ``SecretStr``/``SecretBytes`` value, a field marked
``json_schema_extra={"secret": True}`` (at any depth) and the password inside a URL are
masked; a duration called ``verify_token_ttl`` or a ``password`` policy table are not.
"""

from __future__ import annotations

import enum
import types
import typing
from collections.abc import Mapping
from datetime import date, datetime, time, timedelta
from typing import Any

from pydantic import BaseModel, SecretBytes, SecretStr
from pydantic.fields import FieldInfo

from rainmaker.kernel.secrets import MASK, marked_secret, redact_url

#: Shown for an optional setting that holds no value (TOML cannot write null).
NOT_SET = "(not set)"


class _Bare(str):
    """Text shown as it is, without TOML quoting (the mask, "not set")."""


def display(model: type[BaseModel] | None, key: str, value: Any) -> str:
    """``value`` of setting ``key`` of ``model`` as TOML, secrets masked.

    ``key`` may be dotted (``hashing.time_cost``, ``keys.0.secret``, as in a validation
    error's location); the field it names decides whether the value is a secret. Raw input
    (a validation error's, which may hold plain-text secrets in tables) is masked field by
    field against the model the key names.
    """
    if model is None:
        return render(_plain(value, secret=False))
    secret, table = _resolve_key(model, key)
    if table is not None and not secret:
        return render(_plain_input(table, value))
    return render(_plain(value, secret=secret))


def display_value(value: Any) -> str:
    """A value that belongs to no settings model, as TOML, secrets masked by type."""
    return render(_plain(value, secret=False))


def _field(model: type[BaseModel], name: str) -> FieldInfo | None:
    return model.model_fields.get(name) or next(
        (f for f in model.model_fields.values() if f.alias == name), None
    )


def _nested_model(annotation: Any) -> type[BaseModel] | None:
    """The settings model inside ``annotation`` (``Model``, ``Model | None``,
    ``list[Model]``, ``dict[str, Model]``…), if any."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in typing.get_args(annotation):
        found = _nested_model(arg)
        if found is not None:
            return found
    return None


def _resolve_key(model: type[BaseModel], key: str) -> tuple[bool, type[BaseModel] | None]:
    """Whether the (dotted) ``key`` names a secret, and the settings model it names when
    it names a table (``model`` itself for ``""``)."""
    current: type[BaseModel] | None = model
    in_container = False
    for part in filter(None, key.split(".")):
        info = _field(current, part) if current is not None else None
        if info is None:
            if in_container:  # a list index or a mapping key: the same model below it
                in_container = False
                continue
            return False, None
        if marked_secret(info):
            return True, None
        current = _nested_model(info.annotation)
        in_container = current is not None and _nested_model_direct(info.annotation) is None
    return False, current


def _nested_model_direct(annotation: Any) -> type[BaseModel] | None:
    """The model ``annotation`` is (or ``Model | None``), not one inside a container."""
    candidates = [annotation, *typing.get_args(annotation)]
    if typing.get_origin(annotation) not in (None, typing.Union, types.UnionType):
        return None
    return next((c for c in candidates if isinstance(c, type) and issubclass(c, BaseModel)), None)


def _plain_input(model: type[BaseModel], data: Any) -> Any:
    """Raw input for ``model`` (a table, or a list or table of tables), secrets by field."""
    if isinstance(data, list | tuple):
        return [_plain_input(model, item) for item in data]
    if not isinstance(data, Mapping):
        return _plain(data, secret=False)
    fields = [(name, value, _field(model, str(name))) for name, value in data.items()]
    if not any(info is not None for _, _, info in fields):
        # A mapping of tables (dict[str, Model]): each value is a table of ``model``.
        return {str(name): _plain_input(model, value) for name, value, _ in fields}
    plain = {}
    for name, value, info in fields:
        if info is None:
            plain[str(name)] = _plain(value, secret=False)
        elif marked_secret(info):
            plain[str(name)] = _plain(value, secret=True)
        else:
            nested = _nested_model(info.annotation)
            plain[str(name)] = (
                _plain_input(nested, value) if nested is not None else _plain(value, secret=False)
            )
    return plain


def _plain(value: Any, *, secret: bool) -> Any:
    """``value`` as TOML-shaped data (str, int, float, bool, list, dict, bare text)."""
    if value is None or (secret and value == ""):
        return _Bare(NOT_SET)
    if secret and isinstance(value, list | tuple | set | frozenset | Mapping) and not value:
        return [] if not isinstance(value, Mapping) else {}  # nothing to hide
    if secret or isinstance(value, SecretStr | SecretBytes):
        return _Bare(MASK)
    if isinstance(value, BaseModel):
        return {
            name: _plain(getattr(value, name, None), secret=marked_secret(info))
            for name, info in type(value).model_fields.items()
            if getattr(value, name, None) is not None  # TOML has no null: unset keys are left out
        }
    if isinstance(value, Mapping):
        return {str(k): _plain(v, secret=False) for k, v in value.items() if v is not None}
    if isinstance(value, list | tuple | set | frozenset):
        items = sorted(value, key=repr) if isinstance(value, set | frozenset) else value
        return [_plain(item, secret=False) for item in items]
    if isinstance(value, timedelta):
        # Seconds, the form every duration setting accepts from TOML and the environment.
        seconds = value.total_seconds()
        return int(seconds) if seconds.is_integer() else seconds
    if isinstance(value, bool | int | float | datetime | date | time):
        return value
    if isinstance(value, enum.Enum):
        return _plain(value.value, secret=False)
    if isinstance(value, bytes):
        return value.decode(errors="replace")
    # str, paths, URLs, UUIDs…: their text, as the user wrote it.
    return redact_url(str(value))


def render(value: Any) -> str:
    """TOML text of data made by :func:`_plain` (inline tables and arrays for nesting)."""
    if isinstance(value, _Bare):
        return str(value)
    if isinstance(value, dict):
        if not value:
            return "{}"
        body = ", ".join(f"{_key(k)} = {render(v)}" for k, v in value.items())
        return "{ " + body + " }"
    if isinstance(value, list):
        return "[" + ", ".join(render(item) for item in value) + "]"
    # tomlkit on first use: importing it costs every start-up, showing a value does not.
    import tomlkit

    return str(tomlkit.item(value).as_string())


def _key(name: str) -> str:
    import tomlkit

    return tomlkit.key(name).as_string().strip()
