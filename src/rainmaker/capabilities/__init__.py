"""The standard capabilities: typed keys and the interfaces their providers implement.

Each capability lives in its own module with its interface; this package re-exports the
keys so patterns write ``from rainmaker.capabilities import Database``.
"""

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
