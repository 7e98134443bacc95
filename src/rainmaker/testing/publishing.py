"""``rainmaker pattern publish``: build, check against what is published, then publish.

Building
    The sdist and the wheel are built the way ``python -m build`` builds them: in a fresh
    isolated environment holding only the package's own ``[build-system] requires``, the
    wheel from the sdist (so a file missing from the sdist fails here, not on a user's
    machine). ``isolation=False`` builds with the backend installed in this environment
    instead, for machines that cannot reach an index.

Publishing
    Either to a folder laid out as a PEP 503 simple index (``DIR/simple/<project>/``, read by
    ``pip install --index-url file://DIR/simple``), with the release's pattern manifest
    (:mod:`rainmaker.testing.manifest`) beside it; or uploaded with twine to a repository
    named in ``~/.pypirc`` or to an upload URL.

Checking
    Against the index it goes to (a folder, or the simple index of an upload target): a
    version already there, or lower than the latest there, is refused, and so is a change
    :mod:`rainmaker.testing.compatibility` classifies as breaking without a major bump (or
    an addition without a minor one).
"""

from __future__ import annotations

import hashlib
import html
import importlib.util
import logging
import os
import subprocess
import sys
import tarfile
import tempfile
import tomllib
import urllib.error
import urllib.parse
import urllib.request
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Protocol

from packaging.utils import canonicalize_name, parse_sdist_filename, parse_wheel_filename
from packaging.version import InvalidVersion, Version

from rainmaker.testing.compatibility import Change, compare, refusal
from rainmaker.testing.manifest import (
    LEGACY_SCHEMA_SUFFIX,
    MANIFEST_SUFFIX,
    Manifest,
    ManifestError,
    from_settings_schemas,
)
from rainmaker.testing.simple_index import IndexReadError, fetch, links

TESTING_HINT = 'pip install "rainmaker-patterns[testing]"'
PUBLISH_HINT = 'pip install "rainmaker-patterns[publish]"'
# Simple indexes of the repositories twine knows by name, to check uploads against.
KNOWN_SIMPLE_INDEXES = {
    "pypi": "https://pypi.org/simple/",
    "testpypi": "https://test.pypi.org/simple/",
    "https://upload.pypi.org/legacy/": "https://pypi.org/simple/",
    "https://test.pypi.org/legacy/": "https://test.pypi.org/simple/",
}


class PublishError(Exception):
    """Publishing was refused or failed; the message says why and what to do."""


def release_stem(name: str, version: Version | str) -> str:
    """``my_pattern-1.2.0``: how wheels (and the manifest beside them) spell a release."""
    return f"{canonicalize_name(name).replace('-', '_')}-{version}"


# -- building -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Artifacts:
    """The sdist and the wheel of one release."""

    sdist: Path
    wheel: Path


def check_build_system(package_root: Path) -> None:
    """Refuse a ``pyproject.toml`` without a ``[build-system]`` naming its backend.

    Without one, build tools fall back to whatever setuptools happens to be around (the
    "legacy" backend): a build that works here and nowhere else.
    """
    pyproject = package_root / "pyproject.toml"
    try:
        table = tomllib.loads(pyproject.read_text(encoding="utf-8")).get("build-system")
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise PublishError(f"{pyproject} cannot be read: {exc}") from None
    missing = (
        "has no [build-system] table"
        if not isinstance(table, dict)
        else "[build-system] has no requires"
        if not table.get("requires")
        else "[build-system] has no build-backend"
        if not table.get("build-backend")
        else ""
    )
    if missing:
        raise PublishError(
            f"{pyproject} {missing}; add\n"
            "  [build-system]\n"
            '  requires = ["setuptools>=77"]\n'
            '  build-backend = "setuptools.build_meta"\n'
            "(or the backend you use: hatchling, flit-core, pdm-backend…)"
        )


