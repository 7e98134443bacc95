"""``projects``: the demo SaaS's own pattern, written with the public pattern API only.

Projects belong to organizations (``Organizations``): every member of one sees and
creates its projects, each with one uploaded file. How many projects an organization may
keep depends on its plan (``limits``): the subscription of its owner, read from
``Payments``, cached in ``Cache`` and forgotten whenever a subscription or membership
event arrives, so a checkout raises the limit at once. Every new user gets a personal
organization and a welcome email, both made in the transaction creating the user (the
email by a job), so they exist only if the signup commits.

Importing this package is light (settings and the declaration only); the module, its
tables and routes are imported when the app is built.
"""

from __future__ import annotations

from pydantic import Field, field_validator

from projects.api import Projects
from rainmaker import Pattern, Settings
from rainmaker.capabilities import (
    Auth,
    Cache,
    Database,
    Jobs,
    Mailer,
    Organizations,
    Payments,
    Storage,
)

FREE_PLAN = "free"


class ProjectsSettings(Settings):
    """Plan limits, the upload bound and the welcome email."""

    limits: dict[str, int] = Field(
        default_factory=lambda: {FREE_PLAN: 1, "pro": 10},
        description="Projects an organization may keep, by plan name; 'free' applies "
        "when its owner has no active subscription.",
    )
    max_file_size: int = Field(
        10 * 1024 * 1024, gt=0, description="Largest file one project may hold, in bytes."
    )
    plan_cache_ttl: float = Field(
        300.0,
        gt=0,
        description="Seconds an organization's plan stays cached (subscription and "
        "membership events forget it at once).",
    )
    product_name: str = Field("Rainmaker SaaS", description="Name used in the welcome email.")

    @field_validator("limits")
    @classmethod
    def _free_plan_present(cls, value: dict[str, int]) -> dict[str, int]:
        if FREE_PLAN not in value:
            raise ValueError(f"limits needs an entry for the {FREE_PLAN!r} plan")
        if any(limit < 0 for limit in value.values()):
            raise ValueError("limits must not be negative")
        return value


pattern: Pattern[ProjectsSettings] = Pattern(
    id="projects",
    version="0.1.0",
    name="Projects",
    description="An organization's projects, one uploaded file each, limited by the "
    "plan of its owner's subscription.",
    settings=ProjectsSettings,
    factory="projects.module:ProjectsModule",
    provides=[Projects],
    requires=[Database, Auth, Organizations, Payments, Storage, Mailer, Jobs, Cache],
    mount="/projects",
    migrations="projects.migrations",
    table_prefix="projects_",
    examples=[{"limits": {"free": 1, "pro": 10}}],
)
