"""App-local patterns join a copy of the caller's catalog, never the catalog itself.

The app folder stays on ``sys.path``: a local pattern's string factory is imported only when
the app is built (and its migrations when ``rainmaker db`` runs), after assembly.
"""

from __future__ import annotations

import sys
import textwrap
import uuid
from pathlib import Path

import pytest

from rainmaker.kernel.composition import parse_composition
from rainmaker.kernel.loading import assemble
from tests.kernel.fakes import catalog


@pytest.fixture(autouse=True)
def restored_sys_path(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test's app folder leaves sys.path with the test."""
    monkeypatch.setattr(sys, "path", list(sys.path))


def local_app(root: Path) -> tuple[str, str]:
    """Write a local pattern whose factory is a string in a sibling module; its id and TOML."""
    suffix = uuid.uuid4().hex[:8]
    pattern_id = f"local-{suffix}"
    (root / f"local_pattern_{suffix}.py").write_text(
        textwrap.dedent(
            f"""
            from rainmaker import Pattern, Settings

            pattern = Pattern(
                id="{pattern_id}",
                version="1.0.0",
                name="Local",
                settings=Settings,
                factory="local_module_{suffix}:LocalModule",
            )
            """
        )
    )
    (root / f"local_module_{suffix}.py").write_text(
        "from rainmaker import Module\n\nclass LocalModule(Module):\n    pass\n"
    )
    toml = (
        f'[app]\nname = "t"\nlocal_patterns = ["local_pattern_{suffix}:pattern"]\n'
        f'[patterns.here]\nuse = "{pattern_id}"\n'
    )
    return pattern_id, toml


def test_assembling_leaves_the_callers_catalog_as_it_was(tmp_path: Path) -> None:
    pattern_id, toml = local_app(tmp_path)
    shared = catalog()
    before = shared.ids()
    composition = parse_composition(toml, root=tmp_path, environ={})

    app = assemble(composition, shared)

    assert shared.ids() == before and shared.get(pattern_id) is None
    assert app.catalog.get(pattern_id) is not None
    assert set(before) <= set(app.catalog.ids())
    # The same catalog serves a second app alike.
    again = assemble(parse_composition(toml, root=tmp_path, environ={}), shared)
    assert again.catalog is not app.catalog and shared.get(pattern_id) is None


def test_without_local_patterns_the_callers_catalog_is_used_as_is(tmp_path: Path) -> None:
    shared = catalog()
    composition = parse_composition(
        '[app]\nname = "t"\n[patterns.db]\nuse = "fake-store"\n', root=tmp_path, environ={}
    )
    assert assemble(composition, shared).catalog is shared


def test_the_app_folder_stays_importable_for_what_is_imported_later(tmp_path: Path) -> None:
    _, toml = local_app(tmp_path)
    app = assemble(parse_composition(toml, root=tmp_path, environ={}), catalog())
    assert str(tmp_path) in sys.path
    app.build()  # imports the string factory from the app folder now
    assert type(app.instances["here"].module).__name__ == "LocalModule"
