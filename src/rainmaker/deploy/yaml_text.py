"""YAML text from plain data, deterministically (key order as built, no aliases).

PyYAML ships no type information, so it is imported as ``Any`` rather than requiring the
types-PyYAML stubs.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable
from typing import Any

yaml: Any = importlib.import_module("yaml")


def _no_aliases(_dumper: Any, _data: Any) -> bool:
    return True


def _str(dumper: Any, value: str) -> Any:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper: Any = type("_Dumper", (yaml.SafeDumper,), {"ignore_aliases": _no_aliases})
_Dumper.add_representer(str, _str)


def dump(document: Any) -> str:
    """One YAML document."""
    text: str = yaml.dump(
        document, Dumper=_Dumper, sort_keys=False, default_flow_style=False, width=100
    )
    return text


def dump_all(documents: Iterable[Any]) -> str:
    """Several documents separated by ``---``."""
    return "".join(f"---\n{dump(document)}" for document in documents)
