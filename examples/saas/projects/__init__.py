"""``projects``: the demo SaaS's own pattern, written with the public pattern API only.

A signed-in user keeps projects, each with one uploaded file. How many projects a user may
keep depends on their subscription plan (``limits``); the plan is read from ``Payments``,
cached in ``Cache`` and forgotten whenever a subscription event arrives, so a checkout
raises the limit at once. Every new user gets a welcome email, sent by a job that is
enqueued in the transaction creating the user, so it leaves only if the signup commits.

Importing this package is light (settings and the declaration only); the module, its
tables and routes are imported when the app is built.
"""

from __future__ import annotations

from pydantic import Field, field_validator

from projects.api import Projects
from rainmaker import Pattern, Settings
from rainmaker.capabilities import Auth, Cache, Database, Jobs, Mailer, Payments, Storage

FREE_PLAN = "free"


class ProjectsSettings(Settings):
    """Plan limits, the upload bound and the welcome email."""

    limits: dict[str, int] = Field(
        default_factory=lambda: {FREE_PLAN: 1, "pro": 10},
        description="Projects a user may keep, by plan name; 'free' applies to users "
        "without an active subscription.",
    )
    max_file_size: int = Field(
        10 * 1024 * 1024, gt=0, description="Largest file one project may hold, in bytes."
    )
    plan_cache_ttl: float = Field(
        300.0,
        gt=0,
        description="Seconds a user's plan stays cached (subscription events forget it at once).",
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
    description="A user's projects, one uploaded file each, limited by the subscription plan.",
    settings=ProjectsSettings,
    factory="projects.module:ProjectsModule",
    provides=[Projects],
    requires=[Database, Auth, Payments, Storage, Mailer, Jobs, Cache],
    mount="/projects",
    migrations="projects.migrations",
    table_prefix="projects_",
    examples=[{"limits": {"free": 1, "pro": 10}}],
)
