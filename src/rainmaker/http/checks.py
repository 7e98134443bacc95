"""Before start: does every ``Inject`` / ``PatternSettings`` of a route resolve for its owner?

The composing app (``framework-fastapi``) calls :func:`injection_report` with each route's
dependency tree and the instance that contributed it, so ``rainmaker check``, ``plan`` and
``run`` report a route that asks for a capability no composed pattern provides instead of
the route failing on its first request.

A capability the owning pattern declares *optional* is not an error: the route answers
503 while no provider is composed, and the report carries a warning saying so.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from fastapi.dependencies.models import Dependant

from rainmaker.http.inject import injections
from rainmaker.kernel.capability import Capability
from rainmaker.kernel.errors import Problem

if TYPE_CHECKING:
    from rainmaker.kernel.instance import Instance


@dataclass
class InjectionReport:
    """What :func:`injection_report` found: composition problems and warnings."""

    problems: list[Problem] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class RouteDependencies:
    """One route to check: its label (``GET /x``), owner instance and dependency tree."""

    label: str
    owner: str
    dependant: Dependant


def injection_report(
    routes: Iterable[RouteDependencies],
    instances: Mapping[str, Instance],
    install_hint: Callable[[str, Capability[Any]], str],
) -> InjectionReport:
    """Check every route's injections against the composed ``instances``.

    ``install_hint(owner, capability)`` says which patterns to add (the installed
    providers). One problem is reported per owner and capability, naming its routes.
    """
    missing: dict[tuple[str, str], list[str]] = {}
    capabilities: dict[str, Capability[Any]] = {}
    report = InjectionReport()
    seen_settings: set[tuple[str, type[Any]]] = set()
    for route in routes:
        owner = instances.get(route.owner)
        if owner is None:
            continue
        for injection in injections(route.dependant):
            if injection.capability is not None:
                capability = injection.capability
                if not _resolves(capability, owner, instances, report):
                    capabilities[capability.name] = capability
                    missing.setdefault((route.owner, capability.name), []).append(route.label)
            settings_type = injection.settings_type
            if (
                settings_type is not None
                and settings_type is not object
                and not isinstance(owner.settings, settings_type)
                and (route.owner, settings_type) not in seen_settings
            ):
                seen_settings.add((route.owner, settings_type))
                report.problems.append(
                    Problem(
                        f"{route.label} reads PatternSettings({settings_type.__name__}), but "
                        f"{route.owner} ({owner.pattern.id}) has "
                        f"{type(owner.settings).__name__}",
                        instance=route.owner,
                        key="router",
                        fix=f"declare the parameter as "
                        f"Annotated[{type(owner.settings).__name__}, PatternSettings()]",
                    )
                )
    for (name, capability_name), labels in missing.items():
        owner = instances[name]
        capability = capabilities[capability_name]
        where = _routes_text(labels)
        hint = install_hint(name, capability)
        if any(
            r.capability.name == capability_name and r.optional for r in owner.pattern.requirements
        ):
            report.warnings.append(
                f"{where} of {name} need{'s' if len(labels) == 1 else ''} {capability_name}, "
                f"which {owner.pattern.id} requires optionally and no composed pattern "
                f"provides: they answer 503 until one does ({hint})"
            )
            continue
        report.problems.append(
            Problem(
                f"{where} need{'s' if len(labels) == 1 else ''} {capability_name} "
                f"(Inject({capability_name}), or an auth dependency such as CurrentUser), "
                "but no composed pattern provides it",
                instance=name,
                key="router",
                fix=hint,
            )
        )
    return report


def _resolves(
    capability: Capability[Any],
    owner: Instance,
    instances: Mapping[str, Instance],
    report: InjectionReport,
) -> bool:
    """Whether ``owner``'s requests can resolve ``capability`` (reports ambiguity itself)."""
    name = capability.name
    if name in owner.bindings or _provides(owner, name):
        return True
    providers = sorted(n for n, instance in instances.items() if _provides(instance, name))
    if len(providers) > 1:
        problem = Problem(
            f"{owner.name} injects {name}, which {len(providers)} instances provide "
            f"({', '.join(providers)})",
            instance=owner.name,
            key="providers",
            fix=f'add providers = {{ {name} = "{providers[0]}" }} to [patterns.{owner.name}]',
        )
        if all(p.message != problem.message for p in report.problems):
            report.problems.append(problem)
        return True
    return bool(providers)


def _provides(instance: Instance, capability_name: str) -> bool:
    return any(p.capability.name == capability_name for p in instance.pattern.provisions)


def _routes_text(labels: list[str]) -> str:
    shown = ", ".join(labels[:3])
    more = f" and {len(labels) - 3} more" if len(labels) > 3 else ""
    return f"route{'s' if len(labels) > 1 else ''} {shown}{more}"
