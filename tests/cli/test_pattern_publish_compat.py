"""``rainmaker pattern publish`` and ``validate --against`` through the installed console
script: a release 1.0.0 is published to a folder index once, then each test changes a copy
of the package the way an author would and asks whether the new version may follow it.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow
RAINMAKER = str(Path(sys.executable).with_name("rainmaker"))
PUBLISHED = "1.0.0"


def rainmaker(*args: str, cwd: Path, env: dict[str, str] | None = None) -> tuple[int, str]:
    """Run the console script; its exit code and everything it printed."""
    result = subprocess.run(
        [RAINMAKER, *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "COLUMNS": "400", **(env or {})},
    )
    return result.returncode, result.stdout + result.stderr


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new))


def add_setting(package: Path, line: str) -> None:
    """Declare one more setting (a line of the settings class) before ``greeting``."""
    edit(package / "src/cachy/settings.py", "    greeting: str", f"    {line}\n    greeting: str")


def set_version(package: Path, version: str, current: str = PUBLISHED) -> None:
    edit(package / "pyproject.toml", f'version = "{current}"', f'version = "{version}"')
    edit(package / "src/cachy/pattern.py", f'version="{current}"', f'version="{version}"')


@pytest.fixture(scope="module")
def published(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(the package folder at 1.0.0, the folder index holding its 1.0.0 release)."""
    root = tmp_path_factory.mktemp("compat")
    code, output = rainmaker("pattern", "create", "cachy", "--capability", "Cache", cwd=root)
    assert code == 0, output
    package = root / "cachy"
    set_version(package, PUBLISHED, current="0.1.0")
    # `publish --skip-tests` must not need pytest: a pytest that cannot be imported is first
    # on the path of the command (and of what it starts, but for the isolated build).
    blocker = root / "no-pytest" / "pytest"
    blocker.mkdir(parents=True)
    (blocker / "__init__.py").write_text(
        "raise ImportError('publish --skip-tests imported pytest')"
    )
    code, output = rainmaker(
        "pattern", "publish", str(package), "--to", str(root / "index"), "--skip-tests",
        cwd=root, env={"PYTHONPATH": str(blocker.parent)},
    )  # fmt: skip
    assert code == 0, output
    assert f"published cachy {PUBLISHED}" in output
    manifest = json.loads(
        (root / "index/simple/cachy/cachy-1.0.0.pattern-manifest.json").read_text()
    )
    entry = manifest["patterns"]["cachy"]
    assert entry["routes"] == ["GET /cachy/hello"]
    assert entry["provides"] == [{"capability": "Cache", "version": "1.0"}]
    assert [m["down_revision"] for m in entry["migrations"]] == [None]
    return package, root / "index"


@pytest.fixture
def package(published: tuple[Path, Path], tmp_path: Path) -> Path:
    """A copy of the published package, free to change."""
    copy = tmp_path / "cachy"
    shutil.copytree(published[0], copy)
    return copy


def against(package: Path, index: Path, *extra: str) -> tuple[int, str]:
    return rainmaker("pattern", "validate", str(package), "--against", str(index), *extra,
                     cwd=package.parent)  # fmt: skip


def _remove_greeting(package: Path) -> None:
    edit(
        package / "src/cachy/settings.py",
        'greeting: str = Field(\n        "hello", min_length=1, description="What GET /hello '
        "answers in its 'message'.\"\n    )\n",
        "",
    )
    edit(package / "src/cachy/module.py", "settings.greeting", '"hello"')
    edit(package / "src/cachy/pattern.py", '"greeting": "bonjour", ', "")


def test_removing_a_setting_needs_a_major_bump(package: Path, published: tuple[Path, Path]) -> None:
    _remove_greeting(package)
    set_version(package, "1.1.0")
    code, output = against(package, published[1])
    assert code == 1, output
    assert "[breaking] cachy: setting 'greeting' was removed" in output
    assert "release it as 2.0.0" in output

    set_version(package, "2.0.0", current="1.1.0")
    code, output = against(package, published[1])
    assert code == 0, output
    assert "[breaking] cachy: setting 'greeting' was removed" in output  # still reported
    assert "no findings" in output


def test_a_new_required_setting_without_default_is_breaking(
    package: Path, published: tuple[Path, Path]
) -> None:
    add_setting(package, 'to: str = Field(description="Whom to greet.")')
    examples = 'examples=[{"to": "you"}, {"to": "me", '
    edit(package / "src/cachy/pattern.py", "examples=[{}, {", examples)
    set_version(package, "1.1.0")
    code, output = against(package, published[1])
    assert code == 1, output
    assert "new setting 'to' is required and has no default" in output
    assert "give 'to' a default" in output


