"""The standard capabilities: typed keys and the interfaces their providers implement.

Each capability lives in its own module with its interface; this package re-exports the
keys so patterns write ``from rainmaker.capabilities import Database``. Names are imported
on first use (PEP 562), as ``rainmaker``'s are: the kernel imports
``rainmaker.capabilities.http``, and importing it should not import the twelve others
(``rainmaker --help`` composes no pattern and needs none of them).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rainmaker.capabilities.api_keys import ApiKeys, ApiKeyStore
    from rainmaker.capabilities.auth import Auth, Authenticator
    from rainmaker.capabilities.cache import Cache, CacheBackend
    from rainmaker.capabilities.credentials import Credentials, CredentialVerifier
    from rainmaker.capabilities.database import Database, SqlDatabase
    from rainmaker.capabilities.http import Http, HttpApp
    from rainmaker.capabilities.jobs import JobQueue, Jobs
    from rainmaker.capabilities.mailer import Mailer, MailSender
    from rainmaker.capabilities.organizations import OrganizationDirectory, Organizations
    from rainmaker.capabilities.payments import PaymentProcessor, Payments
    from rainmaker.capabilities.rate_limits import RateLimiter, RateLimits
    from rainmaker.capabilities.storage import ObjectStore, Storage
    from rainmaker.capabilities.tracing import SpanTracer, Tracing

__all__ = [
    "ApiKeyStore",
    "ApiKeys",
    "Auth",
    "Authenticator",
    "Cache",
    "CacheBackend",
    "CredentialVerifier",
    "Credentials",
    "Database",
    "Http",
    "HttpApp",
    "JobQueue",
    "Jobs",
    "MailSender",
    "Mailer",
    "ObjectStore",
    "OrganizationDirectory",
    "Organizations",
    "PaymentProcessor",
    "Payments",
    "RateLimiter",
    "RateLimits",
    "SpanTracer",
    "SqlDatabase",
    "Storage",
    "Tracing",
]


# The module of each exported name; ``__getattr__`` imports it on first access.
_EXPORTS: dict[str, str] = {
    "ApiKeys": "api_keys",
    "ApiKeyStore": "api_keys",
    "Auth": "auth",
    "Authenticator": "auth",
    "Cache": "cache",
    "CacheBackend": "cache",
    "Credentials": "credentials",
    "CredentialVerifier": "credentials",
    "Database": "database",
    "SqlDatabase": "database",
    "Http": "http",
    "HttpApp": "http",
    "JobQueue": "jobs",
    "Jobs": "jobs",
    "Mailer": "mailer",
    "MailSender": "mailer",
    "OrganizationDirectory": "organizations",
    "Organizations": "organizations",
    "PaymentProcessor": "payments",
    "Payments": "payments",
    "RateLimiter": "rate_limits",
    "RateLimits": "rate_limits",
    "ObjectStore": "storage",
    "Storage": "storage",
    "SpanTracer": "tracing",
    "Tracing": "tracing",
}


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value  # later lookups skip __getattr__
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])
