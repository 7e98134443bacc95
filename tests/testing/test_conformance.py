"""Lifecycle conformance catches each broken rule, and passes a well-behaved pattern."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from rainmaker.testing.conformance import (
    ConformanceError,
    LifecycleConformance,
    PatternUnderTest,
    check_examples,
    check_health_before_start,
    check_no_leaks,
    check_settings_schema,
    check_stop_twice,
)
from tests.testing.patterns import echo, leaky, release_leaks, undocumented


@pytest.fixture(autouse=True)
def _release() -> Iterator[None]:
    yield
    release_leaks()


def leaking(tmp_path: Path, leak: str) -> PatternUnderTest:
    return PatternUnderTest(leaky, {"leak": leak}, root=tmp_path)


class TestEchoConforms(LifecycleConformance):
    """The suite itself, on a pattern that requires a Database and serves a route."""

    @pytest.fixture
    def pattern_under_test(self, tmp_path: Path) -> PatternUnderTest:
        return PatternUnderTest(echo, {"word": "hi"}, root=tmp_path)


@pytest.mark.parametrize(
    ("leak", "message"),
    [
        ("task", "asyncio tasks still running: leaked"),
        ("thread", "threads still alive: leaked-thread"),
        ("file", "file descriptors left open"),
        ("memory", "traced memory grew"),
    ],
)
async def test_leaks_are_found(tmp_path: Path, leak: str, message: str) -> None:
    if leak == "file" and not Path("/proc/self/fd").is_dir():
        pytest.skip("file descriptors are read from /proc/self/fd")
    with pytest.raises(ConformanceError, match=message):
        await check_no_leaks(
            leaking(tmp_path, leak), cycles=4, memory_bound=1024 * 1024, settle=0.3
        )


async def test_no_leak_passes(tmp_path: Path) -> None:
    await check_no_leaks(leaking(tmp_path, "none"), cycles=4)


async def test_health_that_raises_before_start_fails(tmp_path: Path) -> None:
    with pytest.raises(ConformanceError, match=r"health\(\) before start\(\) raised"):
        await check_health_before_start(leaking(tmp_path, "health"))


async def test_health_that_answers_up_before_start_fails(tmp_path: Path) -> None:
    with pytest.raises(ConformanceError, match="not down"):
        await check_health_before_start(leaking(tmp_path, "none"))


async def test_second_stop_that_raises_fails(tmp_path: Path) -> None:
    with pytest.raises(ConformanceError, match=r"second stop\(\) raised"):
        await check_stop_twice(leaking(tmp_path, "stop"))


def test_undocumented_field_and_bad_example_fail() -> None:
    with pytest.raises(ConformanceError, match="without a description: size"):
        check_settings_schema(undocumented)
    with pytest.raises(ConformanceError, match="example 1 does not validate"):
        check_examples(undocumented)
