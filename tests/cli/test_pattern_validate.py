"""`rainmaker pattern validate`: a fresh scaffold has no findings; each kind of fault has one."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner

from rainmaker.cli.main import app
from rainmaker.cli.scaffold import create

_numbers = itertools.count()


def scaffold(tmp_path: Path) -> tuple[Path, str]:
    """A new package with an id no other test uses (its modules stay imported)."""
    name = f"validated-{next(_numbers)}"
    folder = tmp_path / name
    create(name, folder)
    return folder, name.replace("-", "_")


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new))


def validate(folder: Path) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["pattern", "validate", str(folder)], terminal_width=300)
    return result.exit_code, result.output


def test_fresh_scaffold_has_no_findings(tmp_path: Path) -> None:
    folder, _ = scaffold(tmp_path)
    code, output = validate(folder)
    assert code == 0, output
    assert "no findings" in output


def _no_description(folder: Path, package: str) -> None:
    edit(folder / "pyproject.toml", 'description = "', 'summary = "')


def _not_semver(folder: Path, package: str) -> None:
    edit(folder / "pyproject.toml", 'version = "0.1.0"', 'version = "0.1"')


def _entry_point_broken(folder: Path, package: str) -> None:
    edit(folder / "pyproject.toml", f'{package}.pattern:{package}"', f'{package}.pattern:missing"')


def _undocumented_setting(folder: Path, package: str) -> None:
    edit(
        folder / "src" / package / "settings.py",
        "description=\"What GET /hello answers in its 'message'.\"",
        "",
    )


def _bad_example(folder: Path, package: str) -> None:
    edit(folder / "src" / package / "pattern.py", '{"greeting": "bonjour"}', '{"greeting": ""}')


def _migration_outside_prefix(folder: Path, package: str) -> None:
    edit(
        folder / "src" / package / "migrations" / "0001_initial.py",
        f'op.create_table(\n        "{package}_notes"',
        'op.create_table(\n        "users"',
    )


def _heavy_import(folder: Path, package: str) -> None:
    edit(folder / "src" / package / "pattern.py", "from __future__ import annotations\n",
         "from __future__ import annotations\n\nimport jinja2  # noqa: F401\n")  # fmt: skip


def _missing_capability(folder: Path, package: str) -> None:
    edit(
        folder / "src" / package / "pattern.py",
        "requires=[Database.optional()]",
        'requires=[Database.optional(), __import__("rainmaker").Capability("Teleport", object)]',
    )


def _unsatisfiable_range(folder: Path, package: str) -> None:
    edit(
        folder / "src" / package / "pattern.py",
        "requires=[Database.optional()]",
        'requires=[Database.optional().within(">=2")]',
    )


def _versions_differ(folder: Path, package: str) -> None:
    edit(folder / "src" / package / "pattern.py", 'version="0.1.0"', 'version="0.2.0"')


FAULTS: list[tuple[Callable[[Path, str], None], str]] = [
    (_no_description, "[metadata] pyproject.toml [project] has no description"),
    (_not_semver, "[semver] package version '0.1' is not semantic"),
    (_entry_point_broken, "[entry-point] pattern entry point"),
    (_undocumented_setting, "[settings] validated-{n}: setting 'greeting' has no description"),
    (_bad_example, "[examples] validated-{n}: example 2 does not validate"),
    (_migration_outside_prefix, "touches table 'users', outside its prefix"),
    (_heavy_import, "[imports] validated-{n}: importing {package}.pattern imports jinja2"),
    (_missing_capability, "[requires] validated-{n}: requires Teleport, which no installed"),
    (_unsatisfiable_range, "[versions] validated-{n}: requires Database >=2, which no installed"),
    (_versions_differ, "[semver] validated-{n}: pattern version 0.2.0 differs from the package"),
]


@pytest.mark.parametrize(("fault", "expected"), FAULTS, ids=[f.__name__[1:] for f, _ in FAULTS])
def test_each_fault_is_one_finding(
    tmp_path: Path, fault: Callable[[Path, str], None], expected: str
) -> None:
    folder, package = scaffold(tmp_path)
    fault(folder, package)
    code, output = validate(folder)
    n = package.rsplit("_", 1)[-1]
    expected = expected.format(n=n, package=package)
    assert code == 1, output
    assert expected in output, output


def test_validate_an_installed_pattern_by_id() -> None:
    result = CliRunner().invoke(app, ["pattern", "validate", "cache-memory"])
    assert result.exit_code == 0, result.output
    assert "cache-memory 1.0.0 (installed): no findings" in result.output


def test_validate_an_unknown_target() -> None:
    result = CliRunner().invoke(app, ["pattern", "validate", "no-such-pattern"])
    assert result.exit_code == 2
    assert "no folder and no installed pattern named 'no-such-pattern'" in result.output
