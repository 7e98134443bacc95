"""What a package index offers: its pattern distributions and the pattern ids they declare.

An index is a PEP 503 simple index: a folder written by ``rainmaker pattern publish --to
DIR`` (or its ``file://`` URL), or an ``http(s)://…/simple/`` URL. A *pattern distribution*
declares the ``rainmaker.patterns`` entry-point group. Of each project, the latest release
is read: the pattern manifest the index keeps beside it when there is one (what ``publish``
writes: ids, versions, provides, requires), else the ``entry_points.txt`` inside its wheel
(ids only). Nothing is installed or imported.
"""

from __future__ import annotations

import configparser
import io
import urllib.error
import urllib.parse
import urllib.request
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from packaging.utils import canonicalize_name, parse_sdist_filename, parse_wheel_filename
from packaging.version import InvalidVersion, Version

from rainmaker.kernel.catalog import ENTRY_POINT_GROUP
from rainmaker.testing.simple_index import IndexReadError, fetch, links

# Every project is read one by one: a public index such as PyPI (hundreds of thousands of
# projects) is refused instead of being walked.
MAX_PROJECTS = 500



class NotAnIndex(IndexReadError):
    """What ``--index`` names cannot be an index at all (a usage error, not a failure)."""


@dataclass(frozen=True)
class OfferedPattern:
    """One pattern id a distribution in the index declares (``None``: the index does not say)."""

    id: str
    distribution: str
    release: str
    version: str | None = None
    provides: tuple[str, ...] | None = None
    requires: tuple[str, ...] | None = None


@dataclass
class Offer:
    """What an index offers, and the releases that could not be inspected (and why)."""

    index: str
    patterns: list[OfferedPattern] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def find(self, pattern_id: str) -> OfferedPattern | None:
        """The offered pattern with this id, if any."""
        return next((p for p in self.patterns if p.id == pattern_id), None)


def simple_url(where: str) -> str:
    """The simple-index URL of ``where``: a URL as given, a folder as ``file://…/simple/``."""
    if "://" in where:
        scheme = urllib.parse.urlsplit(where).scheme
        if scheme not in ("file", "http", "https"):
            raise NotAnIndex(
                f"{where}: an index is a folder, or a file://, http:// or https:// URL"
            )
        return where.rstrip("/") + "/"
    folder = Path(where).expanduser().resolve()
    if (folder / "simple").is_dir():
        folder = folder / "simple"
    if not folder.is_dir():
        raise NotAnIndex(
            f"no index folder at {folder}; give --index a folder written by "
            "`rainmaker pattern publish --to DIR`, or a simple-index URL"
        )
    return folder.as_uri() + "/"


def read_offer(where: str) -> Offer:
    """Every pattern the index at ``where`` offers, from the latest release of each project."""
    url = simple_url(where)
    root = fetch(url)
    if root is None:
        raise IndexReadError(f"no simple index at {url} (no index page); check the address")
    projects = sorted({_last_segment(href) for href in links(root)} - {""})
    if len(projects) > MAX_PROJECTS:
        raise IndexReadError(
            f"{url} lists {len(projects)} projects; --available reads each one, so point it at "
            "an index of pattern packages (a folder from `rainmaker pattern publish --to DIR`, "
            "or your organisation's pattern index)"
        )
    offer = Offer(url)
    for project in projects:
        _read_project(url, project, offer)
    offer.patterns.sort(key=lambda p: p.id)
    return offer


def _read_project(index_url: str, project: str, offer: Offer) -> None:
    project_url = urllib.parse.urljoin(index_url, f"{canonicalize_name(project)}/")
    page = fetch(project_url)
    if page is None:
        offer.notes.append(f"{project}: the index lists it but has no page for it")
        return
    releases: dict[Version, list[str]] = {}
    name = project
    for href in links(page):
        filename = urllib.parse.unquote(_last_segment(href.split("#", 1)[0]))
        parsed = _release_of(filename)
        if parsed is not None:
            name, version = parsed
            releases.setdefault(version, []).append(href)
    if not releases:
        return
    latest = max(releases)
    found = _from_manifest(index_url, name, latest, offer)
    if found is None:
        wheels = [h for h in releases[latest] if h.split("#", 1)[0].endswith(".whl")]
        if not wheels:
            offer.notes.append(f"{name} {latest}: only an sdist, not inspected")
            return
        found = _from_wheel(project_url, name, latest, wheels[0], offer)
    offer.patterns.extend(found)


def _from_manifest(
    index_url: str, name: str, version: Version, offer: Offer
) -> list[OfferedPattern] | None:
    # publish writes the manifest; its reader lives with it (rainmaker.testing).
    from rainmaker.testing.manifest import ManifestError
    from rainmaker.testing.publishing import PublishError, SimpleIndex

    try:
        manifest = SimpleIndex(index_url).manifest(name, version)
    except (ManifestError, PublishError) as exc:
        offer.notes.append(f"{name} {version}: manifest not read ({exc}); read its wheel instead")
        return None
    if manifest is None:
        return None
    return [
        OfferedPattern(
            id=pattern_id,
            distribution=name,
            release=str(version),
            version=entry.version,
            provides=None
            if entry.provides is None
            else tuple(f"{p.capability} {p.version}" for p in entry.provides),
            requires=None
            if entry.requires is None
            else tuple(
                r.capability + (" (optional)" if r.optional else "") for r in entry.requires
            ),
        )
        for pattern_id, entry in sorted(manifest.patterns.items())
    ]


def _from_wheel(
    project_url: str, name: str, version: Version, href: str, offer: Offer
) -> list[OfferedPattern]:
    wheel_url = urllib.parse.urljoin(project_url, href.split("#", 1)[0])
    body = fetch(wheel_url)
    if body is None:
        offer.notes.append(f"{name} {version}: the wheel link {wheel_url} is broken")
        return []
    try:
        with zipfile.ZipFile(io.BytesIO(body)) as wheel:
            names = [n for n in wheel.namelist() if n.endswith(".dist-info/entry_points.txt")]
            text = wheel.read(names[0]).decode("utf-8") if names else ""
    except (zipfile.BadZipFile, KeyError, UnicodeDecodeError) as exc:
        offer.notes.append(f"{name} {version}: the wheel cannot be read ({exc})")
        return []
    entries = configparser.ConfigParser(interpolation=None, delimiters=("=",))
    entries.optionxform = str  # type: ignore[assignment,method-assign]  # ids keep their case
    try:
        entries.read_string(text)
    except configparser.Error as exc:
        offer.notes.append(f"{name} {version}: its entry_points.txt cannot be read ({exc})")
        return []
    if not entries.has_section(ENTRY_POINT_GROUP):
        return []  # not a pattern distribution
    return [
        OfferedPattern(id=pattern_id, distribution=name, release=str(version))
        for pattern_id in entries.options(ENTRY_POINT_GROUP)
    ]


def _release_of(filename: str) -> tuple[str, Version] | None:
    try:
        if filename.endswith(".whl"):
            project, version, _, _ = parse_wheel_filename(filename)
        elif filename.endswith(".tar.gz"):
            project, version = parse_sdist_filename(filename)
        else:
            return None
    except (ValueError, InvalidVersion):
        return None
    return str(project), version


def _last_segment(href: str) -> str:
    return urllib.parse.urlsplit(href).path.rstrip("/").rsplit("/", 1)[-1]
