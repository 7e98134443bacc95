"""Publishing refuses an existing version and an incompatible settings change without a
major bump; the folder index is a PEP 503 simple index."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from packaging.version import Version

from rainmaker.testing.publishing import (
    Artifacts,
    FolderIndex,
    PublishError,
    check_release,
    incompatibilities,
)

OLD = {
    "greeter": {
        "properties": {"greeting": {"type": "string"}, "times": {"type": "integer"}},
        "required": [],
    }
}


def schema(**changes: Any) -> dict[str, Any]:
    props = dict(OLD["greeter"]["properties"])
    props.update(changes.get("properties", {}))
    for name in changes.get("removed", []):
        props.pop(name)
    return {"greeter": {"properties": props, "required": changes.get("required", [])}}


@pytest.fixture
def index(tmp_path: Path) -> FolderIndex:
    built = tmp_path / "dist"
    built.mkdir()
    sdist, wheel = built / "greeter-1.2.0.tar.gz", built / "greeter-1.2.0-py3-none-any.whl"
    sdist.write_bytes(b"sdist")
    wheel.write_bytes(b"wheel")
    folder = FolderIndex(tmp_path / "index")
    folder.add("greeter", Version("1.2.0"), Artifacts(sdist, wheel), OLD)
    return folder


def test_index_pages_link_the_files_with_hashes(index: FolderIndex) -> None:
    page = (index.simple / "greeter" / "index.html").read_text()
    assert 'href="greeter-1.2.0-py3-none-any.whl#sha256=' in page
    assert 'href="greeter/"' in (index.simple / "index.html").read_text()
    assert index.versions("greeter") == [Version("1.2.0")]


def test_existing_version_is_refused(index: FolderIndex) -> None:
    with pytest.raises(PublishError, match=r"greeter 1\.2\.0 is already published"):
        check_release(index, "greeter", Version("1.2.0"), OLD)


@pytest.mark.parametrize(
    ("new", "reason"),
    [
        (schema(removed=["times"]), "setting 'times' was removed"),
        (schema(properties={"times": {"type": "string"}}), "setting 'times' changed type"),
        (schema(properties={"to": {"type": "string"}}, required=["to"]), "'to' is newly required"),
    ],
    ids=["removed", "retyped", "new-required"],
)
def test_breaking_change_needs_a_major_bump(
    index: FolderIndex, new: dict[str, Any], reason: str
) -> None:
    with pytest.raises(PublishError, match=f"without a major version bump.*{reason}|{reason}"):
        check_release(index, "greeter", Version("1.3.0"), new)
    check_release(index, "greeter", Version("2.0.0"), new)  # a major bump may break


def test_compatible_changes_need_no_major_bump(index: FolderIndex) -> None:
    added_optional = schema(properties={"tone": {"type": "string", "description": "new"}})
    assert incompatibilities(OLD, added_optional) == []
    check_release(index, "greeter", Version("1.2.1"), added_optional)
