"""``organizations``: organizations (tenants) with a unique slug, members with roles,
invitations by email, ownership transfer and soft deletion, behind the ``Organizations``
capability.

Importing this package is light (no SQLAlchemy or FastAPI); the module loads them when the
pattern is built. Other patterns and apps use :mod:`rainmaker.capabilities.organizations`
(the interface, events and tenant helpers) and ``CurrentOrg``/``require_org_role`` from
:mod:`rainmaker.http`, never this package.
"""