def build(package_root: Path, out: Path, *, isolation: bool = True) -> Artifacts:
    """Build the sdist, then the wheel from it, of the package at ``package_root``.

    With ``isolation`` (the default, as ``python -m build``) each build runs in a fresh
    environment with only the package's ``[build-system] requires``, installed by pip from
    the indexes pip is configured with.
    """
    check_build_system(package_root)
    if importlib.util.find_spec("build") is None:
        raise PublishError(f"building needs the `build` package: {TESTING_HINT}")
    out.mkdir(parents=True, exist_ok=True)
    with _quiet_build_logs(), warnings.catch_warnings():
        # The backend's warnings (setuptools' "beta" notices) are build chatter, not news.
        warnings.simplefilter("ignore")
        sdist = _build_one(package_root, "sdist", out, isolation)
        with tempfile.TemporaryDirectory(prefix="rm-sdist-") as unpacked:
            with tarfile.open(sdist) as archive:
                archive.extractall(unpacked, filter="data")
            roots = [p for p in Path(unpacked).iterdir() if p.is_dir()]
            if len(roots) != 1:
                raise PublishError(f"{sdist.name} does not hold one top-level folder")
            wheel = _build_one(roots[0], "wheel", out, isolation)
    return Artifacts(sdist, wheel)


def _build_one(
    source: Path, distribution: Literal["sdist", "wheel"], out: Path, isolation: bool
) -> Path:
    from build import BuildBackendException, BuildException, ProjectBuilder
    from build.env import DefaultIsolatedEnv
    from pyproject_hooks import quiet_subprocess_runner

    try:
        if not isolation:
            builder = ProjectBuilder(source, runner=quiet_subprocess_runner)
            missing = builder.check_dependencies(distribution)
            if missing:
                names = sorted({str(chain[0]) for chain in missing})
                raise PublishError(
                    f"building without isolation needs {', '.join(names)} installed here: "
                    f"pip install {' '.join(repr(n) for n in names)}"
                )
            return Path(builder.build(distribution, out))
        with DefaultIsolatedEnv() as env:
            builder = ProjectBuilder.from_isolated_env(env, source, runner=quiet_subprocess_runner)
            try:
                env.install(builder.build_system_requires)
                env.install(builder.get_requires_for_build(distribution))
            except subprocess.CalledProcessError as exc:
                raise PublishError(_isolation_failed(builder.build_system_requires, exc)) from None
            return Path(builder.build(distribution, out))
    except BuildBackendException as exc:
        inner = exc.exception
        output = b""
        if isinstance(inner, subprocess.CalledProcessError):
            output = (inner.stdout or b"") + (inner.stderr or b"")
        text = output.decode(errors="replace") if isinstance(output, bytes) else str(output)
        tail = "\n".join(text.strip().splitlines()[-15:]) or str(exc)
        raise PublishError(
            f"the build backend failed to build the {distribution}:\n{tail}"
        ) from None
    except BuildException as exc:
        raise PublishError(f"{source / 'pyproject.toml'}: {exc}") from None


def _isolation_failed(requires: set[str], exc: subprocess.CalledProcessError) -> str:
    stderr = exc.stderr.decode(errors="replace") if isinstance(exc.stderr, bytes) else ""
    reason = next(
        (line.strip() for line in reversed(stderr.splitlines()) if line.startswith("ERROR")),
        stderr.strip().splitlines()[-1] if stderr.strip() else f"pip exited with {exc.returncode}",
    )
    wanted = " ".join(repr(r) for r in sorted(requires))
    return (
        f"the isolated build environment could not be made: pip could not install the "
        f"package's [build-system] requires ({', '.join(sorted(requires))}): {reason}\n"
        "  offline or behind a mirror: make them reachable (PIP_INDEX_URL / PIP_FIND_LINKS), "
        f"or install them here (pip install {wanted}) and publish with --no-isolation"
    )


@contextmanager
def _quiet_build_logs() -> Iterator[None]:
    """``build`` narrates each step at INFO; a failure is reported by our message."""
    logger = logging.getLogger("build")
    level = logger.level
    logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        logger.setLevel(level)


# -- indexes ------------------------------------------------------------------------------------


class Index(Protocol):
    """Where releases are published: which versions it has and their manifests."""

    @property
    def label(self) -> str: ...

    def versions(self, name: str) -> list[Version]: ...

    def manifest(self, name: str, version: Version) -> Manifest | None: ...


def _version_of(filename: str, name: str) -> Version | None:
    """The version of ``name`` a wheel or sdist file name carries, if it is one of ``name``."""
    try:
        if filename.endswith(".whl"):
            project, version, _, _ = parse_wheel_filename(filename)
        elif filename.endswith(".tar.gz"):
            project, version = parse_sdist_filename(filename)
        else:
            return None
    except (ValueError, InvalidVersion):
        return None
    return version if project == canonicalize_name(name) else None


