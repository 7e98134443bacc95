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
import typing
from collections.abc import Mapping
from datetime import date, datetime, time, timedelta
from typing import Any

import tomlkit
from pydantic import BaseModel, SecretBytes, SecretStr
from pydantic.fields import FieldInfo

from rainmaker.kernel.secrets import MASK, marked_secret, redact_url

#: Shown for an optional setting that holds no value (TOML cannot write null).
NOT_SET = "(not set)"


class _Bare(str):
    """Text shown as it is, without TOML quoting (the mask, "not set")."""


def display(model: type[BaseModel] | None, key: str, value: Any) -> str:
    """``value`` of setting ``key`` of ``model`` as TOML, secrets masked.

    ``key`` may be dotted (``hashing.time_cost``, as in a validation error's location);
    the field it names decides whether the value is a secret.
    """
    secret = model is not None and _key_is_secret(model, key)
    table = _model_at(model, key) if model is not None and not secret else None
    if table is not None and isinstance(value, Mapping):
        # Raw input for a whole table (a model-level validation error): its secrets by field.
        return render(_plain_input(table, value))
    return render(_plain(value, secret=secret))


def display_value(value: Any) -> str:
    """A value that belongs to no settings model, as TOML, secrets masked by type."""
    return render(_plain(value, secret=False))


def _field(model: type[BaseModel], name: str) -> FieldInfo | None:
    return model.model_fields.get(name) or next(
        (f for f in model.model_fields.values() if f.alias == name), None
    )


def _nested_model(info: FieldInfo) -> type[BaseModel] | None:
    candidates = [info.annotation, *typing.get_args(info.annotation)]
    return next(
        (c for c in candidates if isinstance(c, type) and issubclass(c, BaseModel)), None
    )


def _model_at(model: type[BaseModel], key: str) -> type[BaseModel] | None:
    """The settings model a (dotted) key names: ``model`` itself for ``""``."""
    current: type[BaseModel] | None = model
    for part in filter(None, key.split(".")):
        info = _field(current, part) if current is not None else None
        current = _nested_model(info) if info is not None else None
    return current


def _plain_input(model: type[BaseModel], data: Mapping[Any, Any]) -> dict[str, Any]:
    plain = {}
    for name, value in data.items():
        info = _field(model, str(name))
        nested = _nested_model(info) if info is not None else None
        if info is not None and marked_secret(info):
            plain[str(name)] = _plain(value, secret=True)
        elif nested is not None and isinstance(value, Mapping):
            plain[str(name)] = _plain_input(nested, value)
        else:
            plain[str(name)] = _plain(value, secret=False)
    return plain


def _key_is_secret(model: type[BaseModel], key: str) -> bool:
    current: type[BaseModel] | None = model
    for part in key.split("."):
        info = _field(current, part) if current is not None else None
        if info is None:
            return False
        if marked_secret(info):
            return True
        current = _nested_model(info)
    return False


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
    return str(tomlkit.item(value).as_string())


def _key(name: str) -> str:
    return tomlkit.key(name).as_string().strip()
