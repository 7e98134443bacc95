"""A JSON Schema (draft 2020-12) of ``rainmaker.toml``, so editors complete and check it.

It covers ``[app]``, ``[patterns.<instance>]`` and ``[profiles.<name>]``. An instance table
is one of the installed patterns' tables, told apart by ``use``: for each pattern id an
``if`` (``use`` is that id) / ``then`` (that pattern's table: its settings from pydantic's
``model_json_schema()`` and the reserved keys ``use``, ``mount``, ``providers``,
``enabled``, nothing else). Errors then name the key at fault. Taplo, and the editors built
on it such as Even Better TOML, complete keys from ``anyOf`` branches rather than from
conditionals, so an ``anyOf`` of constraint-free hints (each pattern's keys with their
descriptions and defaults) sits beside the checks.

What the schema leaves to ``rainmaker check``:

- required settings are not ``required``: the environment (``RAINMAKER__<INSTANCE>__<KEY>``)
  may supply them, and the schema cannot see it;
- a ``${VAR}`` string is accepted wherever a value is, since it is interpolated before
  validation (``pool_size = "${POOL_SIZE:-5}"``);
- profile tables are partial: they merge into the base table, so nothing is required there,
  and a table of an instance the app defines is checked against that instance's pattern.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from typing import Any

from pydantic import BaseModel

from rainmaker.kernel.composition import INSTANCE_NAME, AppConfig
from rainmaker.kernel.pattern import Pattern

DIALECT = "https://json-schema.org/draft/2020-12/schema"
RESERVED = "reserved"
INTERPOLATED = "interpolated"
# A string holding a ${VAR} or ${VAR:-default} reference (see rainmaker.kernel.composition).
INTERPOLATION_PATTERN = r"\$\{[A-Za-z_][A-Za-z0-9_]*(:-[^}]*)?\}"


def composition_schema(
    patterns: Iterable[Pattern[Any]],
    *,
    instances: Mapping[str, str] | None = None,
    title: str = "rainmaker.toml",
) -> dict[str, Any]:
    """The schema of a composition that may use ``patterns``.

    ``instances`` maps the app's instance names to their pattern ids, so that its profile
    tables (which need not repeat ``use``) are checked against the right pattern.
    """
    patterns = sorted(patterns, key=lambda p: p.id)
    defs: dict[str, Any] = {
        INTERPOLATED: {
            "type": "string",
            "pattern": INTERPOLATION_PATTERN,
            "description": "An environment variable reference, interpolated before validation.",
        },
    }
    app = _model_schema(AppConfig, "app", defs)
    defs["app"] = {**app, "title": "[app]"}
    defs["app-override"] = {
        **{key: value for key, value in app.items() if key != "required"},
        "title": "[profiles.<name>.app]",
    }

    hints, checks = [], []
    for pattern in patterns:
        key = _pattern_key(pattern.id)
        defs[key] = _pattern_table(pattern, defs)
        hints.append(_hint(defs[key]))
        checks.append(
            {
                "if": {"properties": {"use": {"const": pattern.id}}, "required": ["use"]},
                "then": {"$ref": f"#/$defs/{key}"},
            }
        )
    ids = [pattern.id for pattern in patterns]
    defs["instance"] = {
        "title": "[patterns.<instance>]",
        "description": "A pattern instance: use names the pattern, the other keys are its "
        "settings. `rainmaker pattern info ID` lists them.",
        "type": "object",
        "required": ["use"],
        "properties": {"use": _use_schema(patterns)},
        "anyOf": hints,
        "allOf": checks,
    }
    # A profile table merges into the base table: nothing is required, and without `use`
    # (and without knowing the app) any pattern's keys may be meant.
    defs["instance-override"] = {
        "title": "[profiles.<name>.patterns.<instance>]",
        "description": "Overrides for one instance in this profile; a different use "
        "replaces the base table instead of merging into it.",
        "type": "object",
        "properties": {"use": _use_schema(patterns)},
        "anyOf": hints,
        "allOf": checks,
    }
    known = {
        name: {
            "title": f"[profiles.<name>.patterns.{name}]",
            "type": "object",
            "anyOf": [_hint(defs[_pattern_key(use)]), *hints],
            # Without `use` the table overrides the base one: that pattern's keys.
            "if": {"not": {"required": ["use"]}},
            "then": {"$ref": f"#/$defs/{_pattern_key(use)}"},
            "else": {"$ref": "#/$defs/instance-override"},
        }
        for name, use in sorted((instances or {}).items())
        if use in ids
    }
    names = {"type": "string", "pattern": INSTANCE_NAME.pattern, "not": {"const": "app"}}
    profile = {
        "title": "[profiles.<name>]",
        "description": "Overrides applied with --profile NAME (or $RAINMAKER_PROFILE).",
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "app": {"$ref": "#/$defs/app-override"},
            "patterns": {
                "type": "object",
                "propertyNames": names,
                "properties": known,
                "additionalProperties": {"$ref": "#/$defs/instance-override"},
            },
        },
    }
    return {
        "$schema": DIALECT,
        "title": title,
        "description": "A Rainmaker composition: the app, its pattern instances and profiles. "
        "`rainmaker check` validates what a schema cannot (the environment, requirements).",
        "type": "object",
        "additionalProperties": False,
        "required": ["app", "patterns"],
        "properties": {
            "app": {"$ref": "#/$defs/app"},
            "patterns": {
                "title": "[patterns]",
                "type": "object",
                "propertyNames": names,
                "additionalProperties": {"$ref": "#/$defs/instance"},
            },
            "profiles": {
                "title": "[profiles]",
                "type": "object",
                "additionalProperties": {"$ref": "#/$defs/profile"},
            },
        },
        "$defs": {**defs, "profile": profile},
    }


def _pattern_key(pattern_id: str) -> str:
    return f"pattern:{pattern_id}"


def _hint(table: dict[str, Any]) -> dict[str, Any]:
    """A pattern's keys with their descriptions and defaults, and no constraint.

    Editors complete keys from ``anyOf`` branches; the checks are in ``if``/``then``, whose
    errors name the offending key instead of "not valid under any of the given schemas".
    """
    annotations = ("title", "description", "default", "const")
    return {
        "title": table["title"],
        "description": table["description"],
        "properties": {
            key: {k: v for k, v in value.items() if k in annotations}
            for key, value in table["properties"].items()
        },
    }


def _use_schema(patterns: list[Pattern[Any]]) -> dict[str, Any]:
    return {
        "description": "The pattern this instance runs (`rainmaker patterns` lists them).",
        "enum": [pattern.id for pattern in patterns],
    }


def _pattern_table(pattern: Pattern[Any], defs: dict[str, Any]) -> dict[str, Any]:
    """One branch of an instance table: ``use`` pinned to the id, the settings, reserved keys."""
    settings = _model_schema(pattern.settings, pattern.id, defs)
    required = settings.pop("required", [])
    described = f"{pattern.name} {pattern.version}"
    if pattern.description:
        described += f": {pattern.description}"
    if required:
        described += (
            f" Required: {', '.join(required)} (here, or from RAINMAKER__<INSTANCE>__<KEY>)."
        )
    properties = {
        "use": {"const": pattern.id, "description": described},
        "mount": {
            "type": "string",
            "pattern": "^/",
            "description": "URL prefix of this instance's routes"
            + (f" (default {pattern.mount})." if pattern.mount else "."),
        },
        "providers": {
            "type": "object",
            "description": "Which instance meets a requirement when several could, "
            'e.g. { Database = "db" }.',
            "propertyNames": {"enum": sorted({r.capability.name for r in pattern.requirements})},
            "additionalProperties": {"type": "string", "pattern": INSTANCE_NAME.pattern},
        },
        "enabled": {
            "type": "boolean",
            "description": "false drops the instance (in this profile) without deleting it.",
        },
        **settings.get("properties", {}),
    }
    return {
        **{k: v for k, v in settings.items() if k not in ("properties", "title")},
        "title": pattern.id,
        "description": described,
        "type": "object",
        "properties": properties,
        "additionalProperties": False,
    }


def _model_schema(model: type[BaseModel], prefix: str, defs: dict[str, Any]) -> dict[str, Any]:
    """``model``'s JSON Schema with its ``$defs`` moved into ``defs`` under ``prefix``.

    Prefixing keeps two patterns' nested models of the same name apart; every value also
    accepts a ``${VAR}`` string.
    """
    schema = model.model_json_schema(ref_template=f"#/$defs/{prefix}.{{model}}")
    nested = schema.pop("$defs", {})
    defs.update({f"{prefix}.{name}": body for name, body in nested.items()})
    for name in nested:
        defs[f"{prefix}.{name}"] = _accept_interpolation(defs[f"{prefix}.{name}"], defs)
    return _accept_interpolation(schema, defs)


def _accept_interpolation(schema: dict[str, Any], defs: dict[str, Any]) -> dict[str, Any]:
    """A copy of an object schema whose every value (and list item) may be a ``${VAR}``."""
    schema = copy.deepcopy(schema)
    properties = schema.get("properties")
    if isinstance(properties, dict):
        for key, value in properties.items():
            properties[key] = _value(value, defs)
    extra = schema.get("additionalProperties")
    if isinstance(extra, dict):
        schema["additionalProperties"] = _value(extra, defs)
    return schema


def _value(schema: dict[str, Any], defs: dict[str, Any]) -> dict[str, Any]:
    if schema.get("type") == "object":
        return _accept_interpolation(schema, defs)
    ref = schema.get("$ref")
    if isinstance(ref, str) and defs.get(ref.rsplit("/", 1)[-1], {}).get("type") == "object":
        return schema  # a nested settings table: a string cannot stand for it
    if schema.get("type") == "array" and isinstance(schema.get("items"), dict):
        schema = {**schema, "items": _value(schema["items"], defs)}
    if schema.get("type") == "string" and set(schema) <= {"type", "title", "description"}:
        return schema  # any string already matches
    annotations: dict[str, Any] = {
        k: schema[k] for k in ("title", "description", "default") if k in schema
    }
    core = {k: v for k, v in schema.items() if k not in annotations}
    return {**annotations, "anyOf": [core, {"$ref": f"#/$defs/{INTERPOLATED}"}]}
