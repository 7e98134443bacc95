"""Which settings are secrets, and how their plain text is found and masked.

A field is secret when it is typed ``SecretStr``/``SecretBytes`` or marked with
``Field(json_schema_extra={"secret": True})`` — by type, never by name, so a duration called
``verify_token_ttl`` or a ``password`` policy table stay readable. URLs keep their shape with
the password masked. How values are shown lives in :mod:`rainmaker.kernel.display`.
"""

from __future__ import annotations

import typing
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from pydantic import BaseModel, SecretBytes, SecretStr
from pydantic.fields import FieldInfo

MASK = "********"


def secret_fields(model: type[BaseModel]) -> set[str]:
    """Names of ``model``'s fields that hold secrets."""
    return {name for name, info in model.model_fields.items() if marked_secret(info)}


def marked_secret(info: FieldInfo) -> bool:
    """Whether a field holds a secret: typed ``SecretStr``/``SecretBytes`` (optional or in a
    container too) or marked ``json_schema_extra={"secret": True}``."""
    extra = info.json_schema_extra if isinstance(info.json_schema_extra, dict) else {}
    return bool(extra.get("secret")) or _is_secret_type(info.annotation)


def _is_secret_type(annotation: Any) -> bool:
    if annotation in (SecretStr, SecretBytes):
        return True
    return any(_is_secret_type(arg) for arg in typing.get_args(annotation))


def redact_url(value: str) -> str:
    """``scheme://user:********@host/db`` for URLs that carry a password; others unchanged."""
    try:
        parts = urlsplit(value)
    except ValueError:
        return value
    if not parts.password:
        return value
    netloc = parts.netloc.replace(f":{parts.password}@", f":{MASK}@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


def secret_values(settings: BaseModel) -> Iterable[str]:
    """The plain text of every secret in ``settings`` (for scrubbing logs).

    Nested models and the models inside lists and dicts are searched too (a list of signing
    keys, say), as are passwords inside URLs anywhere.
    """
    secrets = secret_fields(type(settings))
    for name in type(settings).model_fields:
        yield from _secrets_in(getattr(settings, name, None), is_secret=name in secrets)


def _secrets_in(value: Any, *, is_secret: bool) -> Iterable[str]:
    if isinstance(value, SecretStr):
        value = value.get_secret_value()
    elif isinstance(value, SecretBytes):
        value = value.get_secret_value().decode(errors="ignore")
    if isinstance(value, BaseModel):
        yield from secret_values(value)
    elif isinstance(value, list | tuple | set | frozenset):
        for item in value:
            yield from _secrets_in(item, is_secret=is_secret)
    elif isinstance(value, dict):
        for item in value.values():
            yield from _secrets_in(item, is_secret=is_secret)
    elif isinstance(value, str):
        if is_secret and len(value) >= 4:
            yield value
        password = _url_password(value)
        if password:
            yield password


def _url_password(value: str) -> str | None:
    try:
        return urlsplit(value).password if "://" in value else None
    except ValueError:
        return None
