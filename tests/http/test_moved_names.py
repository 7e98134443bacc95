"""The FastAPI guards moved from ``rainmaker.capabilities.auth`` to ``rainmaker.http``; the
old names still work for one minor release, with a ``DeprecationWarning``."""

from __future__ import annotations

import importlib

import pytest

import rainmaker.http


@pytest.mark.parametrize("name", ["AuthGuards", "auth_guards", "bearer_scheme"])
def test_old_names_warn_and_are_the_new_objects(name: str) -> None:
    old = importlib.import_module("rainmaker.capabilities.auth")
    with pytest.warns(DeprecationWarning, match=f"rainmaker.http.{name}"):
        value = getattr(old, name)
    assert value is getattr(rainmaker.http, name)


def test_other_missing_names_still_raise_attribute_error() -> None:
    old = importlib.import_module("rainmaker.capabilities.auth")
    with pytest.raises(AttributeError, match="no_such_name"):
        old.no_such_name  # noqa: B018
