"""The folder index (a PEP 503 simple index with a manifest beside each release), the
checks of a release against an index, and what a package needs before it is built."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from packaging.version import Version

from rainmaker.testing.manifest import LEGACY_SCHEMA_SUFFIX, Manifest, PatternManifest
from rainmaker.testing.publishing import (
    Artifacts,
    FolderIndex,
    PublishError,
    RefusedRelease,
    SimpleIndex,
    check_build_system,
    check_release,
    open_index,
)

SCHEMA: dict[str, Any] = {
    "properties": {"greeting": {"type": "string"}, "times": {"type": "integer"}},
    "required": [],
}


def release(version: str, schema: dict[str, Any] = SCHEMA) -> Manifest:
    return Manifest(
        "greeter", version, {"greeter": PatternManifest(version, schema, routes=("GET /hi",))}
    )


def add(index: FolderIndex, version: str, folder: Path, manifest: Manifest | None = None) -> None:
    folder.mkdir(exist_ok=True)
    sdist = folder / f"greeter-{version}.tar.gz"
    wheel = folder / f"greeter-{version}-py3-none-any.whl"
    sdist.write_bytes(b"sdist " + version.encode())
    wheel.write_bytes(b"wheel " + version.encode())
    index.add("greeter", Version(version), Artifacts(sdist, wheel), manifest or release(version))


@pytest.fixture
def index(tmp_path: Path) -> FolderIndex:
    folder = FolderIndex(tmp_path / "index")
    add(folder, "1.2.0", tmp_path / "dist")
    return folder


def test_index_pages_link_the_files_with_hashes(index: FolderIndex) -> None:
    page = (index.simple / "greeter" / "index.html").read_text()
    assert 'href="greeter-1.2.0-py3-none-any.whl#sha256=' in page
    assert "pattern-manifest" not in page  # pip reads the page: only installable files
    assert 'href="greeter/"' in (index.simple / "index.html").read_text()
    assert index.versions("greeter") == [Version("1.2.0")]
    assert index.manifest("greeter", Version("1.2.0")) == release("1.2.0")


def test_the_folder_reads_the_same_as_its_file_url(index: FolderIndex) -> None:
    url = open_index(index.simple.as_uri())
    assert isinstance(url, SimpleIndex)
    assert url.versions("greeter") == [Version("1.2.0")]
    assert url.manifest("greeter", Version("1.2.0")) == release("1.2.0")
    assert FolderIndex.at(index.simple) == index  # DIR/simple names the same index


def test_existing_and_lower_versions_are_refused(index: FolderIndex, tmp_path: Path) -> None:
    with pytest.raises(PublishError, match=r"greeter 1\.2\.0 is already published"):
        check_release(index, release("1.2.0"))
    with pytest.raises(PublishError, match=r"1\.1\.0 is lower than 1\.2\.0.*pyproject\.toml"):
        check_release(index, release("1.1.0"))


def test_a_breaking_change_is_refused_without_a_major_bump(index: FolderIndex) -> None:
    removed = {"properties": {"greeting": {"type": "string"}}, "required": []}
    with pytest.raises(RefusedRelease, match=r"release it as 2\.0\.0") as refused:
        check_release(index, release("1.3.0", removed))
    assert [c.kind for c in refused.value.comparison.changes] == ["breaking"]
    comparison = check_release(index, release("2.0.0", removed))
    assert comparison.previous == Version("1.2.0")


def test_against_compares_with_the_named_version(index: FolderIndex, tmp_path: Path) -> None:
    add(index, "1.3.0", tmp_path / "dist")
    assert check_release(index, release("1.3.1"), against=Version("1.2.0")).previous == Version(
        "1.2.0"
    )
    with pytest.raises(PublishError, match=r"has no greeter 1\.0\.0 \(it has: 1\.2\.0, 1\.3\.0\)"):
        check_release(index, release("1.3.1"), against=Version("1.0.0"))


def test_a_release_published_before_manifests_is_compared_by_its_settings(
    tmp_path: Path,
) -> None:
    index = FolderIndex(tmp_path / "index")
    add(index, "1.0.0", tmp_path / "dist")
    folder = index.project("greeter")
    (folder / "greeter-1.0.0.pattern-manifest.json").unlink()
    (folder / f"greeter-1.0.0{LEGACY_SCHEMA_SUFFIX}").write_text(json.dumps({"greeter": SCHEMA}))
    old = index.manifest("greeter", Version("1.0.0"))
    assert old is not None and old.patterns["greeter"].routes is None
    with pytest.raises(RefusedRelease, match="breaking"):
        check_release(index, release("1.0.1", {"properties": {}, "required": []}))


def test_a_release_without_manifest_is_not_compared(tmp_path: Path) -> None:
    index = FolderIndex(tmp_path / "index")
    add(index, "1.0.0", tmp_path / "dist")
    (index.project("greeter") / "greeter-1.0.0.pattern-manifest.json").unlink()
    comparison = check_release(index, release("1.0.1", {"properties": {}}))
    assert "no manifest beside greeter 1.0.0" in comparison.note


def test_an_unwritable_index_folder_is_named(tmp_path: Path) -> None:
    blocker = tmp_path / "index"
    blocker.write_text("a file where the index folder should be")
    with pytest.raises(PublishError, match=f"the index folder {blocker}/simple/greeter is not"):
        FolderIndex(blocker).check_writable("greeter")


@pytest.mark.parametrize(
    ("pyproject", "expected"),
    [
        ('[project]\nname = "x"\n', "has no \\[build-system\\] table"),
        ('[build-system]\nbuild-backend = "setuptools.build_meta"\n', "has no requires"),
        ('[build-system]\nrequires = ["setuptools"]\n', "has no build-backend"),
    ],
)
def test_a_pyproject_without_build_system_is_refused_naming_the_fix(
    tmp_path: Path, pyproject: str, expected: str
) -> None:
    (tmp_path / "pyproject.toml").write_text(pyproject)
    with pytest.raises(PublishError, match=expected) as refused:
        check_build_system(tmp_path)
    assert str(tmp_path / "pyproject.toml") in str(refused.value)
    assert 'build-backend = "setuptools.build_meta"' in str(refused.value)
