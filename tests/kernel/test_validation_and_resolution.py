"""Settings validation against patterns, and resolution of requirements into an order."""

from __future__ import annotations

import pytest

from rainmaker.kernel.errors import CompositionError
from tests.kernel.fakes import make_app


def problems_of(toml: str, **kwargs: object) -> str:
    with pytest.raises(CompositionError) as info:
        make_app(toml, **kwargs)  # type: ignore[arg-type]
    return str(info.value)


APP = '[app]\nname = "t"\n'


def test_dependency_order_follows_requirements_not_file_order() -> None:
    app = make_app(APP + '[patterns.users]\nuse = "fake-user"\n[patterns.db]\nuse = "fake-store"\n')
    assert app.order == ["db", "users"]
    assert app.instances["users"].bindings == {"Store": "db"}


def test_unknown_pattern_suggests_close_match() -> None:
    text = problems_of(APP + '[patterns.db]\nuse = "fake-stor"\n')
    assert "db.use: unknown pattern 'fake-stor'" in text
    assert "did you mean 'fake-store'" in text


def test_unknown_key_suggests_and_wrong_type_names_value() -> None:
    text = problems_of(APP + '[patterns.db]\nuse = "fake-store"\npth = "x"\npool_size = "many"\n')
    assert "db.pth: unknown setting 'pth'" in text and "did you mean 'path'" in text
    assert "db.pool_size: Input should be a valid integer" in text
    assert '(got "many")' in text


def test_secret_values_are_redacted_in_problems() -> None:
    text = problems_of(APP + '[patterns.db]\nuse = "fake-store"\npassword = ["hunter2-secret"]\n')
    assert "hunter2" not in text
    assert "db.password" in text and "********" in text


def test_missing_required_setting_names_env_var() -> None:
    from pydantic import Field

    from rainmaker import Module, Pattern, Settings
    from tests.kernel.fakes import catalog

    class Needs(Settings):
        api_key: str = Field(description="Key.")

    pattern = Pattern(id="needs-key", version="1.0.0", name="n", settings=Needs, factory=Module)
    text = problems_of(APP + '[patterns.pay]\nuse = "needs-key"\n', patterns=catalog(pattern))
    assert "pay.api_key: required setting is missing" in text
    assert "RAINMAKER__PAY__API_KEY" in text


def test_missing_provider_suggests_installed_patterns() -> None:
    text = problems_of(APP + '[patterns.users]\nuse = "fake-user"\n')
    assert "users.use: requires Store, but no instance provides it" in text
    assert "fake-store or fake-store-two" in text


def test_optional_requirement_may_be_absent() -> None:
    app = make_app(APP + '[patterns.db]\nuse = "fake-store"\n[patterns.users]\nuse = "fake-user"\n')
    assert "Mail" not in app.instances["users"].bindings


def test_two_providers_ask_for_explicit_choice() -> None:
    toml = APP + (
        '[patterns.a]\nuse = "fake-store"\n[patterns.b]\nuse = "fake-store"\n'
        '[patterns.users]\nuse = "fake-user"\n'
    )
    text = problems_of(toml)
    assert "users.providers.Store: requires Store, which 2 instances provide (a, b)" in text
    assert 'providers = { Store = "a" }' in text
    app = make_app(
        toml.replace('use = "fake-user"', 'use = "fake-user"\nproviders = { Store = "b" }')
    )
    assert app.instances["users"].bindings == {"Store": "b"}
    assert app.order.index("b") < app.order.index("users")


def test_explicit_choice_must_exist_and_be_required() -> None:
    text = problems_of(
        APP + '[patterns.a]\nuse = "fake-store"\n[patterns.users]\nuse = "fake-user"\n'
        'providers = { Store = "zzz", Cache = "a" }\n'
    )
    assert "providers.Store names 'zzz'" in text and "choose one of: a" in text
    assert "providers names Cache, which fake-user does not require" in text


def test_version_range_conflict() -> None:
    text = problems_of(
        APP + '[patterns.db]\nuse = "fake-store"\n[patterns.u]\nuse = "fake-user-v2"\n'
    )
    assert "requires Store >=2,<3, but db (fake-store 1.0.0) provides Store 1.2" in text
    make_app(APP + '[patterns.db]\nuse = "fake-store-two"\n[patterns.u]\nuse = "fake-user-v2"\n')


