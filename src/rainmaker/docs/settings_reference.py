"""One row per settings field, nested models flattened, for the settings tables.

Types and constraints come from the JSON Schema pydantic generates (what users validate
against); defaults and examples are shown by the kernel's one formatter
(:func:`rainmaker.kernel.display.display`), so they read as TOML, as ``rainmaker config
show`` writes them, with secrets masked by the same rule.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel
from pydantic.fields import FieldInfo

from rainmaker.cli.inspect import _schema_type
from rainmaker.kernel.composition import env_name
from rainmaker.kernel.display import display
from rainmaker.kernel.secrets import marked_secret

# JSON Schema keywords that constrain a value, with how they read in a table.
_CONSTRAINTS = (
    ("minimum", "≥ {}"),
    ("exclusiveMinimum", "> {}"),
    ("maximum", "≤ {}"),
    ("exclusiveMaximum", "< {}"),
    ("minLength", "length ≥ {}"),
    ("maxLength", "length ≤ {}"),
    ("minItems", "items ≥ {}"),
    ("maxItems", "items ≤ {}"),
    ("pattern", "matches {}"),
    ("format", "format {}"),
)


@dataclass(frozen=True)
class SettingRow:
    """One settings field as documentation shows it.

    ``key`` is dotted for nested models (``cors.allow_origins``); ``environment`` is the
    variable that overrides it, with ``<INSTANCE>`` unless an instance name was given.
    """

    key: str
    type: str
    default: str
    required: bool
    secret: bool
    constraints: tuple[str, ...]
    description: str
    environment: str
    examples: tuple[str, ...]


def settings_rows(model: type[BaseModel], instance: str | None = None) -> list[SettingRow]:
    """Every field of ``model`` (nested settings models expanded), in declaration order."""
    prefix = f"RAINMAKER__{env_name(instance) if instance else '<INSTANCE>'}"
    return list(_rows(model, (), prefix))


def _rows(model: type[BaseModel], path: tuple[str, ...], env_prefix: str) -> list[SettingRow]:
    schema = model.model_json_schema()
    definitions = schema.get("$defs", {})
    properties = schema.get("properties", {})
    required = set(schema.get("required", []))
    rows: list[SettingRow] = []
    for name, info in model.model_fields.items():
        key_path = (*path, name)
        environment = f"{env_prefix}__{name.upper()}"
        nested = _nested_model(info)
        if nested is not None:
            rows.extend(_rows(nested, key_path, environment))
            continue
        prop = _resolve(properties.get(info.alias or name, {}), definitions)
        is_required = name in required
        secret = marked_secret(info)
        rows.append(
            SettingRow(
                key=".".join(key_path),
                type=_type_of(prop, definitions),
                default=""
                if is_required
                else display(model, name, info.get_default(call_default_factory=True)),
                required=is_required,
                secret=secret,
                constraints=_constraints(prop, definitions),
                description=info.description or "",
                environment=environment,
                examples=tuple(display(model, name, example) for example in info.examples or ()),
            )
        )
    return rows


def _nested_model(info: FieldInfo) -> type[BaseModel] | None:
    annotation = info.annotation
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    return None


def _resolve(prop: dict[str, Any], definitions: dict[str, Any]) -> dict[str, Any]:
    """Follow a ``$ref`` into ``$defs`` (enums are referenced that way)."""
    ref = prop.get("$ref")
    if isinstance(ref, str):
        target = definitions.get(ref.rsplit("/", 1)[-1], {})
        return {**target, **{k: v for k, v in prop.items() if k != "$ref"}}
    return prop


def _type_of(prop: dict[str, Any], definitions: dict[str, Any]) -> str:
    if "enum" in prop:
        return " | ".join(json.dumps(value) for value in prop["enum"])
    if "const" in prop:
        return json.dumps(prop["const"])
    if prop.get("type") == "array" and isinstance(prop.get("items"), dict):
        return f"array of {_type_of(_resolve(prop['items'], definitions), definitions)}"
    if "anyOf" in prop:
        return " | ".join(_type_of(_resolve(p, definitions), definitions) for p in prop["anyOf"])
    if prop.get("format") == "password":
        return "secret string"
    return _schema_type(prop)


def _constraints(prop: dict[str, Any], definitions: dict[str, Any]) -> tuple[str, ...]:
    found = [
        label.format(prop[word])
        for word, label in _CONSTRAINTS
        if word in prop and prop[word] != "password"  # SecretStr's format says nothing new
    ]
    for option in prop.get("anyOf", ()):
        found.extend(
            c for c in _constraints(_resolve(option, definitions), definitions) if c not in found
        )
    return tuple(found)
