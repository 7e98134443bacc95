"""Generating ``.env.example``: every setting an app's instances accept, as variables.

Each line is commented out with its default, so the file documents the knobs without
changing anything when copied to ``.env``; required settings come first, uncommented.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from pydantic import BaseModel
from pydantic_core import PydanticUndefined

from rainmaker.kernel.composition import env_name
from rainmaker.kernel.secrets import secret_fields


def env_example(
    app_name: str,
    instances: Iterable[tuple[str, type[BaseModel]]],
    referenced: Mapping[str, str | None] | None = None,
) -> str:
    """The text of ``.env.example``.

    ``instances`` are ``(instance name, settings model)`` pairs; ``referenced`` are the
    ``${VAR}`` variables the composition uses, with their ``:-`` defaults.
    """
    lines = [
        f"# Environment for {app_name}: RAINMAKER__<INSTANCE>__<KEY> overrides rainmaker.toml.",
        "# Uncomment and set what you need; commented lines show the defaults.",
        "",
    ]
    if referenced:
        lines.append("# --- used by rainmaker.toml ---")
        for variable, default in sorted(referenced.items()):
            lines.append(f"{variable}=" if default is None else f"# {variable}={default}")
        lines.append("")
    for instance, model in instances:
        secrets = secret_fields(model)
        lines.append(f"# --- {instance} ---")
        for name, info in model.model_fields.items():
            variable = f"RAINMAKER__{env_name(instance)}__{name.upper()}"
            if info.description:
                lines.append(f"# {info.description}")
            if info.is_required():
                lines.append(f"{variable}=")
            elif name in secrets:
                lines.append(f"# {variable}=<secret>")
            else:
                lines.append(
                    f"# {variable}={_env_value(info.get_default(call_default_factory=True))}"
                )
        lines.append("")
    return "\n".join(lines)


def _env_value(value: Any) -> str:
    if value is PydanticUndefined or value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | int | float):
        return str(value)
    if isinstance(value, BaseModel):  # a nested settings table: JSON, as the env layer reads it
        return value.model_dump_json()
    try:
        return json.dumps(value, default=str)
    except TypeError:
        return str(value)
