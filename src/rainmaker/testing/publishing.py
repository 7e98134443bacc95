"""``rainmaker pattern publish``: build, check against what is published, then publish.

Artifacts are built with the standard tooling (``python -m build``, sdist and wheel), then
either uploaded with twine to an index URL, or written into a folder laid out as a
PEP 503 simple index (``DIR/simple/<project>/``) that ``pip install --index-url
file://DIR/simple`` reads. Next to each release in a folder index lies
``<dist>-<version>.settings-schema.json``: the JSON Schema of every pattern's settings, so
the next release can be compared with it.

Refused: a version that the folder already holds, and a backward-incompatible settings
change (a field removed or retyped, a new required field) without a major version bump
(for ``0.x``, a minor bump), compared with the latest published version.
"""

from __future__ import annotations

import hashlib
import html
import json
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from packaging.utils import canonicalize_name, parse_sdist_filename, parse_wheel_filename
from packaging.version import InvalidVersion, Version

from rainmaker.kernel.pattern import Pattern

SCHEMA_SUFFIX = ".settings-schema.json"


class PublishError(Exception):
    """Publishing was refused or failed; the message says why and what to do."""


@dataclass(frozen=True)
class Artifacts:
    """What ``python -m build`` produced."""

    sdist: Path
    wheel: Path


