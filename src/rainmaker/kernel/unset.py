"""TOML has no null: how a file (or the environment) unsets an optional setting.

One rule for every pattern, applied by :class:`~rainmaker.kernel.pattern.Settings`: an empty
string given to a setting that accepts no value (typed ``X | None``) means "no value", so
``username = "${SMTP_USERNAME:-}"`` gives ``None`` when the variable is unset, and
``RAINMAKER__WEB__DOCS_URL=`` turns the API explorer off. A setting that cannot be ``None``
keeps ``""`` as the text it is (and fails its own checks if it must not be empty).
"""

from __future__ import annotations

import types
import typing
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel

#: What a file writes to unset an optional setting.
UNSET = ""


def unset_empty_optionals(model: type[BaseModel], data: Any) -> Any:
    """``data`` (a settings mapping) with :data:`UNSET` replaced by ``None`` for each
    optional field of ``model``; anything else is returned unchanged."""
    if not isinstance(data, Mapping):
        return data
    changed = dict(data)
    for name, info in model.model_fields.items():
        for key in {name, info.alias or name}:
            if changed.get(key) == UNSET and accepts_none(info.annotation):
                changed[key] = None
    return changed


def accepts_none(annotation: Any) -> bool:
    """Whether a field typed ``annotation`` may hold ``None`` (``X | None``, ``Optional[X]``)."""
    if annotation is None or annotation is type(None):
        return True
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return accepts_none(typing.get_args(annotation)[0])
    if origin is typing.Union or origin is types.UnionType:
        return any(accepts_none(arg) for arg in typing.get_args(annotation))
    return False
