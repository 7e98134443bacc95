"""Malformed contributions fail where they are declared, naming what to write instead."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from rainmaker import DashboardPanel, DocsSection, PanelTable, Pattern, Settings


async def _read(limit: int) -> PanelTable:
    return PanelTable(("a",), [("1",)])


def test_a_panel_without_a_title_is_refused() -> None:
    with pytest.raises(ValueError, match=r"a dashboard panel needs a title"):
        DashboardPanel("  ", _read)


def test_a_docs_section_without_a_title_is_refused() -> None:
    with pytest.raises(ValueError, match=r"a docs section needs a title"):
        DocsSection("", "text")


def test_docs_must_hold_docs_sections() -> None:
    with pytest.raises(ValueError, match=r"pattern greeter: docs holds a str; write docs="):
        Pattern(
            id="greeter",
            version="1.0.0",
            name="Greeter",
            settings=Settings,
            factory="x:y",
            docs=["# Usage"],  # type: ignore[list-item]
        )


def test_a_patterns_docs_section_is_on_its_page(tmp_path: Path) -> None:
    out = tmp_path / "site"
    script = Path(sys.executable).with_name("rainmaker")
    result = subprocess.run(
        [str(script), "docs", "build", "--out", str(out)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    page = (out / "patterns" / "jobs-redis.html").read_text()
    assert "<h2>Running workers</h2>" in page
    assert "<code>rainmaker jobs retry ID</code>" in page  # the markdown table rendered
    assert "Running workers" not in (out / "patterns" / "cache-memory.html").read_text()
