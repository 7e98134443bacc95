"""Declaration of the ``organizations`` pattern (light: importing it never imports
SQLAlchemy or FastAPI).

It requires ``Database`` (it owns ``orgs_*`` tables), ``Auth`` (routes know the signed-in
user; an invitation to an address that already belongs to a member is refused) and
``Mailer`` (invitations go by email); ``Jobs`` is optional: with it, organizations past
their deletion grace period are purged by a periodic job, without it at each start.
"""

from __future__ import annotations

from pathlib import Path

from rainmaker import DocsSection, Pattern
from rainmaker.capabilities.auth import Auth
from rainmaker.capabilities.database import Database
from rainmaker.capabilities.jobs import Jobs
from rainmaker.capabilities.mailer import Mailer
from rainmaker.capabilities.organizations import Organizations
from rainmaker.patterns.organizations.settings import OrganizationsSettings

MIGRATIONS = "rainmaker.patterns.organizations.migrations"
TABLE_PREFIX = "orgs_"
# How other patterns' and apps' routes use the active organization and keep tenants apart.
TENANCY = DocsSection(
    "Tenant isolation in your routes", (Path(__file__).parent / "tenancy.md").read_text("utf-8")
)

organizations: Pattern[OrganizationsSettings] = Pattern(
    id="organizations",
    version="1.0.0",
    name="Organizations",
    description="Organizations (tenants) with unique slugs, members with roles, "
    "invitations by email (single-use, expiring, hashed tokens), ownership transfer and "
    "soft deletion with a grace period; CurrentOrg and require_org_role for every route.",
    settings=OrganizationsSettings,
    factory="rainmaker.patterns.organizations.module:OrganizationsModule",
    provides=[Organizations],
    requires=[Database, Auth, Mailer, Jobs.optional()],
    # Routes carry their own paths: /orgs/… and /invitations/{token}/accept.
    mount=None,
    migrations=MIGRATIONS,
    table_prefix=TABLE_PREFIX,
    docs=[TENANCY],
    examples=[
        {},
        {
            "roles": ["owner", "admin", "billing", "member", "viewer"],
            "invitation_ttl": 172800,
            "deletion_grace": 604800,
            "accept_url": "https://app.example.com/invite/{token}",
        },
    ],
)
