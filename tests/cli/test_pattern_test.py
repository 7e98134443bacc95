"""`rainmaker pattern test`: scaffolds with a capability pass their contract untouched; an
installed pattern is tested by id; a broken package fails with a clear summary."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from rainmaker.cli.main import app

pytestmark = pytest.mark.slow


def invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args), terminal_width=300)
    return result.exit_code, result.output


@pytest.mark.parametrize(
    ("capability", "contract"),
    [("Cache", "CacheContract runs from the package's own tests"),
     ("Mailer", "MailerContract runs from the package's own tests")],
)  # fmt: skip
def test_capability_scaffold_passes_its_contract(
    tmp_path: Path, capability: str, contract: str
) -> None:
    name = f"my-{capability.lower()}"
    code, output = invoke("pattern", "create", name, "--capability", capability,
                          "--path", str(tmp_path / name))  # fmt: skip
    assert code == 0, output
    code, output = invoke("pattern", "test", str(tmp_path / name))
    assert code == 0, output
    assert contract in output
    assert "✓ lifecycle conformance: 6 passed" in output
    assert "pattern test passed" in output


def test_installed_pattern_by_id() -> None:
    code, output = invoke("pattern", "test", "cache-memory")
    assert code == 0, output
    assert "✓ lifecycle conformance: 6 passed" in output
    assert "CacheContract is run by the tests of the package that ships it" in output


def test_failures_are_summarised(tmp_path: Path) -> None:
    folder = tmp_path / "broken"
    invoke("pattern", "create", "broken", "--path", str(folder))
    module = folder / "src" / "broken" / "module.py"
    module.write_text(
        module.read_text().replace(
            'return Health.down(reason="not started")', 'raise RuntimeError("not yet")'
        )
    )
    (folder / "tests" / "test_more.py").write_text("def test_fails():\n    assert 1 == 2\n")
    code, output = invoke("pattern", "test", str(folder))
    assert code == 1
    assert "✗ lifecycle conformance: 5 passed, 1 failed" in output
    assert "test_health_before_start_is_down" in output
    assert "✗ package tests: 2 passed, 1 failed" in output
    assert "pattern test failed" in output


def test_capability_without_its_contract_is_reported(tmp_path: Path) -> None:
    folder = tmp_path / "my-cache2"
    invoke("pattern", "create", "my-cache2", "--capability", "Cache", "--path", str(folder))
    (folder / "tests" / "test_cache_contract.py").unlink()
    code, output = invoke("pattern", "test", str(folder))
    assert code == 1
    assert "provides Cache but no test subclasses CacheContract" in output
