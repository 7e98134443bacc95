"""``rainmaker schema``: the JSON Schema editors use for rainmaker.toml, through the script.

Every example composition and a ``rainmaker new`` app validate against the schema written
for them; a typo'd key, a wrong type or an unknown pattern fails, each at the key at fault.
"""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import jsonschema
import pytest

SCRIPT = Path(sys.executable).with_name("rainmaker")
EXAMPLES = sorted((Path(__file__).resolve().parents[2] / "examples").glob("*/rainmaker.toml"))


def rainmaker(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "200", "NO_COLOR": "1"}
    return subprocess.run(
        [str(SCRIPT), *args], capture_output=True, text=True, cwd=cwd, env=env, timeout=120
    )


def schema_for(app: Path, tmp_path: Path) -> jsonschema.Draft202012Validator:
    output = tmp_path / "rainmaker.schema.json"
    result = rainmaker("schema", "--app", str(app), "--output", str(output))
    assert result.returncode == 0, result.stdout + result.stderr
    schema = json.loads(output.read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)  # a well-formed 2020-12 schema
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    return jsonschema.Draft202012Validator(schema)


def errors(validator: jsonschema.Draft202012Validator, data: dict[str, Any]) -> list[str]:
    return [f"{e.json_path}: {e.message}" for e in validator.iter_errors(data)]


@pytest.fixture(scope="module")
def new_app(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("new")
    assert rainmaker("new", "shop", cwd=root).returncode == 0
    return root / "shop"


@pytest.mark.parametrize("composition", EXAMPLES, ids=[p.parent.name for p in EXAMPLES])
def test_every_example_validates(composition: Path, tmp_path: Path) -> None:
    validator = schema_for(composition.parent, tmp_path)
    data = tomllib.loads(composition.read_text(encoding="utf-8"))
    assert errors(validator, data) == []


def test_a_new_app_validates_and_gets_the_schema_beside_it(new_app: Path) -> None:
    result = rainmaker("schema", "--app", str(new_app))
    assert result.returncode == 0, result.stderr
    assert "#:schema ./rainmaker.schema.json" in result.stdout
    schema = json.loads((new_app / "rainmaker.schema.json").read_text(encoding="utf-8"))
    data = tomllib.loads((new_app / "rainmaker.toml").read_text(encoding="utf-8"))
    assert list(jsonschema.Draft202012Validator(schema).iter_errors(data)) == []
    # The app's local pattern is in it, as are the installed ones.
    uses = schema["$defs"]["instance"]["properties"]["use"]["enum"]
    assert "hello" in uses and "database-sqlite" in uses


def test_mistakes_fail_at_the_key_at_fault(new_app: Path, tmp_path: Path) -> None:
    validator = schema_for(new_app, tmp_path)
    base = tomllib.loads((new_app / "rainmaker.toml").read_text(encoding="utf-8"))

    def changed(edit: Any) -> list[str]:
        data = copy.deepcopy(base)
        edit(data)
        return errors(validator, data)

    typo = changed(lambda d: d["patterns"]["db"].update(pth="x.db"))
    assert any("'pth' was unexpected" in e for e in typo), typo
    wrong_type = changed(lambda d: d["patterns"]["db"].update(pool_size="many"))
    assert wrong_type and wrong_type[0].startswith("$.patterns.db.pool_size"), wrong_type
    assert changed(lambda d: d["patterns"]["db"].update(pool_size="${POOL_SIZE:-5}")) == []
    unknown = changed(lambda d: d["patterns"]["db"].update(use="database-sqlit"))
    assert any(e.startswith("$.patterns.db.use") for e in unknown), unknown
    assert changed(lambda d: d["patterns"]["web"].update(mount="api")) != []
    assert changed(lambda d: d["patterns"]["web"].update(enabled="no")) != []
    assert changed(lambda d: d["app"].update(nme="x")) != []
    assert changed(lambda d: d.update(pattern={})) != []
    assert changed(lambda d: d["patterns"].update(app={"use": "cache-memory"})) != []


def test_profiles_take_partial_tables_of_the_instance_pattern(
    new_app: Path, tmp_path: Path
) -> None:
    validator = schema_for(new_app, tmp_path)
    base = tomllib.loads((new_app / "rainmaker.toml").read_text(encoding="utf-8"))

    def with_profile(table: dict[str, Any], instance: str = "db") -> list[str]:
        data = copy.deepcopy(base)
        data["profiles"]["staging"] = {"app": {"log_level": "debug"}, "patterns": {instance: table}}
        return errors(validator, data)

    assert with_profile({"pool_size": 3}) == []  # db is database-sqlite: no use needed
    assert with_profile({"use": "database-postgres", "url": "${DATABASE_URL}"}) == []
    assert any("'pool_sise' was unexpected" in e for e in with_profile({"pool_sise": 3}))
    # Switching the pattern checks the keys against the new one.
    assert with_profile({"use": "database-postgres", "path": "x.db"}) != []
    assert with_profile({"use": "cache-memory"}, instance="cache") == []  # a new instance
    data = copy.deepcopy(base)
    data["profiles"]["staging"] = {"app": {"log_level": "loud"}}
    assert errors(validator, data) != []


def test_schema_to_standard_output_and_bad_app(new_app: Path, tmp_path: Path) -> None:
    result = rainmaker("schema", "--app", str(new_app), "--output", "-")
    assert result.returncode == 0
    assert json.loads(result.stdout)["title"] == "rainmaker.toml of shop"
    missing = rainmaker("schema", "--app", str(tmp_path / "nowhere"))
    assert missing.returncode == 2
    assert "no composition file" in missing.stderr
    unwritable = rainmaker(
        "schema", "--app", str(new_app), "--output", str(tmp_path / "no" / "such" / "x.json")
    )
    assert unwritable.returncode == 1
    assert "cannot write" in unwritable.stderr and "Traceback" not in unwritable.stderr
