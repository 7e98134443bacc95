"""What a setting expects, in words, from its settings model's JSON Schema.

A wrong value is reported with the type, the range and an example the schema already
holds ("expected an integer from 1 to 65535, e.g. port = 587"), so the fix can be made
without opening the pattern's reference page.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from rainmaker.kernel.display import display_value

_TYPE_WORDS = {
    "integer": "an integer",
    "number": "a number",
    "string": "a string",
    "boolean": "true or false",
    "array": "an array",
    "object": "a table",
}


def expectation(model: type[BaseModel], key: str) -> str | None:
    """``expected …, e.g. key = value`` for setting ``key`` (dotted for nested settings) of
    ``model``; ``None`` when the schema says nothing useful about it."""
    try:
        schema = model.model_json_schema()
    except Exception:  # a model whose schema cannot be generated still validates
        return None
    prop = _property(schema, key)
    if prop is None:
        return None
    described = _describe(schema, prop)
    if not described:
        return None
    # A secret's default is no example to print.
    example = None if _resolve(schema, prop).get("format") == "password" else _example(prop)
    name = key.rsplit(".", 1)[-1]
    return f"expected {described}" + (f", e.g. {name} = {example}" if example else "")


def _property(schema: dict[str, Any], key: str) -> dict[str, Any] | None:
    current: dict[str, Any] | None = schema
    for part in key.split("."):
        if current is None:
            return None
        current = _resolve(schema, current)
        # Into the object branch of an optional table (anyOf [ref, null]).
        branches = [current, *(_resolve(schema, b) for b in current.get("anyOf", []))]
        props: dict[str, Any] = next(
            (b["properties"] for b in branches if part in b.get("properties", {})), {}
        )
        if part in props:
            current = props[part]
            continue
        # A list index or a mapping key: the schema of the items or values.
        inner = next(
            (
                b.get("items") or b.get("additionalProperties")
                for b in branches
                if isinstance(b.get("items") or b.get("additionalProperties"), dict)
            ),
            None,
        )
        current = inner
    return current


def _resolve(schema: dict[str, Any], prop: dict[str, Any]) -> dict[str, Any]:
    ref = prop.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/$defs/"):
        return dict(schema.get("$defs", {}).get(ref.rsplit("/", 1)[-1], {}))
    return prop


def _describe(schema: dict[str, Any], prop: dict[str, Any]) -> str:
    prop = _resolve(schema, prop)
    if "enum" in prop:
        return "one of " + ", ".join(display_value(v) for v in prop["enum"])
    if "const" in prop:
        return display_value(prop["const"])
    if "anyOf" in prop:
        branches = [b for b in prop["anyOf"] if b.get("type") != "null"]
        words = [w for w in (_describe(schema, b) for b in branches) if w]
        optional = len(branches) < len(prop["anyOf"])
        text = " or ".join(dict.fromkeys(words))
        return f'{text} (or "" to unset it)' if optional and text else text
    kind = prop.get("type")
    if kind == "string" and prop.get("format") == "duration":
        return 'a duration in seconds (900) or ISO 8601 ("PT15M")'
    noun = _TYPE_WORDS.get(kind, "") if isinstance(kind, str) else ""
    if not noun and "properties" in prop:
        noun = "a table"
    if not noun:
        return ""
    return noun + _range(prop)


def _range(prop: dict[str, Any]) -> str:
    low, high = prop.get("minimum"), prop.get("maximum")
    above, below = prop.get("exclusiveMinimum"), prop.get("exclusiveMaximum")
    parts = []
    if low is not None and high is not None:
        parts.append(f"from {low} to {high}")
    else:
        if low is not None:
            parts.append(f"at least {low}")
        if high is not None:
            parts.append(f"at most {high}")
    if above is not None:
        parts.append(f"above {above}")
    if below is not None:
        parts.append(f"below {below}")
    for bound, word in (("minLength", "at least"), ("maxLength", "at most")):
        if bound in prop:
            parts.append(f"{word} {prop[bound]} characters long")
    for bound, word in (("minItems", "at least"), ("maxItems", "at most")):
        if bound in prop:
            parts.append(f"{word} {prop[bound]} items")
    if "pattern" in prop:
        parts.append(f"matching {prop['pattern']}")
    return (" " + ", ".join(parts)) if parts else ""


def _example(prop: dict[str, Any]) -> str | None:
    examples = prop.get("examples")
    if isinstance(examples, list) and examples:
        return display_value(examples[0])
    if "default" in prop and prop["default"] is not None:
        return display_value(prop["default"])
    return None
