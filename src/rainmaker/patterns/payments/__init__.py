"""``payment-local`` and ``payment-stripe``: customers, checkout, subscriptions, refunds and
invoices behind the ``Payments`` capability.

Importing this package is light (no stripe, SQLAlchemy or FastAPI); the module loads them
when the pattern is built. See :mod:`rainmaker.capabilities.payments` for what other
patterns use.
"""
