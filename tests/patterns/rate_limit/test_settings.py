"""Policy strings and keys that do not parse are composition errors (exit 2), naming the
instance, the key and the accepted forms."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

BASE = """[app]
name = "limits"

[patterns.limits]
use = "rate-limit"
"""


RAINMAKER = Path(sys.executable).with_name("rainmaker")


def check(tmp_path: Path, body: str) -> tuple[int, str]:
    """``rainmaker check`` in a subprocess, as a CI job gating on it would run it."""
    (tmp_path / "rainmaker.toml").write_text(BASE + body)
    result = subprocess.run(
        [str(RAINMAKER), "check", "--app", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "COLUMNS": "200"},
    )
    return result.returncode, result.stdout + result.stderr


BAD_LIMITS = ["100/fortnight", "lots", "0/minute", "100 minute", ""]


def test_policy_strings_that_do_not_parse_exit_2_each_named(tmp_path: Path) -> None:
    body = "".join(
        f'\n[patterns.limits.policies.p{index}]\nlimit = "{limit}"\n'
        for index, limit in enumerate(BAD_LIMITS)
    )
    code, output = check(tmp_path, body)
    assert code == 2, output
    flat = " ".join(output.split())
    for index in range(len(BAD_LIMITS)):  # every problem at once, each located
        assert f"limits.policies.p{index}.limit" in flat
    assert "accepted forms" in flat and "100/minute" in flat


def test_problems_in_keys_and_path_rules_exit_2(tmp_path: Path) -> None:
    body = (
        '\n[patterns.limits.policies.api]\nlimit = "1/second"\nkey = "cookie"\n'
        '\n[[patterns.limits.paths]]\npath = "/api/*"\npolicy = "nope"\n'
    )
    code, output = check(tmp_path, body)
    flat = " ".join(output.split())
    assert code == 2, output
    assert "limits.policies.api.key" in flat


def test_a_path_rule_naming_an_undeclared_policy_exits_2(tmp_path: Path) -> None:
    body = '\n[[patterns.limits.paths]]\npath = "/api/*"\npolicy = "nope"\n'
    code, output = check(tmp_path, body)
    assert code == 2 and "'nope'" in output


def test_valid_policies_pass_check(tmp_path: Path) -> None:
    body = (
        '\n[patterns.limits.policies.api]\nlimit = "10/second;1000/hour"\n'
        'strategy = "fixed-window"\nkey = "header:X-Tenant"\n'
    )
    code, output = check(tmp_path, body)
    assert code == 0, output
