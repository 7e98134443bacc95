"""Resolution: who provides what each instance requires, and the order to start them.

Every requirement must be met by exactly one providing instance, or by the one named in the
instance's ``providers = { Capability = "instance" }`` table. Missing providers (with the
installed patterns that could provide them), ambiguous providers, version conflicts and
cycles (printed as a chain, ``auth -> db -> auth``) are all reported together.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import pairwise
from typing import Any

from rainmaker.kernel.capability import Provision, Requirement
from rainmaker.kernel.catalog import Catalog
from rainmaker.kernel.errors import Problem
from rainmaker.kernel.instance import Instance
from rainmaker.kernel.ordering import OrderingCycleError, topological_order


def resolve(instances: Sequence[Instance], catalog: Catalog) -> tuple[list[str], list[Problem]]:
    """Bind every instance's requirements (sets ``instance.bindings``) and order the instances.

    Returns the start order (dependencies first, instances of ``starts_last`` patterns after
    all others, composition order among equals: whenever several may start next, the one
    composed first does) and the problems found.
    """
    problems: list[Problem] = []
    providers: dict[str, list[tuple[Instance, Provision[Any]]]] = {}
    for instance in instances:
        for provision in instance.pattern.provisions:
            providers.setdefault(provision.capability.name, []).append((instance, provision))

    graph: dict[str, set[str]] = {instance.name: set() for instance in instances}
    for instance in instances:
        required = set()
        for requirement in instance.pattern.requirements:
            name = requirement.capability.name
            required.add(name)
            candidates = [c for c in providers.get(name, []) if c[0] is not instance]
            chosen = _choose(instance, requirement, candidates, catalog, problems)
            if chosen is None:
                continue
            provider, provision = chosen
            if not requirement.accepts(provision.version):
                problems.append(
                    Problem(
                        f"requires {name} {requirement.versions}, but {provider.name} "
                        f"({provider.pattern.id} {provider.pattern.version}) provides "
                        f"{name} {provision.version}",
                        instance=instance.name,
                        key="use",
                        fix=f"use a version of {provider.pattern.id} that provides {name} "
                        f"{requirement.versions}, or an older {instance.pattern.id}",
                    )
                )
                continue
            instance.bindings[name] = provider.name
            graph[instance.name].add(provider.name)
        for capability in sorted(set(instance.providers) - required):
            problems.append(
                Problem(
                    f"providers names {capability}, which {instance.pattern.id} does not require",
                    instance=instance.name,
                    key=f"providers.{capability}",
                    fix="remove it; requirements are: "
                    + (", ".join(str(r) for r in instance.pattern.requirements) or "none"),
                )
            )

    last = [i.name for i in instances if i.pattern.starts_last]
    if last:
        others = [i.name for i in instances if not i.pattern.starts_last]
        for name in last:
            graph[name].update(others)

    # Composition order among equals, whatever the hash order of the dependency sets.
    edges = [(first, name) for name, dependencies in graph.items() for first in dependencies]
    try:
        order = topological_order(list(graph), edges)
    except OrderingCycleError as exc:
        # The cycle lists each dependency before its dependant; the chain reads the other way.
        cycle: list[str] = list(reversed(exc.cycle))
        problems.append(
            Problem(
                "dependency cycle: " + _chain(cycle, instances),
                instance=cycle[0],
                fix="break the cycle: make one requirement optional or move the shared part "
                "into its own pattern",
            )
        )
        order = [instance.name for instance in instances]
    return order, problems


def _choose(
    instance: Instance,
    requirement: Requirement[Any],
    candidates: list[tuple[Instance, Provision[Any]]],
    catalog: Catalog,
    problems: list[Problem],
) -> tuple[Instance, Provision[Any]] | None:
    name = requirement.capability.name
    explicit = instance.providers.get(name)
    if explicit is not None:
        for candidate in candidates:
            if candidate[0].name == explicit:
                return candidate
        problems.append(
            Problem(
                f"providers.{name} names {explicit!r}, which is not an instance providing {name}",
                instance=instance.name,
                key=f"providers.{name}",
                fix="choose one of: " + (", ".join(c[0].name for c in candidates) or "none"),
            )
        )
        return None
    if len(candidates) == 1:
        return candidates[0]
    if not candidates:
        if not requirement.optional:
            installed = catalog.providers_of(name)
            problems.append(
                Problem(
                    f"requires {name}, but no instance provides it",
                    instance=instance.name,
                    key="use",
                    fix=(
                        f"add an instance of {' or '.join(installed)}, e.g. "
                        f'[patterns.{name.lower()}] use = "{installed[0]}"'
                        if installed
                        else f"install a pattern that provides {name}"
                    ),
                )
            )
        return None
    names = [c[0].name for c in candidates]
    problems.append(
        Problem(
            f"requires {name}, which {len(names)} instances provide ({', '.join(names)})",
            instance=instance.name,
            key=f"providers.{name}",
            fix=f'choose one: providers = {{ {name} = "{names[0]}" }} under '
            f"[patterns.{instance.name}]",
        )
    )
    return None


def _chain(cycle: list[str], instances: Sequence[Instance]) -> str:
    """``a -[Database]-> b -[Auth]-> a`` from a cycle listed in requirement order."""
    by_name = {instance.name: instance for instance in instances}
    text = cycle[0]
    for current, following in pairwise(cycle):
        via = [cap for cap, provider in by_name[current].bindings.items() if provider == following]
        text += f" -[{via[0]}]-> {following}" if via else f" -> {following}"
    return text
