"""The migrator reads a branch's heads from its files without Alembic (a cold start then
never imports Alembic); it must find what Alembic's ``ScriptDirectory`` finds, and hand
over to Alembic whenever the files are not plain."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.script import ScriptDirectory

from rainmaker.patterns.database.migrator import TEMPLATE_DIR, _declared_heads

ROOT = Path(__file__).resolve().parents[3]
BRANCHES = sorted(
    path
    for base in ("src", "tests", "examples")
    for path in (ROOT / base).rglob("migrations")
    if path.is_dir() and any(path.glob("*.py")) and "scaffold" not in path.parts
)


def test_the_repository_has_branches_to_compare() -> None:
    assert len(BRANCHES) >= 8


@pytest.mark.parametrize("directory", BRANCHES, ids=lambda p: str(p.relative_to(ROOT)))
def test_declared_heads_are_alembics(directory: Path) -> None:
    script = ScriptDirectory(str(TEMPLATE_DIR), version_locations=[str(directory)])
    assert _declared_heads(directory) == tuple(sorted(script.get_heads()))


def write(folder: Path, name: str, text: str) -> None:
    (folder / name).write_text(text, encoding="utf-8")


def test_a_linear_branch_and_a_merge(tmp_path: Path) -> None:
    write(tmp_path, "__init__.py", "")
    write(tmp_path, "a.py", 'revision = "a"\ndown_revision = None\n')
    write(tmp_path, "b.py", 'revision: str = "b"\ndown_revision: str | None = "a"\n')
    write(tmp_path, "c.py", 'revision = "c"\ndown_revision = "a"\n')
    assert _declared_heads(tmp_path) == ("b", "c")
    write(tmp_path, "d.py", 'revision = "d"\ndown_revision = ("b", "c")\n')
    assert _declared_heads(tmp_path) == ("d",)


@pytest.mark.parametrize(
    "text",
    [
        "down_revision = None\n",  # no revision: Alembic reports the file
        'revision = make_id()\ndown_revision = None\n',  # not a literal
        'revision = "b"\ndown_revision = "missing"\n',  # a parent that does not exist
        'revision = "a"\ndown_revision = None\n',  # a duplicate of a.py
        "revision = (\n",  # not Python
    ],
)
def test_anything_but_plain_files_goes_to_alembic(tmp_path: Path, text: str) -> None:
    write(tmp_path, "a.py", 'revision = "a"\ndown_revision = None\n')
    write(tmp_path, "b.py", text)
    assert _declared_heads(tmp_path) is None


def test_an_empty_branch_has_no_heads(tmp_path: Path) -> None:
    assert _declared_heads(tmp_path) == ()
