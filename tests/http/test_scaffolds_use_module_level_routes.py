"""What `rainmaker pattern create` and `rainmaker new` write: module-level routers with typed
injection, ``from __future__ import annotations``, and only the public surface."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from rainmaker.cli.new import render_app
from rainmaker.cli.scaffold import create

PUBLIC = re.compile(
    r"^(rainmaker|rainmaker\.capabilities(\..+)?|rainmaker\.http|rainmaker\.testing(\..+)?)$"
)


def _rainmaker_imports(source: str) -> set[str]:
    return set(re.findall(r"^\s*(?:from|import) (rainmaker[\w.]*)", source, re.MULTILINE))


@pytest.mark.parametrize("capability", [None, "Cache", "Mailer"])
def test_pattern_scaffold_module_is_module_level_and_public(
    tmp_path: Path, capability: str | None
) -> None:
    create("greeter", tmp_path / "greeter", capability)
    package = tmp_path / "greeter" / "src" / "greeter"
    module = (package / "module.py").read_text()
    assert "from __future__ import annotations" in module
    assert re.search(r"^router = APIRouter\(\)$", module, re.MULTILINE)
    assert re.search(r"^@router\.get\(\"/hello\"\)$", module, re.MULTILINE)
    assert "PatternSettings(GreeterSettings)" in module
    for path in (package / name for name in ("module.py", "pattern.py", "settings.py")):
        imports = _rainmaker_imports(path.read_text())
        # Extending an embedded built-in implementation is the one non-surface import.
        outside = {
            m for m in imports if not PUBLIC.match(m) and not m.startswith("rainmaker.patterns.")
        }
        assert not outside, (path.name, outside)


def test_new_app_pattern_is_module_level_with_injection() -> None:
    files = render_app("demo", {"web": "framework-fastapi", "db": "database-sqlite"})
    hello = files["demo_hello.py"]
    assert "from __future__ import annotations" in hello
    assert "Inject(Database)" in hello and "PatternSettings(HelloSettings)" in hello
    assert re.search(r"^router = APIRouter\(\)$", hello, re.MULTILINE)
    assert all(PUBLIC.match(m) for m in _rainmaker_imports(hello))
