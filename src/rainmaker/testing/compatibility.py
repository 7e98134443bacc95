"""Is a release compatible with the previous one? Pure functions over two manifests.

:func:`compare` takes the previous release's :class:`~rainmaker.testing.manifest.Manifest`
and the new one and returns one :class:`Change` per difference, each classified:

``breaking``
    An app that worked with the old release may fail with the new one: a pattern, a
    setting, a provided capability, a published migration or a route is gone; a setting
    accepts less (type narrowed, constraint tightened, enum value dropped); a setting is
    newly required without a default; a capability is newly required; a required range
    excludes versions it used to accept.
``addition``
    Something new that an app may start relying on: a pattern, an optional setting, a
    wider type, a changed default, a capability provided, a new migration, a new route.
``unchanged``
    One per pattern that did not change at all.
``unknown``
    A part one side could not record (routes of a pattern whose module cannot be built
    without servers, migrations without Alembic, releases published before manifests):
    not compared, and said so.

:func:`refusal` applies semantic versioning to the strongest change. For ``1.0.0`` and
later: a breaking change needs a new major version, an addition at least a new minor, a
fix any higher version. Below ``1.0.0`` semver promises nothing, so we follow the common
convention (Cargo's, npm's caret ranges): the *minor* plays the major's part and the
*patch* the minor's. A breaking change from ``0.3.x`` needs ``0.4.0`` (or ``1.0.0``); an
addition needs only a higher patch.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import InvalidVersion, Version

from rainmaker.testing.manifest import Manifest, PatternManifest

Kind = Literal["breaking", "addition", "unchanged", "unknown"]


@dataclass(frozen=True)
class Change:
    """One difference between two releases, with what to do about it."""

    kind: Kind
    pattern: str
    message: str
    fix: str = ""

    def line(self) -> str:
        """``[kind] pattern: message — fix: …`` for a terminal."""
        text = f"[{self.kind}] {self.pattern}: {self.message}"
        return text + (f" — fix: {self.fix}" if self.fix else "")


def compare(old: Manifest, new: Manifest) -> list[Change]:
    """Every difference from ``old`` to ``new``, pattern by pattern."""
    changes: list[Change] = []
    for pid, before in sorted(old.patterns.items()):
        after = new.patterns.get(pid)
        if after is None:
            changes.append(
                Change(
                    "breaking",
                    pid,
                    f"pattern {pid!r} was removed (apps with use = {pid!r} stop loading)",
                    "keep publishing it in this distribution, or release a major version",
                )
            )
            continue
        found = _compare_pattern(pid, before, after)
        if not [c for c in found if c.kind != "unknown"]:
            found.insert(0, Change("unchanged", pid, "no change in what apps rely on"))
        changes += found
    for pid in sorted(set(new.patterns) - set(old.patterns)):
        changes.append(Change("addition", pid, f"new pattern {pid!r}"))
    return changes


def _compare_pattern(pid: str, old: PatternManifest, new: PatternManifest) -> list[Change]:
    changes = [
        Change(kind, pid, message, fix)
        for kind, message, fix in compare_settings(old.settings, new.settings)
    ]
    for part, note in (
        ("provides", _compare_provides),
        ("requires", _compare_requires),
        ("migrations", _compare_migrations),
        ("routes", _compare_routes),
    ):
        before, after = getattr(old, part), getattr(new, part)
        if before is None or after is None:
            side = "the published release" if before is None else "this package"
            changes.append(Change("unknown", pid, f"{part} not compared: unknown in {side}"))
            continue
        changes += [Change(kind, pid, message, fix) for kind, message, fix in note(before, after)]
    return changes


Found = tuple[Kind, str, str]


# -- provides and requires ----------------------------------------------------------------------


def _compare_provides(old: Iterable[Any], new: Iterable[Any]) -> list[Found]:
    before = {p.capability: p.version for p in old}
    after = {p.capability: p.version for p in new}
    found: list[Found] = []
    for name, version in sorted(before.items()):
        if name not in after:
            found.append(
                (
                    "breaking",
                    f"no longer provides {name} (apps using it for {name} lose their provider)",
                    f"keep providing {name}, or release a major version",
                )
            )
        elif after[name] != version:
            old_v, new_v = _version(version), _version(after[name])
            if (
                old_v is not None
                and new_v is not None
                and new_v > old_v
                and (new_v.major == old_v.major)
            ):
                found.append(("addition", f"provides {name} {after[name]} (was {version})", ""))
            else:
                found.append(
                    (
                        "breaking",
                        f"provides {name} {after[name]} instead of {version} (requirements "
                        f"written for {version} may no longer match)",
                        f"keep {name} at a compatible version, or release a major version",
                    )
                )
    for name in sorted(set(after) - set(before)):
        found.append(("addition", f"now provides {name} {after[name]}", ""))
    return found


def _compare_requires(old: Iterable[Any], new: Iterable[Any]) -> list[Found]:
    before = {r.capability: r for r in old}
    after = {r.capability: r for r in new}
    found: list[Found] = []
    for name, requirement in sorted(after.items()):
        previous = before.get(name)
        if previous is None or (previous.optional and not requirement.optional):
            if requirement.optional:
                found.append(("addition", f"now optionally uses {name}", ""))
            else:
                what = "newly requires" if previous is None else "now requires (was optional)"
                found.append(
                    (
                        "breaking",
                        f"{what} {name} (apps without a {name} provider stop loading)",
                        f"make it {name}.optional(), or release a major version",
                    )
                )
            continue
        if previous.versions != requirement.versions:
            if _narrows(previous.versions, requirement.versions):
                found.append(
                    (
                        "breaking",
                        f"requires {name} {requirement.versions or 'any'} instead of "
                        f"{previous.versions or 'any'}, which excludes versions it accepted",
                        "keep the range at least as wide, or release a major version",
                    )
                )
            else:
                found.append(
                    (
                        "addition",
                        f"requires {name} {requirement.versions or 'any'} "
                        f"(was {previous.versions or 'any'})",
                        "",
                    )
                )
    for name in sorted(set(before) - set(after)):
        found.append(("addition", f"no longer uses {name}", ""))
    return found


def _narrows(old: str, new: str) -> bool:
    """Whether range ``new`` rejects a version ``old`` accepts (probed at every boundary)."""
    try:
        before, after = SpecifierSet(old), SpecifierSet(new)
    except InvalidSpecifier:
        return True  # cannot tell: say so rather than let it pass
    probes = {Version("0"), Version("0.0.1"), Version("9999")}
    for spec in (*before, *after):
        base = _version(spec.version.rstrip(".*"))
        if base is None:
            continue
        major, minor, micro = (*base.release, 0, 0, 0)[:3]
        probes |= {base, Version(f"{major}.{minor}.{micro + 1}"), Version(f"{major}.{minor + 1}")}
        probes |= {Version(f"{major + 1}")}
        if micro:
            probes.add(Version(f"{major}.{minor}.{micro - 1}"))
        elif minor:
            probes.add(Version(f"{major}.{minor - 1}.9999"))
        elif major:
            probes.add(Version(f"{major - 1}.9999"))
    return any(before.contains(v, prereleases=True) and not after.contains(v, prereleases=True)
               for v in probes)  # fmt: skip


def _version(text: str) -> Version | None:
    try:
        return Version(text)
    except InvalidVersion:
        return None


# -- migrations and routes ----------------------------------------------------------------------


def _compare_migrations(old: Iterable[Any], new: Iterable[Any]) -> list[Found]:
    before = {r.revision: r.down_revision for r in old}
    after = {r.revision: r.down_revision for r in new}
    found: list[Found] = []
    for revision, down in before.items():
        if revision not in after:
            found.append(
                (
                    "breaking",
                    f"published migration {revision!r} was removed (databases already at it "
                    "cannot upgrade or downgrade)",
                    "restore the revision file; change the schema in a new revision instead",
                )
            )
        elif after[revision] != down:
            found.append(
                (
                    "breaking",
                    f"published migration {revision!r} now follows "
                    f"{after[revision] or 'base'} instead of {down or 'base'} (the history "
                    "databases were migrated along changed)",
                    f"restore down_revision = {down!r}; add new revisions after the head",
                )
            )
    for revision in after:
        if revision not in before:
            found.append(
                ("addition", f"new migration {revision!r} (apps run `rainmaker db upgrade`)", "")
            )
    return found


def _compare_routes(old: Iterable[str], new: Iterable[str]) -> list[Found]:
    before, after = set(old), set(new)
    found: list[Found] = [
        (
            "breaking",
            f"route {route} was dropped (clients calling it get 404 or 405)",
            "keep the route (it may answer with a deprecation), or release a major version",
        )
        for route in sorted(before - after)
    ]
    found += [("addition", f"new route {route}", "") for route in sorted(after - before)]
    return found


# -- settings schemas ---------------------------------------------------------------------------

# A bound a new release may only lower (minimums) or only raise (maximums).
_LOWER_BOUNDS = ("minimum", "exclusiveMinimum", "minLength", "minItems", "minProperties")
_UPPER_BOUNDS = ("maximum", "exclusiveMaximum", "maxLength", "maxItems", "maxProperties")
# Keywords that only document a schema: changing them changes no accepted value.
_ANNOTATIONS = frozenset({"title", "description", "examples", "default", "writeOnly", "readOnly",
                          "deprecated", "$comment"})  # fmt: skip


def compare_settings(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[Found]:
    """The differences between two settings JSON Schemas (pydantic's), nested models too."""
    return _SchemaPair(old.get("$defs", {}), new.get("$defs", {})).objects(old, new, "")


@dataclass(frozen=True)
class _SchemaPair:
    old_defs: Mapping[str, Any]
    new_defs: Mapping[str, Any]

    def objects(self, old: Mapping[str, Any], new: Mapping[str, Any], prefix: str) -> list[Found]:
        """Compare two object schemas key by key (``prefix``: the dotted path so far)."""
        found: list[Found] = []
        old_props, new_props = old.get("properties", {}), new.get("properties", {})
        old_required, new_required = set(old.get("required", ())), set(new.get("required", ()))
        added = [k for k in new_props if k not in old_props]
        for key, prop in old_props.items():
            name = f"{prefix}{key}"
            if key not in new_props:
                twin = next((k for k in added if _same_values(prop, new_props[k])), None)
                hint = f" (renamed to {prefix}{twin!s}?)" if twin else ""
                found.append(
                    (
                        "breaking",
                        f"setting {name!r} was removed{hint}; compositions that set it stop "
                        "validating",
                        f"keep {name!r} (accept and ignore it, or map it to the new key), or "
                        "release a major version",
                    )
                )
                continue
            found += self.values(prop, new_props[key], name)
            if key in new_required and key not in old_required:
                found.append(
                    (
                        "breaking",
                        f"setting {name!r} is now required (it had a default)",
                        f"give {name!r} a default again, or release a major version",
                    )
                )
            elif key in old_required and key not in new_required:
                found.append(("addition", f"setting {name!r} is now optional", ""))
            elif "default" in prop and prop.get("default") != new_props[key].get("default"):
                found.append(
                    (
                        "addition",
                        f"default of setting {name!r} changed from "
                        f"{_show(prop.get('default'))} to {_show(new_props[key].get('default'))}",
                        "say so in the changelog: apps that relied on the default change behaviour",
                    )
                )
        for key in added:
            name = f"{prefix}{key}"
            if key in new_required:
                found.append(
                    (
                        "breaking",
                        f"new setting {name!r} is required and has no default; existing "
                        "compositions do not set it",
                        f"give {name!r} a default (Field(default=...)), or release a major version",
                    )
                )
            else:
                found.append(("addition", f"new optional setting {name!r}", ""))
        if (
            old.get("additionalProperties") is not False
            and new.get("additionalProperties") is False
        ):
            found.append(
                (
                    "breaking",
                    f"{('settings ' + repr(prefix.rstrip('.'))) if prefix else 'settings'} no "
                    "longer accept extra keys",
                    "allow extra keys again, or release a major version",
                )
            )
        return found

    def values(self, old: Mapping[str, Any], new: Mapping[str, Any], name: str) -> list[Found]:
        """Compare what two property schemas accept: each old alternative must survive."""
        old_alts, new_alts = (
            self._alternatives(old, self.old_defs),
            self._alternatives(new, self.new_defs),
        )
        found: list[Found] = []
        used: set[int] = set()
        for alt in old_alts:
            matches = [i for i, b in enumerate(new_alts) if _same_type(alt, b)]
            if not matches:
                found.append(
                    (
                        "breaking",
                        f"setting {name!r} no longer accepts {_describe(alt)} (now "
                        f"{' or '.join(_describe(b) for b in new_alts) or 'nothing'})",
                        f"accept {_describe(alt)} for {name!r} again, or release a major version",
                    )
                )
                continue
            # Several new alternatives of one type (rare): the one losing least is compared.
            best = min(
                (self.narrowing(alt, new_alts[i], name) for i in matches),
                key=lambda result: sum(1 for kind, _, _ in result if kind == "breaking"),
            )
            used.update(matches)
            found += best
        for index, alt in enumerate(new_alts):
            if index not in used:
                found.append(
                    ("addition", f"setting {name!r} now also accepts {_describe(alt)}", "")
                )
        return found

    def narrowing(self, old: Mapping[str, Any], new: Mapping[str, Any], name: str) -> list[Found]:
        """What ``new`` (same type as ``old``) accepts less (breaking) or more (addition)."""
        found: list[Found] = []

        def breaking(what: str) -> None:
            found.append(
                (
                    "breaking",
                    f"setting {name!r} accepts less: {what}",
                    f"relax {name!r} to what it accepted, or release a major version",
                )
            )

        old_values, new_values = _values(old), _values(new)
        if new_values is not None and (old_values is None or not old_values <= new_values):
            lost = "any value" if old_values is None else ", ".join(sorted(old_values - new_values))
            breaking(f"no longer accepts {lost} (allowed now: {', '.join(sorted(new_values))})")
        elif old_values is not None and (new_values is None or new_values > old_values):
            found.append(("addition", f"setting {name!r} accepts more values", ""))
        loosened: list[str] = []
        if (_type_of(old), _type_of(new)) == ("integer", "number"):
            loosened.append("numbers, not only integers")
        for keyword, shown in (("format", "format {}"), ("pattern", "must match {}")):
            if new.get(keyword) != old.get(keyword):
                if keyword in new:
                    breaking(shown.format(repr(new[keyword])) + f" (was {old.get(keyword, 'any')})")
                else:
                    loosened.append(f"no {keyword} (was {old[keyword]!r})")
        for bound in (*_LOWER_BOUNDS, *_UPPER_BOUNDS):
            before, after = old.get(bound), new.get(bound)
            if before == after:
                continue
            lower = bound in _LOWER_BOUNDS
            if after is not None and (
                before is None or (after > before if lower else after < before)
            ):
                breaking(f"{bound} {after} (was {'none' if before is None else before})")
            else:
                loosened.append(f"{bound} {'none' if after is None else after} (was {before})")
        if loosened:
            found.append(("addition", f"setting {name!r} accepts more: {'; '.join(loosened)}", ""))
        kind = _type_of(old)
        if kind == "array" and isinstance(old.get("items"), Mapping):
            found += self.values(old["items"], new.get("items") or {}, f"{name}[]")
        elif kind == "object":
            if "properties" in old or "properties" in new:
                found += self.objects(old, new, f"{name}.")
            elif isinstance(old.get("additionalProperties"), Mapping) and isinstance(
                new.get("additionalProperties"), Mapping
            ):
                found += self.values(
                    old["additionalProperties"], new["additionalProperties"], f"{name}.*"
                )
        return found

    def _alternatives(
        self, prop: Mapping[str, Any], defs: Mapping[str, Any]
    ) -> list[dict[str, Any]]:
        """``prop`` as a list of single-type schemas ($refs resolved, anyOf/type lists split)."""
        prop = self._resolve(prop, defs)
        for key in ("anyOf", "oneOf"):
            if key in prop:
                return [alt for option in prop[key] for alt in self._alternatives(option, defs)]
        if isinstance(prop.get("type"), list):
            return [{**prop, "type": t} for t in prop["type"]]
        return [dict(prop)]

    def _resolve(self, prop: Mapping[str, Any], defs: Mapping[str, Any]) -> Mapping[str, Any]:
        seen: set[str] = set()
        while True:
            ref = prop.get("$ref")
            if ref is None and len(prop.get("allOf", ())) == 1:
                ref = prop["allOf"][0].get("$ref")  # pydantic < 2.9 wraps a $ref in allOf
            if not isinstance(ref, str) or ref in seen:
                return prop
            seen.add(ref)
            target = defs.get(ref.rsplit("/", 1)[-1])
            if target is None:
                return prop
            prop = {**target, **{k: v for k, v in prop.items() if k not in ("$ref", "allOf")}}


def _type_of(schema: Mapping[str, Any]) -> str:
    """The JSON type of a single-type schema (an enum's from its values; ``any``: none)."""
    declared = schema.get("type")
    if isinstance(declared, str):
        return declared
    values = _values(schema)
    if values:
        sample = json.loads(next(iter(values)))
        return {bool: "boolean", int: "integer", float: "number", str: "string",
                type(None): "null", list: "array", dict: "object"}[type(sample)]  # fmt: skip
    if "properties" in schema:
        return "object"
    return "any"


def _same_type(old: Mapping[str, Any], new: Mapping[str, Any]) -> bool:
    """Whether ``new`` can accept the kind of value ``old`` accepted (integer fits number)."""
    before, after = _type_of(old), _type_of(new)
    return after in (before, "any") or (before, after) == ("integer", "number")


def _values(schema: Mapping[str, Any]) -> set[str] | None:
    """The allowed values (as JSON text) of an enum/const schema; ``None``: unrestricted."""
    if "const" in schema:
        return {json.dumps(schema["const"], sort_keys=True)}
    if "enum" in schema:
        return {json.dumps(v, sort_keys=True) for v in schema["enum"]}
    return None


def _same_values(old: Mapping[str, Any], new: Mapping[str, Any]) -> bool:
    """Whether two property schemas accept the same values (a rename keeps them)."""

    def strip(schema: Mapping[str, Any]) -> str:
        return json.dumps(
            {k: v for k, v in schema.items() if k not in _ANNOTATIONS}, sort_keys=True
        )

    return strip(old) == strip(new)


def _describe(schema: Mapping[str, Any]) -> str:
    values = _values(schema)
    if values is not None:
        return " | ".join(sorted(values))
    kind = _type_of(schema)
    return kind + (f" ({schema['format']})" if "format" in schema else "")


def _show(value: Any) -> str:
    return json.dumps(value, sort_keys=True)


# -- the version rule ---------------------------------------------------------------------------


def strongest(changes: Iterable[Change]) -> Kind:
    """``breaking`` beats ``addition`` beats ``unchanged``; ``unknown`` counts as nothing."""
    kinds = {c.kind for c in changes}
    for kind in ("breaking", "addition"):
        if kind in kinds:
            return kind
    return "unchanged"


def minimum_version(previous: Version, kind: Kind) -> Version:
    """The lowest version that may follow ``previous`` with a change of ``kind``."""
    major, minor, micro = (*previous.release, 0, 0, 0)[:3]
    if kind == "breaking":
        return Version(f"{major + 1}.0.0" if major else f"0.{minor + 1}.0")
    if kind == "addition" and major:
        return Version(f"{major}.{minor + 1}.0")
    return Version(f"{major}.{minor}.{micro + 1}")


def allows(previous: Version, version: Version, kind: Kind) -> bool:
    """Whether ``version`` may follow ``previous`` with a change of ``kind`` (see module)."""
    if version <= previous:
        return False
    if kind == "breaking":
        if previous.major == 0:
            return (version.major, version.minor) > (0, previous.minor)
        return version.major > previous.major
    if kind == "addition" and previous.major > 0:
        return (version.major, version.minor) > (previous.major, previous.minor)
    return True


def refusal(previous: Version, version: Version, changes: Iterable[Change]) -> str | None:
    """Why ``version`` may not follow ``previous`` given ``changes`` (``None``: it may)."""
    changes = list(changes)
    kind = strongest(changes)
    if allows(previous, version, kind):
        return None
    if version <= previous:
        return (
            f"version {version} is not higher than the published {previous}; set the version "
            f"in pyproject.toml (and the Pattern's) to at least {minimum_version(previous, kind)}"
        )
    what = "breaking changes" if kind == "breaking" else "additions"
    needed = "a major" if kind == "breaking" else "a minor"
    if previous.major == 0:
        needed = "a minor (0.x)" if kind == "breaking" else needed
    return (
        f"{version} has {what} since {previous} but is not {needed} version bump; release it "
        f"as {minimum_version(previous, kind)} (set it in pyproject.toml and the Pattern), "
        "or undo the changes marked " + kind
    )
