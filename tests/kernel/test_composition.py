"""Reading rainmaker.toml: layers, profiles, interpolation, overrides and their errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from rainmaker.kernel.composition import parse_composition, read_composition
from rainmaker.kernel.errors import CompositionError, Problem

BASE = """
[app]
name = "acme"

[patterns.db]
use = "fake-store"
path = "${DATA_DIR:-/var/data}/acme.db"
pool_size = 2

[patterns.users]
use = "fake-user"

[profiles.production.patterns.db]
pool_size = 20

[profiles.other.patterns.db]
use = "fake-store-two"
pool_size = 3
"""


def messages(problems: list[Problem]) -> str:
    return "\n".join(str(p) for p in problems)


def test_layers_apply_in_order_and_remember_their_source() -> None:
    composition = parse_composition(
        BASE,
        root=Path("."),
        profile="production",
        environ={"DATA_DIR": "/srv", "RAINMAKER__DB__PATH": "/env/acme.db"},
        overrides=["db.pool_size=40"],
    )
    assert composition.problems == []
    db = composition.instances["db"]
    assert db.values == {"path": "/env/acme.db", "pool_size": 40}
    assert db.sources == {"path": "env RAINMAKER__DB__PATH", "pool_size": "--set"}


def test_profile_overrides_file_and_default_interpolation() -> None:
    composition = parse_composition(BASE, root=Path("."), profile="production", environ={})
    db = composition.instances["db"]
    assert db.values == {"path": "/var/data/acme.db", "pool_size": 20}
    assert db.sources["pool_size"] == "profile production"
    assert composition.env_vars == {"DATA_DIR": "/var/data"}


def test_profile_that_switches_pattern_replaces_the_table() -> None:
    composition = parse_composition(BASE, root=Path("."), profile="other", environ={})
    db = composition.instances["db"]
    assert db.use == "fake-store-two"
    assert db.values == {"pool_size": 3}


def test_environment_values_and_set_literals_are_typed_sensibly() -> None:
    composition = parse_composition(
        BASE,
        root=Path("."),
        environ={"RAINMAKER__USERS__GREETING": "hey", "RAINMAKER__DB__TAGS": '["a", "b"]'},
        overrides=["users.greeting='yo'", "db.pool_size=7", "app.log_level=debug"],
    )
    assert composition.instances["users"].values == {"greeting": "yo"}
    assert composition.instances["db"].values["tags"] == ["a", "b"]
    assert composition.instances["db"].values["pool_size"] == 7
    assert composition.app.log_level == "debug"


def test_unset_variable_is_named_with_instance_and_key() -> None:
    text = BASE.replace("${DATA_DIR:-/var/data}", "${DATA_DIR}")
    problems = parse_composition(text, root=Path("."), environ={}).problems
    assert len(problems) == 1
    assert problems[0].instance == "db" and problems[0].key == "path"
    assert "DATA_DIR is not set" in problems[0].message
    assert "export DATA_DIR" in problems[0].fix


def test_dollar_dollar_escapes_interpolation() -> None:
    text = BASE.replace("${DATA_DIR:-/var/data}", "$${NOT_A_VAR}")
    composition = parse_composition(text, root=Path("."), environ={})
    assert composition.instances["db"].values["path"] == "${NOT_A_VAR}/acme.db"


def test_malformed_toml_gives_line_and_column() -> None:
    problems = parse_composition(
        '[app]\nname = "x"\n[patterns.db]\nuse = \n', root=Path(".")
    ).problems
    assert len(problems) == 1
    assert "line 4, column" in problems[0].message
    assert "use =" in problems[0].fix


def test_duplicate_instance_table_is_reported() -> None:
    text = '[app]\nname = "x"\n[patterns.db]\nuse = "a"\n[patterns.db]\nuse = "b"\n'
    problems = parse_composition(text, root=Path(".")).problems
    assert "line 5" in problems[0].message
    assert "may appear once" in problems[0].fix


def test_instance_names_that_collide_in_environment_names() -> None:
    text = '[app]\nname = "x"\n[patterns.my-db]\nuse = "a"\n[patterns.my_db]\nuse = "b"\n'
    problems = parse_composition(text, root=Path(".")).problems
    assert any("duplicate instance names" in p.message for p in problems)


def test_every_structural_problem_at_once() -> None:
    text = """
[app]
nmae = "x"
[patterns.db]
path = 3
[patterns.Bad]
use = "fake-store"
[databases]
"""
    problems = parse_composition(
        text,
        root=Path("."),
        profile="staging",
        environ={"RAINMAKER__NOPE__X": "1"},
        overrides=["broken"],
    ).problems
    text_out = messages(problems)
    assert "unknown top-level table [databases]" in text_out
    assert "invalid instance name 'Bad'" in text_out
    assert "no profile named 'staging'" in text_out
    assert "RAINMAKER__NOPE__X names no instance" in text_out
    assert "--set 'broken' is not instance.key=value" in text_out
    assert "app.nmae" in text_out and "did you mean 'name'" in text_out
    assert "db.use: missing the pattern to use" in text_out


def test_enabled_must_be_a_boolean() -> None:
    text = BASE + "\n[profiles.production.patterns.users]\nenabled = \"maybe\"\n"
    composition = parse_composition(text, root=Path("."), profile="production", environ={})
    (problem,) = [p for p in composition.problems if p.key == "enabled"]
    assert problem.instance == "users"
    assert "'maybe'" in problem.message and "enabled = false" in (problem.fix or "")


def test_enabled_false_removes_an_instance_in_a_profile() -> None:
    text = BASE + "\n[profiles.production.patterns.users]\nenabled = false\n"
    composition = parse_composition(text, root=Path("."), profile="production", environ={})
    assert list(composition.instances) == ["db"]


def test_missing_file_is_a_composition_error(tmp_path: Path) -> None:
    with pytest.raises(CompositionError) as info:
        read_composition(tmp_path / "rainmaker.toml")
    assert "no composition file" in str(info.value)
    assert "rainmaker new" in info.value.problems[0].fix


def test_env_example_writes_nested_tables_as_json_the_env_layer_reads() -> None:
    import json as json_module

    from pydantic import BaseModel, Field

    from rainmaker.kernel.env_example import env_example

    class Limits(BaseModel):
        size: int = 5

    class Outer(BaseModel):
        limits: Limits = Field(default_factory=Limits, description="Limits.")

    text = env_example("app", [("web", Outer)])
    line = next(x for x in text.splitlines() if "RAINMAKER__WEB__LIMITS=" in x)
    value = line.split("=", 1)[1]
    assert json_module.loads(value) == {"size": 5}
    composition = parse_composition(
        '[app]\nname = "a"\n[patterns.web]\nuse = "x"\n',
        root=Path("."),
        environ={"RAINMAKER__WEB__LIMITS": value},
    )
    assert composition.instances["web"].values == {"limits": {"size": 5}}
