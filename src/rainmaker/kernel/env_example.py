"""Generating ``.env.example``: every setting an app's instances accept, as variables.

Each line is commented out with its default, so the file documents the knobs without
changing anything when copied to ``.env``; required settings come first, uncommented.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from pydantic_core import PydanticUndefined

from rainmaker.kernel.catalog import Catalog
from rainmaker.kernel.composition import env_name, read_composition
from rainmaker.kernel.resolution import resolve
from rainmaker.kernel.secrets import secret_fields
from rainmaker.kernel.validation import validate_instances


def env_example_for(path: Path, catalog: Catalog) -> str:
    """The ``.env.example`` of the composition file at ``path``, as ``rainmaker new`` writes it.

    Instances come in start order, with the ``${VAR}`` references of every profile. The
    environment is ignored (the file documents the app, not this shell), and an invalid
    composition still gets one: ``rainmaker add`` refreshes it before the user has fixed what
    ``check`` reports. Instances of unknown patterns are left out.
    """
    composition = read_composition(path, environ={})
    catalog.add_local(composition.app.local_patterns, composition.root)
    instances, _ = validate_instances(composition, catalog)
    order, _ = resolve(instances, catalog)
    by_name = {instance.name: instance for instance in instances}
    referenced = dict(composition.env_vars)
    for profile in composition.profiles:
        referenced |= read_composition(path, profile=profile, environ={}).env_vars
    return env_example(
        composition.app.name,
        [(name, by_name[name].pattern.settings) for name in order],
        referenced,
    )


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