def test_cycle_prints_the_chain() -> None:
    from rainmaker import Capability, Module, Pattern, Settings
    from tests.kernel.fakes import catalog

    a_cap: Capability[object] = Capability("A", object)
    b_cap: Capability[object] = Capability("B", object)
    c_cap: Capability[object] = Capability("C", object)
    patterns = catalog(
        Pattern(
            id="pa",
            version="1.0.0",
            name="a",
            settings=Settings,
            factory=Module,
            provides=[a_cap],
            requires=[b_cap],
        ),
        Pattern(
            id="pb",
            version="1.0.0",
            name="b",
            settings=Settings,
            factory=Module,
            provides=[b_cap],
            requires=[c_cap],
        ),
        Pattern(
            id="pc",
            version="1.0.0",
            name="c",
            settings=Settings,
            factory=Module,
            provides=[c_cap],
            requires=[a_cap],
        ),
    )
    text = problems_of(
        APP + '[patterns.a]\nuse = "pa"\n[patterns.b]\nuse = "pb"\n[patterns.c]\nuse = "pc"\n',
        patterns=patterns,
    )
    assert "dependency cycle: a -[B]-> b -[C]-> c -[A]-> a" in text


def test_every_problem_is_reported_at_once() -> None:
    text = problems_of(
        APP + '[patterns.db]\nuse = "fake-store"\npool_size = 0\n'
        '[patterns.users]\nuse = "fake-usr"\n'
        '[patterns.x]\nuse = "fake-user"\ngreeting = "${UNSET}"\n'
    )
    assert "3 problems" in text
    for expected in ("db.pool_size", "users.use", "x.greeting: environment variable UNSET"):
        assert expected in text


def test_a_broken_installed_pattern_fails_only_the_apps_that_use_it() -> None:
    from tests.kernel.fakes import catalog

    patterns = catalog()
    patterns.add(object(), origin="broken-pkg (broken.pattern:p)", declared_id="broken-one")
    make_app(APP + '[patterns.db]\nuse = "fake-store"\n', patterns=patterns)
    text = problems_of(APP + '[patterns.x]\nuse = "broken-one"\n', patterns=patterns)
    assert "broken-pkg (broken.pattern:p) is not a rainmaker Pattern" in text
    assert "unknown pattern" not in text


def test_local_pattern_that_fails_to_import_is_reported() -> None:
    text = problems_of(
        '[app]\nname = "t"\nlocal_patterns = ["no_such_module_xyz:pattern"]\n'
        '[patterns.db]\nuse = "fake-store"\n'
    )
    assert "local pattern 'no_such_module_xyz:pattern' could not be imported" in text


def test_starts_last_patterns_come_after_every_other_instance() -> None:
    from rainmaker import Module, Pattern, Settings
    from tests.kernel.fakes import catalog

    edge = Pattern(
        id="fake-edge",
        version="1.0.0",
        name="e",
        settings=Settings,
        factory=Module,
        starts_last=True,
    )
    app = make_app(
        APP + '[patterns.web]\nuse = "fake-edge"\n[patterns.users]\nuse = "fake-user"\n'
        '[patterns.db]\nuse = "fake-store"\n',
        patterns=catalog(edge),
    )
    assert app.order == ["db", "users", "web"]


def test_unset_variable_is_not_reported_twice() -> None:
    text = problems_of(APP + '[patterns.db]\nuse = "fake-store"\npool_size = "${POOL}"\n')
    assert "1 problem" in text
    assert "POOL is not set" in text


def test_start_order_is_the_same_in_every_process() -> None:
    # Dependencies are sets; their hash order changes with PYTHONHASHSEED, the order must not.
    import os
    import subprocess
    import sys

    script = (
        "from tests.kernel.fakes import make_app\n"
        "from rainmaker import Module, Pattern, Settings\n"
        "from tests.kernel.fakes import catalog\n"
        "edge = Pattern(id='fake-edge', version='1.0.0', name='e', settings=Settings,\n"
        "               factory=Module, starts_last=True)\n"
        "toml = '[app]\\nname = \"t\"\\n[patterns.web]\\nuse = \"fake-edge\"\\n' + ''.join(\n"
        "    f'[patterns.s{i}]\\nuse = \"fake-store\"\\n' for i in range(8))\n"
        "print(make_app(toml, patterns=catalog(edge)).order)\n"
    )
    orders = {
        subprocess.run(
            [sys.executable, "-c", script],
            capture_output=True,
            text=True,
            check=True,
            env={**os.environ, "PYTHONHASHSEED": str(seed)},
        ).stdout.strip()
        for seed in range(6)
    }
    assert orders == {str([f"s{i}" for i in range(8)] + ["web"])}
