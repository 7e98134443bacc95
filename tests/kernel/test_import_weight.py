"""Importing rainmaker and listing patterns must not import any pattern's heavy dependencies."""

from __future__ import annotations

import json
import subprocess
import sys

HEAVY = ["fastapi", "starlette", "sqlalchemy", "alembic", "asyncpg", "aiosqlite", "uvicorn"]


def test_listing_patterns_imports_no_heavy_dependency() -> None:
    script = (
        "import json, sys, rainmaker\n"
        "from rainmaker.kernel.catalog import Catalog\n"
        "catalog = Catalog.installed()\n"
        "for p in catalog: p.settings.model_json_schema()\n"
        f"print(json.dumps([len(catalog), [m for m in {HEAVY!r} if m in sys.modules]]))\n"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    count, loaded = json.loads(out.stdout)
    assert loaded == []
    assert count >= 1


def test_composing_imports_only_the_patterns_it_uses() -> None:
    # The catalog reads entry points without importing them: an app composing one pattern
    # imports that pattern's module, not the twenty-odd other built-in ones.
    script = (
        "import json, sys\n"
        "from pathlib import Path\n"
        "from rainmaker.kernel.catalog import Catalog\n"
        "from rainmaker.kernel.composition import parse_composition\n"
        "from rainmaker.kernel.loading import assemble\n"
        'text = \'[app]\\nname = "t"\\n[patterns.cache]\\nuse = "cache-memory"\\n\'\n'
        "catalog = Catalog.installed()\n"
        "assemble(parse_composition(text, root=Path('.'), environ={}), catalog)\n"
        "prefix = 'rainmaker.patterns.'\n"
        "loaded = sorted({m.split('.')[2] for m in sys.modules if m.startswith(prefix)})\n"
        "print(json.dumps([loaded, len(catalog)]))\n"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    loaded, count = json.loads(out.stdout)
    assert loaded == ["cache"]
    assert count > 1  # asking about every pattern still finds them all