def build(package_root: Path, out: Path) -> Artifacts:
    """Build sdist and wheel of the package at ``package_root`` into ``out``.

    ``--no-isolation`` builds with the backend installed here: no network needed, and the
    same setuptools the tests ran with.
    """
    out.mkdir(parents=True, exist_ok=True)
    result = subprocess.run(
        [sys.executable, "-m", "build", "--no-isolation", "--outdir", str(out), str(package_root)],
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        tail = "\n".join((result.stdout + result.stderr).strip().splitlines()[-15:])
        raise PublishError(f"python -m build failed:\n{tail}")
    sdists = sorted(out.glob("*.tar.gz"))
    wheels = sorted(out.glob("*.whl"))
    if not sdists or not wheels:
        raise PublishError(f"python -m build wrote no sdist and wheel into {out}")
    return Artifacts(sdists[-1], wheels[-1])


# -- schemas ----------------------------------------------------------------------------------


def settings_schemas(patterns: Mapping[str, Pattern[Any]]) -> dict[str, Any]:
    """``pattern id -> settings JSON Schema`` for a release."""
    return {pid: p.settings.model_json_schema() for pid, p in sorted(patterns.items())}


def _field_type(prop: Mapping[str, Any]) -> str:
    """A comparable signature of a property's type (ignoring descriptions and defaults)."""
    keep = {k: prop[k] for k in ("type", "$ref", "anyOf", "oneOf", "allOf", "items", "enum",
                                 "const", "format") if k in prop}  # fmt: skip
    return json.dumps(keep, sort_keys=True)


def incompatibilities(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    """Backward-incompatible differences between two releases' settings schemas."""
    found = []
    for pattern_id, old_schema in old.items():
        new_schema = new.get(pattern_id)
        if new_schema is None:
            found.append(f"pattern {pattern_id} was removed")
            continue
        old_props = old_schema.get("properties", {})
        new_props = new_schema.get("properties", {})
        for name, prop in old_props.items():
            if name not in new_props:
                found.append(f"{pattern_id}: setting {name!r} was removed")
            elif _field_type(prop) != _field_type(new_props[name]):
                found.append(f"{pattern_id}: setting {name!r} changed type")
        newly_required = set(new_schema.get("required", [])) - set(old_schema.get("required", []))
        for name in sorted(newly_required):
            found.append(f"{pattern_id}: setting {name!r} is newly required")
    return found


def is_major_bump(old: Version, new: Version) -> bool:
    """Whether ``new`` may break compatibility with ``old`` (semver; 0.x: the minor)."""
    if old.major == 0 and new.major == 0:
        return new.minor > old.minor
    return new.major > old.major


# -- a folder index ---------------------------------------------------------------------------


@dataclass(frozen=True)
class FolderIndex:
    """A PEP 503 simple index in a folder: ``root/simple/<project>/<files>``."""

    root: Path

    @property
    def simple(self) -> Path:
        return self.root / "simple"

    def project(self, name: str) -> Path:
        return self.simple / canonicalize_name(name)

    def versions(self, name: str) -> list[Version]:
        """Versions of ``name`` the index holds, oldest first."""
        folder = self.project(name)
        found: set[Version] = set()
        if folder.is_dir():
            for file in folder.iterdir():
                try:
                    if file.name.endswith(".whl"):
                        found.add(parse_wheel_filename(file.name)[1])
                    elif file.name.endswith(".tar.gz"):
                        found.add(parse_sdist_filename(file.name)[1])
                except (ValueError, InvalidVersion):
                    continue
        return sorted(found)

    def schema(self, name: str, version: Version) -> dict[str, Any] | None:
        """The settings schemas stored with ``version``, if any."""
        for file in self.project(name).glob(f"*{SCHEMA_SUFFIX}"):
            if file.name.endswith(f"-{version}{SCHEMA_SUFFIX}"):
                data: dict[str, Any] = json.loads(file.read_text(encoding="utf-8"))
                return data
        return None

    def add(self, name: str, version: Version, artifacts: Artifacts, schemas: Any) -> None:
        """Copy the release in and rewrite the project's and the root's index pages."""
        folder = self.project(name)
        folder.mkdir(parents=True, exist_ok=True)
        for artifact in (artifacts.sdist, artifacts.wheel):
            (folder / artifact.name).write_bytes(artifact.read_bytes())
        stem = f"{canonicalize_name(name).replace('-', '_')}-{version}"
        (folder / f"{stem}{SCHEMA_SUFFIX}").write_text(
            json.dumps(schemas, indent=2, sort_keys=True) + "\n", encoding="utf-8"
        )
        self._write_pages(name)

    def _write_pages(self, name: str) -> None:
        folder = self.project(name)
        links = []
        for file in sorted(folder.iterdir()):
            if file.name.endswith((".whl", ".tar.gz")):
                digest = hashlib.sha256(file.read_bytes()).hexdigest()
                href = html.escape(f"{file.name}#sha256={digest}")
                links.append(f'<a href="{href}">{html.escape(file.name)}</a><br>')
        (folder / "index.html").write_text(_page(f"Links for {name}", links), encoding="utf-8")
        projects = sorted(p.name for p in self.simple.iterdir() if p.is_dir())
        root_links = [f'<a href="{html.escape(p)}/">{html.escape(p)}</a><br>' for p in projects]
        (self.simple / "index.html").write_text(_page("Simple index", root_links), encoding="utf-8")


def _page(title: str, links: list[str]) -> str:
    body = "\n".join(links)
    return (
        '<!DOCTYPE html>\n<html><head><meta name="pypi:repository-version" content="1.0">'
        f"<title>{html.escape(title)}</title></head>\n<body>\n<h1>{html.escape(title)}</h1>\n"
        f"{body}\n</body></html>\n"
    )


def check_release(
    index: FolderIndex, name: str, version: Version, schemas: Mapping[str, Any]
) -> None:
    """Refuse an existing version, or a breaking settings change without a major bump."""
    published = index.versions(name)
    if version in published:
        raise PublishError(
            f"{name} {version} is already published in {index.root}; bump the version"
        )
    older = [v for v in published if v < version]
    if not older:
        return
    latest = older[-1]
    previous = index.schema(name, latest)
    if previous is None:
        return
    breaking = incompatibilities(previous, schemas)
    if breaking and not is_major_bump(latest, version):
        raise PublishError(
            f"{name} {version} changes settings incompatibly since {latest} "
            f"({'; '.join(breaking)}) without a major version bump; release it as "
            f"{latest.major + 1}.0.0 (or {latest.major}.{latest.minor + 1}.0 for 0.x), or keep "
            "the old fields"
        )


def upload(artifacts: Artifacts, repository_url: str) -> None:
    """Upload with ``twine upload`` (credentials from twine's usual environment/keyring)."""
    result = subprocess.run(
        [sys.executable, "-m", "twine", "upload", "--non-interactive",
         "--repository-url", repository_url, str(artifacts.sdist), str(artifacts.wheel)],
        capture_output=True,
        text=True,
    )  # fmt: skip
    if result.returncode != 0:
        tail = "\n".join((result.stdout + result.stderr).strip().splitlines()[-10:])
        raise PublishError(f"twine upload to {repository_url} failed:\n{tail}")
