"""The comparison of two releases' manifests, and the version rule applied to it."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from packaging.version import Version

from rainmaker.testing.compatibility import (
    Change,
    allows,
    compare,
    minimum_version,
    refusal,
    strongest,
)
from rainmaker.testing.manifest import (
    Manifest,
    PatternManifest,
    Provided,
    Required,
    Revision,
    from_settings_schemas,
)

SETTINGS: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "greeting": {"type": "string", "default": "hello", "minLength": 1, "maxLength": 40},
        "times": {"type": "integer", "default": 1},
        "tone": {"enum": ["warm", "dry"], "type": "string", "default": "warm"},
        "sender": {"anyOf": [{"type": "string"}, {"type": "null"}], "default": None},
        "shutdown": {"$ref": "#/$defs/Shutdown", "default": {"delay": 1.0}},
    },
    "$defs": {
        "Shutdown": {
            "type": "object",
            "properties": {"delay": {"type": "number", "default": 1.0}},
        }
    },
}
OLD = PatternManifest(
    version="1.2.0",
    settings=SETTINGS,
    provides=(Provided("Cache", "1.0"),),
    requires=(Required("Database", optional=False, versions=">=1,<2"),),
    migrations=(Revision("a1", None), Revision("b2", "a1")),
    routes=("GET /greeter/hello", "POST /greeter/hello"),
)


def manifest(pattern: PatternManifest = OLD, version: str = "1.2.0") -> Manifest:
    return Manifest("greeter", version, {"greeter": pattern})


def settings(**changes: Any) -> dict[str, Any]:
    """SETTINGS with properties replaced (a value of None removes one) and ``required``."""
    props = dict(SETTINGS["properties"])
    for name, prop in changes.get("properties", {}).items():
        if prop is None:
            props.pop(name)
        else:
            props[name] = prop
    schema = {**SETTINGS, "properties": props}
    if "required" in changes:
        schema["required"] = changes["required"]
    if "defs" in changes:
        schema["$defs"] = changes["defs"]
    return schema


def changed(**fields: Any) -> list[Change]:
    return compare(manifest(), manifest(replace(OLD, **fields)))


def kinds(changes: list[Change]) -> list[str]:
    return [c.kind for c in changes]


def only(changes: list[Change], kind: str) -> Change:
    found = [c for c in changes if c.kind == kind]
    assert len(found) == 1, changes
    return found[0]


def test_the_same_release_is_unchanged() -> None:
    changes = compare(manifest(), manifest())
    assert kinds(changes) == ["unchanged"]
    assert strongest(changes) == "unchanged"


def test_a_removed_setting_is_breaking_and_needs_a_major() -> None:
    changes = changed(settings=settings(properties={"times": None}))
    change = only(changes, "breaking")
    assert "setting 'times' was removed" in change.message
    assert "keep 'times'" in change.fix
    assert refusal(Version("1.2.0"), Version("1.3.0"), changes) is not None
    assert "release it as 2.0.0" in str(refusal(Version("1.2.0"), Version("1.3.0"), changes))
    assert refusal(Version("1.2.0"), Version("2.0.0"), changes) is None


def test_a_renamed_setting_is_named_as_a_probable_rename() -> None:
    props = {"times": None, "repeat": {"type": "integer", "default": 1, "title": "Repeat"}}
    changes = changed(settings=settings(properties=props))
    assert "was removed (renamed to repeat?)" in only(changes, "breaking").message
    assert "new optional setting 'repeat'" in only(changes, "addition").message


def test_a_new_required_setting_without_default_is_breaking() -> None:
    props = {"to": {"type": "string"}}
    changes = changed(settings=settings(properties=props, required=["to"]))
    change = only(changes, "breaking")
    assert "new setting 'to' is required and has no default" in change.message
    assert "give 'to' a default" in change.fix


def test_a_setting_that_lost_its_default_is_breaking() -> None:
    changes = changed(settings=settings(required=["times"]))
    assert "setting 'times' is now required" in only(changes, "breaking").message


def test_a_new_optional_setting_is_an_addition_that_needs_a_minor() -> None:
    changes = changed(settings=settings(properties={"to": {"type": "string", "default": "x"}}))
    assert kinds(changes) == ["addition"]
    assert "new optional setting 'to'" in changes[0].message
    assert refusal(Version("1.2.0"), Version("1.2.1"), changes) is not None
    assert "release it as 1.3.0" in str(refusal(Version("1.2.0"), Version("1.2.1"), changes))
    assert refusal(Version("1.2.0"), Version("1.3.0"), changes) is None


@pytest.mark.parametrize(
    ("name", "prop", "expected"),
    [
        ("times", {"type": "string", "default": "1"}, "no longer accepts integer"),
        ("greeting", {"type": "string", "maxLength": 20}, "maxLength 20 (was 40)"),
        ("greeting", {"type": "string", "minLength": 3, "maxLength": 40}, "minLength 3 (was 1)"),
        ("greeting", {"type": "string", "pattern": "^[a-z]+$"}, "must match"),
        ("tone", {"enum": ["warm"], "type": "string"}, 'no longer accepts "dry"'),
        ("sender", {"type": "string"}, "no longer accepts null"),
        ("times", {"type": "integer", "minimum": 1}, "minimum 1 (was none)"),
    ],
    ids=["retyped", "max-lowered", "min-raised", "pattern", "enum-value", "not-nullable", "min"],
)
def test_a_narrowed_setting_is_breaking(name: str, prop: dict[str, Any], expected: str) -> None:
    changes = changed(settings=settings(properties={name: prop}))
    breaking = [c for c in changes if c.kind == "breaking"]
    assert breaking, changes
    assert any(f"setting {name!r}" in c.message and expected in c.message for c in breaking), (
        changes
    )


@pytest.mark.parametrize(
    ("name", "prop"),
    [
        ("times", {"type": "number", "default": 1}),
        ("greeting", {"anyOf": [{"type": "string"}, {"type": "null"}], "default": "hello"}),
        ("tone", {"enum": ["warm", "dry", "wry"], "type": "string", "default": "warm"}),
        ("greeting", {"type": "string", "default": "hello"}),
    ],
    ids=["int-to-number", "nullable", "enum-value-added", "limits-dropped"],
)
def test_a_widened_setting_is_an_addition(name: str, prop: dict[str, Any]) -> None:
    changes = changed(settings=settings(properties={name: prop}))
    assert changes and set(kinds(changes)) == {"addition"}, changes


def test_nested_models_are_compared_key_by_key() -> None:
    defs = {"Shutdown": {"type": "object", "properties": {}}}
    changes = changed(settings=settings(defs=defs))
    assert "setting 'shutdown.delay' was removed" in only(changes, "breaking").message


def test_a_changed_default_is_an_addition_worth_a_changelog_line() -> None:
    changes = changed(settings=settings(properties={"times": {"type": "integer", "default": 2}}))
    change = only(changes, "addition")
    assert "default of setting 'times' changed from 1 to 2" in change.message


def test_a_removed_provision_is_breaking() -> None:
    changes = changed(provides=())
    change = only(changes, "breaking")
    assert "no longer provides Cache" in change.message
    assert refusal(Version("1.2.0"), Version("1.9.0"), changes) is not None


def test_a_provision_major_change_is_breaking_a_minor_one_an_addition() -> None:
    assert kinds(changed(provides=(Provided("Cache", "2.0"),))) == ["breaking"]
    assert kinds(changed(provides=(Provided("Cache", "1.1"),))) == ["addition"]
    assert kinds(changed(provides=(Provided("Cache", "1.0"), Provided("Jobs", "1.0")))) == [
        "addition"
    ]


def test_requirements_new_required_narrowed_and_widened() -> None:
    more = (*(OLD.requires or ()), Required("Mailer"))
    assert "newly requires Mailer" in only(changed(requires=more), "breaking").message
    optional = (*(OLD.requires or ()), Required("Mailer", optional=True))
    assert kinds(changed(requires=optional)) == ["addition"]
    narrowed = (Required("Database", versions=">=1.2,<2"),)
    assert "excludes versions it accepted" in only(changed(requires=narrowed), "breaking").message
    widened = (Required("Database", versions=">=1,<3"),)
    assert kinds(changed(requires=widened)) == ["addition"]


def test_a_dropped_route_is_breaking_a_new_one_an_addition() -> None:
    changes = changed(routes=("GET /greeter/hello", "GET /greeter/hi"))
    assert "route POST /greeter/hello was dropped" in only(changes, "breaking").message
    assert "new route GET /greeter/hi" in only(changes, "addition").message


@pytest.mark.parametrize(
    ("migrations", "expected"),
    [
        ((Revision("a1", None),), "published migration 'b2' was removed"),
        ((Revision("a1", None), Revision("b2", None)), "'b2' now follows base instead of a1"),
        ((Revision("a0", None), Revision("b2", "a0")), "published migration 'a1' was removed"),
    ],
    ids=["head-removed", "down-revision-changed", "base-replaced"],
)
def test_a_changed_migration_history_is_breaking(
    migrations: tuple[Revision, ...], expected: str
) -> None:
    changes = changed(migrations=migrations)
    assert any(c.kind == "breaking" and expected in c.message for c in changes), changes


def test_a_new_migration_is_an_addition() -> None:
    changes = changed(migrations=(*(OLD.migrations or ()), Revision("c3", "b2")))
    assert kinds(changes) == ["addition"]


def test_unknown_parts_are_not_compared_and_say_so() -> None:
    changes = changed(routes=None)
    assert kinds(changes) == ["unchanged", "unknown"]
    assert "routes not compared: unknown in this package" in changes[1].message
    legacy = from_settings_schemas("greeter", "1.2.0", {"greeter": SETTINGS})
    changes = compare(legacy, manifest(replace(OLD, routes=("GET /other",))))
    assert "breaking" not in kinds(changes)  # routes unknown in the old release: not dropped
    assert sum(1 for c in changes if c.kind == "unknown") == 4


def test_removed_and_added_patterns() -> None:
    old = Manifest("greeter", "1.2.0", {"greeter": OLD, "farewell": OLD})
    new = Manifest("greeter", "1.3.0", {"greeter": OLD, "hello": OLD})
    changes = compare(old, new)
    assert "pattern 'farewell' was removed" in only(changes, "breaking").message
    assert "new pattern 'hello'" in only(changes, "addition").message


@pytest.mark.parametrize(
    ("previous", "version", "kind", "allowed"),
    [
        ("1.2.0", "2.0.0", "breaking", True),
        ("1.2.0", "1.3.0", "breaking", False),
        ("1.2.0", "1.3.0", "addition", True),
        ("1.2.0", "1.2.1", "addition", False),
        ("1.2.0", "1.2.1", "unchanged", True),
        ("1.2.0", "1.2.0", "unchanged", False),
        ("1.2.0", "1.1.9", "unchanged", False),
        # 0.x: the minor plays the major's part, the patch the minor's.
        ("0.3.1", "0.4.0", "breaking", True),
        ("0.3.1", "1.0.0", "breaking", True),
        ("0.3.1", "0.3.2", "breaking", False),
        ("0.3.1", "0.3.2", "addition", True),
    ],
)
def test_the_version_rule(previous: str, version: str, kind: Any, allowed: bool) -> None:
    assert allows(Version(previous), Version(version), kind) is allowed
    if allowed:
        assert Version(version) >= minimum_version(Version(previous), kind)


def test_a_version_not_above_the_published_one_is_refused_naming_pyproject() -> None:
    message = refusal(Version("1.2.0"), Version("1.1.0"), [])
    assert message is not None
    assert "not higher than the published 1.2.0" in message and "pyproject.toml" in message


def test_the_manifest_file_round_trips() -> None:
    release = Manifest("greeter", "1.2.0", {"greeter": replace(OLD, routes=None, notes=("n",))})
    assert Manifest.from_json(release.to_json(), source="x.json") == release
