"""The catalog of every job one app knows: the union of the registries handed to it.

Enqueue looks a job up here (an unknown name is refused before anything is sent), and the
worker finds the function to run. Argument checking lives here too, so a value that
cannot travel is refused at ``enqueue``, not discovered by a worker later.
"""

from __future__ import annotations

import difflib
import importlib
import json
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from rainmaker import InvalidInputError, StartupError
from rainmaker.capabilities.jobs import JobRegistry, JobSpec


class JobCatalog:
    """Every registered job of one jobs instance, by name."""

    def __init__(self, instance: str) -> None:
        self.instance = instance
        self._specs: dict[str, JobSpec] = {}

    def register(self, registry: JobRegistry) -> None:
        """Add every job of ``registry``; the same name with a different job is an error."""
        if not isinstance(registry, JobRegistry):
            raise TypeError(f"register() takes a JobRegistry, not {type(registry).__name__}")
        for spec in registry:
            existing = self._specs.get(spec.name)
            if existing is not None and existing != spec:
                raise ValueError(
                    f"job {spec.name!r} is registered twice with different definitions "
                    f"({existing.func.__module__} and {spec.func.__module__})"
                )
            self._specs[spec.name] = spec

    def get(self, name: str) -> JobSpec | None:
        """The job called ``name``, or ``None``."""
        return self._specs.get(name)

    def require(self, name: str) -> JobSpec:
        """The job called ``name``; :class:`InvalidInputError` naming close matches otherwise."""
        spec = self._specs.get(name)
        if spec is not None:
            return spec
        close = difflib.get_close_matches(name, list(self._specs), n=3)
        hint = (
            f"did you mean {' or '.join(repr(c) for c in close)}?"
            if close
            else "declare it in a JobRegistry and register that registry (ctx.jobs.register() "
            "in a module's start, or the registries setting)"
        )
        raise InvalidInputError(f"unknown job {name!r}", pattern_id=self.instance, hint=hint)

    def periodic(self) -> list[JobSpec]:
        """The jobs declared with a cron schedule."""
        return [spec for spec in self._specs.values() if spec.cron is not None]

    def queues(self) -> set[str]:
        """Every queue some registered job uses."""
        return {spec.queue for spec in self._specs.values()}

    def __iter__(self) -> Iterator[JobSpec]:
        return iter(self._specs.values())

    def __len__(self) -> int:
        return len(self._specs)


# One encoder for every check: json.dumps with an option builds a new one per call.
_STRICT_JSON = json.JSONEncoder(allow_nan=False)


def check_arguments(
    spec: JobSpec, args: Sequence[Any], kwargs: Mapping[str, Any], *, instance: str
) -> None:
    """Refuse arguments that are not plain JSON values, naming the first bad one."""
    for label, value in [
        *((f"argument {i + 1}", a) for i, a in enumerate(args)),
        *((f"argument {k}=", v) for k, v in kwargs.items()),
    ]:
        try:
            _STRICT_JSON.encode(value)
        except (TypeError, ValueError) as error:
            raise InvalidInputError(
                f"job {spec.name}: {label} cannot be serialised as JSON "
                f"({type(value).__name__}: {error})",
                pattern_id=instance,
                hint="pass ids, strings, numbers, booleans, lists and dicts; load objects "
                "inside the job",
            ) from error


def load_registry(path: str, *, instance: str) -> JobRegistry:
    """Import the :class:`JobRegistry` named by ``"package.module:attribute"``."""
    module_name, _, attribute = path.partition(":")
    try:
        target: Any = importlib.import_module(module_name)
        for part in attribute.split("."):
            target = getattr(target, part)
    except (ImportError, AttributeError) as error:
        raise StartupError(
            f"job registry {path!r} cannot be imported: {error}",
            pattern_id=instance,
            hint="the registries setting names 'package.module:attribute' on the import path",
            cause=error,
        ) from error
    if not isinstance(target, JobRegistry):
        raise StartupError(
            f"{path!r} is a {type(target).__name__}, not a JobRegistry",
            pattern_id=instance,
        )
    return target
