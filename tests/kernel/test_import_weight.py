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
