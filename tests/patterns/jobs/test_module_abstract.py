"""A jobs backend that does not build its transport and store fails at construction.

``JobsModule`` is an ABC, so the missing ``_backend`` override is reported when the kernel
builds the module (what ``rainmaker plan`` does), not when the app starts.
"""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any

import pytest

from rainmaker import Pattern, StartupError
from rainmaker.kernel.catalog import Catalog
from rainmaker.kernel.composition import parse_composition
from rainmaker.kernel.loading import assemble
from rainmaker.patterns.jobs.module import (
    JobsModule,
    LocalJobsModule,
    RabbitMqJobsModule,
    RedisJobsModule,
)
from rainmaker.patterns.jobs.settings import LocalJobsSettings


class BackendlessModule(JobsModule[LocalJobsSettings]):
    """Forgets ``_backend``."""


def test_a_backend_without_transport_cannot_be_constructed() -> None:
    with pytest.raises(TypeError, match="_backend"):
        BackendlessModule(LocalJobsSettings(), object())  # type: ignore[abstract, arg-type]


def test_the_built_in_backends_are_complete() -> None:
    for module in (LocalJobsModule, RedisJobsModule, RabbitMqJobsModule):
        assert not inspect.isabstract(module), module.__name__


def test_the_kernel_reports_the_missing_override_when_it_builds_the_app() -> None:
    pattern: Pattern[Any] = Pattern(
        id="jobs-backendless",
        version="1.0.0",
        name="Backendless jobs",
        settings=LocalJobsSettings,
        factory=BackendlessModule,
    )
    composition = parse_composition(
        '[app]\nname = "t"\n[patterns.jobs]\nuse = "jobs-backendless"\n',
        root=Path("."),
        environ={},
    )
    app = assemble(composition, Catalog([pattern]))
    built = r"jobs \(jobs-backendless\) could not be built.*_backend"
    with pytest.raises(StartupError, match=built):
        app.build()