@dataclass(frozen=True)
class FolderIndex:
    """A PEP 503 simple index in a folder: ``root/simple/<project>/<files>``."""

    root: Path

    @classmethod
    def at(cls, path: Path) -> FolderIndex:
        """The index at ``path``: its root, or its ``simple`` folder."""
        if path.name == "simple" and not (path / "simple").is_dir():
            return cls(path.parent)
        return cls(path)

    @property
    def label(self) -> str:
        return str(self.root)

    @property
    def simple(self) -> Path:
        return self.root / "simple"

    def project(self, name: str) -> Path:
        return self.simple / canonicalize_name(name)

    def versions(self, name: str) -> list[Version]:
        """Versions of ``name`` the index holds, oldest first."""
        folder = self.project(name)
        found = {
            v for file in (folder.iterdir() if folder.is_dir() else ())
            if (v := _version_of(file.name, name)) is not None
        }  # fmt: skip
        return sorted(found)

    def manifest(self, name: str, version: Version) -> Manifest | None:
        """The manifest stored with ``version`` (or one read from a legacy settings schema)."""
        stem = self.project(name) / release_stem(name, version)
        path = stem.with_name(stem.name + MANIFEST_SUFFIX)
        if path.is_file():
            return Manifest.from_json(path.read_text(encoding="utf-8"), source=str(path))
        legacy = stem.with_name(stem.name + LEGACY_SCHEMA_SUFFIX)
        if legacy.is_file():
            return _legacy(legacy.read_text(encoding="utf-8"), str(legacy), name, version)
        return None

    def check_writable(self, name: str) -> None:
        """Refuse early, before building, when the project's folder cannot be written."""
        folder = self.project(name)
        try:
            folder.mkdir(parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile(dir=folder, prefix=".rm-probe-"):
                pass
        except OSError as exc:
            raise PublishError(
                f"the index folder {folder} is not writable ({exc.strerror or exc}); give "
                "--to a folder you can write, or fix its permissions"
            ) from None

    def add(self, name: str, version: Version, artifacts: Artifacts, manifest: Manifest) -> None:
        """Copy the release and its manifest in, then rewrite the index pages."""
        folder = self.project(name)
        try:
            folder.mkdir(parents=True, exist_ok=True)
            for artifact in (artifacts.sdist, artifacts.wheel):
                (folder / artifact.name).write_bytes(artifact.read_bytes())
            (folder / f"{release_stem(name, version)}{MANIFEST_SUFFIX}").write_text(
                manifest.to_json(), encoding="utf-8"
            )
            self._write_pages(name)
        except OSError as exc:
            raise PublishError(f"cannot write into the index folder {folder}: {exc}") from None

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


def _legacy(text: str, source: str, name: str, version: Version) -> Manifest:
    import json

    try:
        schemas = json.loads(text)
        if not isinstance(schemas, dict):
            raise ValueError("not an object")
    except ValueError as exc:
        raise ManifestError(f"{source} is not a settings schema file ({exc})") from None
    return from_settings_schemas(name, str(version), schemas)


@dataclass(frozen=True)
class SimpleIndex:
    """A PEP 503 simple index at a URL (``https://…/simple/`` or ``file://…/simple/``)."""

    url: str

    @property
    def label(self) -> str:
        return self.url

    def project_url(self, name: str) -> str:
        return urllib.parse.urljoin(self.url.rstrip("/") + "/", f"{canonicalize_name(name)}/")

    def versions(self, name: str) -> list[Version]:
        """Versions of ``name`` the index lists (none when it does not know the project)."""
        page = _fetch(self.project_url(name))
        if page is None:
            return []
        found = set()
        for href in links(page):
            filename = urllib.parse.unquote(urllib.parse.urlsplit(href).path.rsplit("/", 1)[-1])
            version = _version_of(filename, name)
            if version is not None:
                found.add(version)
        return sorted(found)

    def manifest(self, name: str, version: Version) -> Manifest | None:
        """The manifest file beside the release, if the index serves one."""
        base = self.project_url(name) + release_stem(name, version)
        text = _fetch(base + MANIFEST_SUFFIX)
        if text is not None:
            return Manifest.from_json(text.decode("utf-8"), source=base + MANIFEST_SUFFIX)
        legacy = _fetch(base + LEGACY_SCHEMA_SUFFIX)
        if legacy is not None:
            return _legacy(legacy.decode("utf-8"), base + LEGACY_SCHEMA_SUFFIX, name, version)
        return None


def _fetch(url: str) -> bytes | None:
    try:
        return fetch(url)
    except IndexReadError as exc:
        raise PublishError(str(exc)) from None


def open_index(where: str) -> Index:
    """An index from a folder path, a ``file://`` URL or an ``http(s)://`` simple-index URL."""
    if "://" not in where:
        return FolderIndex.at(Path(where))
    scheme = urllib.parse.urlsplit(where).scheme
    if scheme not in ("file", "http", "https"):
        raise PublishError(f"{where}: an index is a folder, or a file://, http:// or https:// URL")
    return SimpleIndex(where)


# -- checking a release against an index --------------------------------------------------------


@dataclass(frozen=True)
class Comparison:
    """A release compared with the previous one an index holds."""

    index: str
    previous: Version | None
    changes: list[Change]
    note: str = ""


def previous_release(index: Index, name: str, version: Version) -> Version | None:
    """The highest version of ``name`` in ``index`` below ``version``."""
    older = [v for v in index.versions(name) if v < version]
    return older[-1] if older else None


def check_release(
    index: Index, manifest: Manifest, *, against: Version | None = None
) -> Comparison:
    """Compare ``manifest`` with the previous release in ``index``; raise when refused.

    Refused: a version the index already holds, one lower than its latest, and a change
    the version does not announce (see :func:`rainmaker.testing.compatibility.refusal`).
    ``against`` compares with that published version instead of the previous one.
    """
    name, version = manifest.distribution, Version(manifest.version)
    published = index.versions(name)
    if against is None:
        if version in published:
            raise PublishError(
                f"{name} {version} is already published in {index.label}; bump the version in "
                "pyproject.toml (and the Pattern's)"
            )
        if published and version < published[-1]:
            raise PublishError(
                f"{name} {version} is lower than {published[-1]}, the latest in {index.label}; "
                f"set a version above {published[-1]} in pyproject.toml (and the Pattern's)"
            )
        previous = published[-1] if published else None
    else:
        if against not in published:
            shown = ", ".join(str(v) for v in published) or "none"
            raise PublishError(
                f"{index.label} has no {name} {against} (it has: {shown}); give --against a "
                "published version, or the index that holds it"
            )
        previous = against
    if previous is None:
        return Comparison(index.label, None, [], f"no earlier release of {name} in {index.label}")
    try:
        old = index.manifest(name, previous)
    except ManifestError as exc:
        raise PublishError(str(exc)) from None
    if old is None:
        return Comparison(
            index.label,
            previous,
            [],
            f"{index.label} has no manifest beside {name} {previous} (not published by "
            "rainmaker): compatibility not compared",
        )
    changes = compare(old, manifest)
    refused = refusal(previous, version, changes)
    if refused:
        raise RefusedRelease(refused, Comparison(index.label, previous, changes))
    return Comparison(index.label, previous, changes)


class RefusedRelease(PublishError):
    """The version does not announce the changes; ``comparison`` lists them."""

    def __init__(self, message: str, comparison: Comparison) -> None:
        super().__init__(message)
        self.comparison = comparison


# -- uploading ----------------------------------------------------------------------------------


def upload(artifacts: Artifacts, *, repository: str | None = None, url: str | None = None) -> None:
    """Upload with twine to a repository named in ``~/.pypirc`` or to an upload URL.

    Credentials come from twine's usual places (``TWINE_USERNAME``/``TWINE_PASSWORD``,
    ``~/.pypirc``, keyring); twine never prompts here.
    """
    if importlib.util.find_spec("twine") is None:
        raise PublishError(f"uploading needs twine: {PUBLISH_HINT}")
    target = ["--repository", repository] if repository else ["--repository-url", str(url)]
    result = subprocess.run(
        [sys.executable, "-m", "twine", "upload", "--non-interactive", *target,
         str(artifacts.sdist), str(artifacts.wheel)],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )  # fmt: skip
    if result.returncode != 0:
        tail = "\n".join((result.stdout + result.stderr).strip().splitlines()[-10:])
        raise PublishError(f"twine upload to {repository or url} failed:\n{tail}")


def default_index() -> str:
    """The index a bare version is looked up in: pip's ``$PIP_INDEX_URL``, else PyPI."""
    return os.environ.get("PIP_INDEX_URL") or KNOWN_SIMPLE_INDEXES["pypi"]