def test_an_added_optional_setting_needs_a_minor_bump(
    package: Path, published: tuple[Path, Path]
) -> None:
    add_setting(package, 'to: str = Field("you", description="Whom to greet.")')
    set_version(package, "1.0.1")
    code, output = against(package, published[1])
    assert code == 1, output
    assert "[addition] cachy: new optional setting 'to'" in output
    assert "release it as 1.1.0" in output

    set_version(package, "1.1.0", current="1.0.1")
    code, output = against(package, published[1])
    assert code == 0, output


def test_a_removed_provision_is_breaking(package: Path, published: tuple[Path, Path]) -> None:
    edit(package / "src/cachy/pattern.py", "provides=[Cache],", "provides=[],")
    edit(package / "src/cachy/pattern.py", "from rainmaker.capabilities.cache import Cache\n", "")
    set_version(package, "1.1.0")
    code, output = against(package, published[1])
    assert code == 1, output
    assert "[breaking] cachy: no longer provides Cache" in output


def test_a_dropped_route_is_breaking(package: Path, published: tuple[Path, Path]) -> None:
    edit(package / "src/cachy/module.py", '@router.get("/hello")', '@router.get("/hi")')
    set_version(package, "1.1.0")
    code, output = against(package, published[1])
    assert code == 1, output
    assert "[breaking] cachy: route GET /cachy/hello was dropped" in output
    assert "[addition] cachy: new route GET /cachy/hi" in output


def test_a_changed_migration_history_is_breaking(
    package: Path, published: tuple[Path, Path]
) -> None:
    migration = package / "src/cachy/migrations/0001_initial.py"
    revision = next(
        line.split('"')[1] for line in migration.read_text().splitlines()
        if line.startswith("revision")
    )  # fmt: skip
    edit(migration, f'revision: str = "{revision}"', 'revision: str = "0123456789ab"')
    set_version(package, "1.1.0")
    code, output = against(package, published[1])
    assert code == 1, output
    assert f"[breaking] cachy: published migration '{revision}' was removed" in output


def test_against_a_version_in_an_index_url(package: Path, published: tuple[Path, Path]) -> None:
    set_version(package, "1.0.1")
    index_url = (published[1] / "simple").as_uri()
    code, output = against(package, Path(PUBLISHED), "--index", index_url)
    assert code == 0, output
    assert f"compared with cachy {PUBLISHED} in {index_url}" in output
    assert "[unchanged] cachy" in output

    code, output = against(package, Path("0.9.0"), "--index", index_url)
    assert code == 1, output
    assert "has no cachy 0.9.0 (it has: 1.0.0)" in output

    code, output = against(package, Path("no-such-index"))
    assert code == 2, output
    assert "no such folder, and not a version" in output


def test_publish_refuses_what_the_index_already_holds(
    package: Path, published: tuple[Path, Path]
) -> None:
    code, output = rainmaker("pattern", "publish", str(package), "--to", str(published[1]),
                             "--skip-tests", cwd=package.parent)  # fmt: skip
    assert code == 1, output
    assert "cachy 1.0.0 is already published" in output
    _remove_greeting(package)
    set_version(package, "1.1.0")
    code, output = rainmaker("pattern", "publish", str(package), "--to", str(published[1]),
                             "--skip-tests", cwd=package.parent)  # fmt: skip
    assert code == 1, output
    assert "setting 'greeting' was removed" in output and "not published" in output
    assert not list((published[1] / "simple/cachy").glob("*1.1.0*"))


def test_publish_names_a_bad_target_or_package(package: Path, tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    code, output = rainmaker("pattern", "publish", str(package), "--to", str(blocker),
                             "--skip-tests", cwd=tmp_path)  # fmt: skip
    assert code == 1, output
    assert f"the index folder {blocker}/simple/cachy is not writable" in output

    code, output = rainmaker("pattern", "publish", str(package), cwd=tmp_path)
    assert code == 2, output
    assert "give one of --to DIR" in output

    code, output = rainmaker("pattern", "publish", str(package), "--repository", "./index",
                             cwd=tmp_path)  # fmt: skip
    assert code == 2, output
    assert "give --to ./index" in output

    pyproject = package / "pyproject.toml"
    text = pyproject.read_text()
    pyproject.write_text(text[text.index("[project]") :])
    code, output = rainmaker("pattern", "publish", str(package), "--to", str(tmp_path / "i"),
                             "--skip-tests", cwd=tmp_path)  # fmt: skip
    assert code == 1, output
    assert f"{pyproject} has no [build-system] table" in output
    assert "Traceback" not in output
