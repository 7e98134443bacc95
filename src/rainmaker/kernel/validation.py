"""Checking a composition against the installed patterns' settings models.

Turns each :class:`~rainmaker.kernel.composition.InstanceConfig` into an
:class:`~rainmaker.kernel.instance.Instance` with validated settings, collecting every
problem (unknown pattern, unknown key, wrong type, missing value) with the instance, the
key, the offending value (redacted when secret) and a fix.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ValidationError

from rainmaker.kernel.catalog import LOCAL, Catalog
from rainmaker.kernel.composition import Composition, InstanceConfig, env_name
from rainmaker.kernel.display import display
from rainmaker.kernel.errors import Problem
from rainmaker.kernel.instance import Instance
from rainmaker.kernel.setting_schema import expectation
from rainmaker.kernel.suggest import did_you_mean


def validate_instances(
    composition: Composition, catalog: Catalog
) -> tuple[list[Instance], list[Problem]]:
    """Validated instances in composition order, and every problem found."""
    used = {config.use for config in composition.instances.values()}
    problems = [
        problem
        for pattern_id in sorted(used | {LOCAL})
        for problem in catalog.problems_by_id.get(pattern_id, [])
    ]
    # A key the file already got wrong (an unset ${VAR}) would only fail validation again.
    reported = {(p.instance, p.key) for p in composition.problems}
    instances = []
    for config in composition.instances.values():
        pattern = catalog.get(config.use)
        if pattern is None and config.use in catalog.problems_by_id:
            continue  # already reported: the package is installed but broken
        if pattern is None:
            installed = catalog.ids()
            problems.append(
                Problem(
                    f"unknown pattern {config.use!r}",
                    instance=config.name,
                    key="use",
                    fix=did_you_mean(config.use, installed)
                    or f"installed patterns: {', '.join(installed) or 'none'}",
                )
            )
            continue
        settings, found = _validate_settings(pattern.settings, config)
        problems.extend(p for p in found if (p.instance, p.key) not in reported)
        # An instance with bad settings still takes part in resolution, so that its
        # dependants do not get a misleading "nothing provides X" on top.
        instances.append(
            Instance(
                name=config.name,
                pattern=pattern,
                settings=settings,
                mount=config.mount,
                providers=dict(config.providers),
                sources=dict(config.sources),
            )
        )
    return instances, problems


def _validate_settings(
    model: type[BaseModel], config: InstanceConfig
) -> tuple[BaseModel, list[Problem]]:
    """The validated settings (unvalidated when there are problems) and the problems."""
    problems = []
    known = _known_keys(model)
    for key in config.values:
        if key not in known:
            problems.append(
                Problem(
                    f"unknown setting {key!r} for pattern {config.use}",
                    instance=config.name,
                    key=key,
                    fix=did_you_mean(key, sorted(known))
                    or f"known settings: {', '.join(sorted(known)) or 'none'}",
                )
            )
    try:
        settings = model.model_validate(config.values)
    except ValidationError as exc:
        for error in exc.errors():
            if error["type"] == "extra_forbidden":
                continue  # reported above, with a suggestion
            key = ".".join(str(part) for part in error["loc"])
            problems.append(_settings_problem(model, config, key, error))
        return model.model_construct(), problems
    return settings, problems


def _settings_problem(
    model: type[BaseModel], config: InstanceConfig, key: str, error: Any
) -> Problem:
    env_var = f"RAINMAKER__{env_name(config.name)}__{key.replace('.', '__').upper()}"
    if error["type"] == "missing":
        return Problem(
            "required setting is missing",
            instance=config.name,
            key=key,
            fix=f"set {key} under [patterns.{config.name}] or export {env_var}",
        )
    source = config.sources.get(key, "rainmaker.toml")
    expected = expectation(model, key)
    return Problem(
        error["msg"],
        instance=config.name,
        key=key,
        value=display(model, key, error.get("input")),
        fix=f"change the value set by {source}" + (f": {expected}" if expected else ""),
    )


def _known_keys(model: type[BaseModel]) -> set[str]:
    keys = set()
    for name, info in model.model_fields.items():
        keys.add(name)
        if isinstance(info.alias, str):
            keys.add(info.alias)
    return keys
