"""Every code block of the guides runs: the guides cannot drift from the code.

- ``python`` blocks are executed, each in a fresh namespace, in a fresh folder;
- ``toml`` blocks are parsed and validated as compositions, in every profile they define,
  against the installed patterns (plus ``dev-dashboard`` until its entry point ships);
  ``toml fragment`` blocks (a pyproject table, say) are only parsed;
- ``console`` blocks run their ``$ rainmaker …`` lines in order (``cd`` moves between
  them) and must exit 0.

A block whose info string says ``illustrative`` is a sketch and is not run.

A guide with a block flagged ``file=PATH`` is a *walkthrough* (``writing-a-pattern``): its
blocks build one project step by step, so they run in order, as one test, in one folder:

- ``<language> file=PATH`` blocks are written to ``PATH`` below that folder (folders
  created, an existing file replaced) and not run themselves; ``python`` ones must compile
  and ``toml`` ones must parse. Later console blocks use them, as a reader's shell would;
- ``console venv=NAME`` blocks run in a virtual environment of the walkthrough, created on
  first use (``python -m venv --without-pip``) and layered over the project's environment
  by a ``.pth`` file (``site.addsitedir`` of the project's site-packages), so rainmaker and
  its dependencies are there without a download. In it ``$ rainmaker …`` runs that
  environment's ``python -m rainmaker`` and ``$ pip install …`` its ``python -m pip
  install --no-build-isolation …``: the test machine is offline, and the build back end
  (setuptools) is already installed. Nothing is ever installed into the project's venv;
- every other block runs as in any guide, with the walkthrough folder as working folder;
  after each ``python`` block the modules it imported from that folder are forgotten, as
  a reader running each snippet in a fresh interpreter would have them: a later
  ``file=`` block that rewrites one (``from-fastapi`` edits ``service/main.py`` between
  steps) is then imported afresh.

Each console block starts in the walkthrough folder (``cd`` lines move within a block).
"""

from __future__ import annotations

import importlib
import os
import shlex
import subprocess
import sys
import sysconfig
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
    "writing-a-pattern",
    "public-api",
    "from-fastapi",
    "security",
}
RUNNABLE = {"python", "toml", "console"}
FILE_FLAG = "file="
VENV_FLAG = "venv="
PLACEHOLDER = "guide-placeholder-value-0123456789abcdef"
# Variables whose value must have a shape (a URL) get a realistic one.
PLACEHOLDERS = {"DATABASE_URL": "postgresql://app:guide-password@127.0.0.1:5432/app"}


def _flag(block: CodeBlock, prefix: str) -> str | None:
    """The value of a ``prefix=value`` flag of ``block``, if it has one."""
    for flag in block.flags:
        if flag.startswith(prefix):
            return flag[len(prefix) :]
    return None


def _runnable(path: Path) -> list[CodeBlock]:
    blocks = code_blocks(path.read_text(encoding="utf-8"))
    return [b for b in blocks if b.language in RUNNABLE and not b.illustrative]


def _is_walkthrough(blocks: list[CodeBlock]) -> bool:
    return any(_flag(block, FILE_FLAG) is not None for block in blocks)


def _blocks() -> list[tuple[str, int, CodeBlock]]:
    found = []
    for path in sorted(GUIDES.glob("*.md")):
        blocks = _runnable(path)
        if not _is_walkthrough(blocks):
            found.extend((path.stem, index, block) for index, block in enumerate(blocks))
    return found


BLOCKS = _blocks()
WALKTHROUGHS = sorted(path.stem for path in GUIDES.glob("*.md") if _is_walkthrough(_runnable(path)))


def test_every_guide_is_there_and_has_tested_blocks() -> None:
    assert {path.stem for path in GUIDES.glob("*.md")} == EXPECTED
    tested = {guide for guide, _, _ in BLOCKS} | set(WALKTHROUGHS)
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


def _layered_venv(folder: Path) -> Path:
    """A venv at ``folder`` that sees the project's packages; its python."""
    python = folder / "bin" / "python"
    if python.exists():
        return python
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(folder)], check=True)
    purelib = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    project = sysconfig.get_path("purelib")
    # addsitedir (not a bare path line) so the project's own .pth files, such as the
    # editable install of rainmaker, are processed too.
    Path(purelib, "_guide_project.pth").write_text(
        f"import site; site.addsitedir({project!r})\n", encoding="utf-8"
    )
    return python


def _run_console(block: CodeBlock, root: Path) -> None:
    cwd = root
    env = {**os.environ, "COLUMNS": "200", "NO_COLOR": "1", "PYTHONPATH": str(REPO)}
    venv = _flag(block, VENV_FLAG)
    python = _layered_venv(root / ".venvs" / venv) if venv else Path(sys.executable)
    for line in block.code.splitlines():
        if not line.startswith("$ "):
            continue  # expected output, shown to readers
        words = shlex.split(line[2:])
        if words[0] == "cd":
            cwd = cwd / words[1]
            continue
        if venv and words[:2] == ["pip", "install"]:
            command = [str(python), "-m", "pip", "install", "--no-build-isolation", *words[2:]]
        else:
            assert words[0] == "rainmaker", (
                f"only rainmaker (and pip install in a venv= block) run; mark {line!r} illustrative"
            )
            command = [str(python), "-m", "rainmaker", *words[1:]]
        result = subprocess.run(
            command,
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
    _run_block(block, tmp_path, monkeypatch)


def _run_block(block: CodeBlock, root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(root)
    if block.language == "python":
        monkeypatch.syspath_prepend(str(root))
        exec(compile(block.code, f"<guide block at line {block.line}>", "exec"), {})
    elif block.language == "toml":
        _validate_toml(block, root)
    else:
        _run_console(block, root)


def _write_file(block: CodeBlock, root: Path, relative: str) -> None:
    target = (root / relative).resolve()
    assert target.is_relative_to(root.resolve()), f"file={relative} leaves the folder"
    if block.language == "python":
        compile(block.code, relative, "exec")  # a syntax error fails here, not three steps on
    elif block.language == "toml":
        tomllib.loads(block.code)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(block.code, encoding="utf-8")


def _forget_modules_under(folder: Path) -> None:
    """Drop the modules imported from ``folder`` (see the module docstring, walkthroughs)."""
    root = str(folder.resolve())
    for name, module in list(sys.modules.items()):
        file = getattr(module, "__file__", None)
        if file is not None and str(Path(file).resolve()).startswith(root):
            del sys.modules[name]
    importlib.invalidate_caches()  # the finders' folder listings predate the new files


@pytest.mark.parametrize("guide", WALKTHROUGHS)
def test_walkthrough(guide: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for block in _runnable(GUIDES / f"{guide}.md"):
        relative = _flag(block, FILE_FLAG)
        try:
            if relative is not None:
                _write_file(block, tmp_path, relative)
            else:
                _run_block(block, tmp_path, monkeypatch)
                if block.language == "python":
                    _forget_modules_under(tmp_path)
        except Exception as error:  # name the block: the walkthrough is one long test
            raise AssertionError(f"{guide}.md, block at line {block.line}: {error}") from error
