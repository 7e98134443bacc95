"""Every code block of the guides runs: the guides cannot drift from the code.

- ``python`` blocks are executed, each in a fresh namespace, in a fresh folder;
- ``toml`` blocks are parsed and validated as compositions, in every profile they define,
  against the installed patterns (plus ``dev-dashboard`` until its entry point ships);
  ``toml fragment`` blocks (a pyproject table, say) are only parsed;
- ``console`` blocks run their ``$ rainmaker …`` lines in order (``cd`` moves between
  them) and must exit 0.

A block whose info string says ``illustrative`` is a sketch and is not run.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from rainmaker.docs.guides import CodeBlock, code_blocks
from rainmaker.kernel.catalog import Catalog
from rainmaker.kernel.composition import parse_composition
from rainmaker.kernel.loading import assemble

GUIDES = Path(__file__).resolve().parents[2] / "docs" / "guides"
EXPECTED = {
    "quickstart",
    "composing-an-app",
    "profiles-and-configuration",
    "going-to-production",
    "pattern-contract",
    "pattern-harness",
    "publishing",
}
RUNNABLE = {"python", "toml", "console"}
PLACEHOLDER = "guide-placeholder-value-0123456789abcdef"
# Variables whose value must have a shape (a URL) get a realistic one.
PLACEHOLDERS = {"DATABASE_URL": "postgresql://app:guide-password@127.0.0.1:5432/app"}

def _blocks() -> list[tuple[str, int, CodeBlock]]:
    found = []
    for path in sorted(GUIDES.glob("*.md")):
        for index, block in enumerate(code_blocks(path.read_text(encoding="utf-8"))):
            if block.language in RUNNABLE and not block.illustrative:
                found.append((path.stem, index, block))
    return found


BLOCKS = _blocks()


def test_every_guide_is_there_and_has_tested_blocks() -> None:
    assert {path.stem for path in GUIDES.glob("*.md")} == EXPECTED
    tested = {guide for guide, _, _ in BLOCKS}
    assert tested == EXPECTED, f"guides without a tested block: {EXPECTED - tested}"


def test_blocks_have_known_languages() -> None:
    for path in sorted(GUIDES.glob("*.md")):
        for block in code_blocks(path.read_text(encoding="utf-8")):
            assert block.language in RUNNABLE, f"{path.name}:{block.line}: {block.language!r}"


REPO = GUIDES.parents[1]


def _validate_toml(block: CodeBlock, root: Path) -> None:
    data = tomllib.loads(block.code)
    if "fragment" in block.flags:
        return
    assert "patterns" in data, "a toml block is a composition unless marked fragment"
    profiles = ["development", *parse_composition(block.code, root=root, environ={}).profiles]
    referenced: set[str] = set()
    for profile in profiles:
        referenced |= set(
            parse_composition(block.code, root=root, profile=profile, environ={}).env_vars
        )
    environ = {name: PLACEHOLDERS.get(name, PLACEHOLDER) for name in referenced}
    for profile in profiles:
        composition = parse_composition(block.code, root=root, profile=profile, environ=environ)
        assemble(composition, Catalog.installed())  # raises CompositionError with every problem


def _run_console(block: CodeBlock, root: Path) -> None:
    cwd = root
    env = {**os.environ, "COLUMNS": "200", "NO_COLOR": "1", "PYTHONPATH": str(REPO)}
    for line in block.code.splitlines():
        if not line.startswith("$ "):
            continue  # expected output, shown to readers
        words = shlex.split(line[2:])
        if words[0] == "cd":
            cwd = cwd / words[1]
            continue
        assert words[0] == "rainmaker", f"only rainmaker commands run; mark {line!r} illustrative"
        result = subprocess.run(
            [sys.executable, "-m", "rainmaker", *words[1:]],
            cwd=cwd,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode == 0, f"{line}\n{result.stdout}\n{result.stderr}"


@pytest.mark.parametrize(
    "block", [b for _, _, b in BLOCKS], ids=[f"{g}-{i}-{b.language}" for g, i, b in BLOCKS]
)
def test_guide_block(block: CodeBlock, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    if block.language == "python":
        monkeypatch.syspath_prepend(str(tmp_path))
        exec(compile(block.code, f"<guide block at line {block.line}>", "exec"), {})
    elif block.language == "toml":
        _validate_toml(block, tmp_path)
    else:
        _run_console(block, tmp_path)
