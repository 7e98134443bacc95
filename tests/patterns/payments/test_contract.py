"""Both payment patterns pass the one ``Payments`` contract suite."""

from __future__ import annotations

from rainmaker.testing.contracts.payments import PaymentsContract


class TestPaymentsContract(PaymentsContract):
    """``payments_backend`` (conftest) runs every test on payment-local and payment-stripe."""
