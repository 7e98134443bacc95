"""Schemathesis, every check on, against the running demo: the API description is true.

Every operation of the demo's ``/openapi.json`` gets generated requests, valid and
invalid ones, sent over loopback to a real ``rainmaker run``; each answer must pass every
check schemathesis has (no server error, documented status codes and content types,
response bodies and headers matching their schemas, invalid input refused, valid input
accepted, full ``Allow`` lists on 405…). Failures are collected, deduplicated by operation
and check, and reported together.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.e2e.demo_session import running_demo, sign_up

MAX_EXAMPLES = 30
# Operations no generated request can get right, whatever the document says: the webhook
# needs a signature over its body made with the server's secret, these tokens are the ones
# the server emailed, and a new password must pass the instance's policy (its settings'
# length, a common-password list: not a static schema). Only the "valid data is accepted"
# check is off for them; every other check runs.
UNGUESSABLE = {
    "POST /payments/webhook",
    "POST /auth/verify",
    "POST /auth/password-reset/confirm",
    "POST /auth/register",
}


def test_schemathesis_all_checks_pass_on_the_demo(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import schemathesis
    from hypothesis import HealthCheck, Phase, given, settings
    from hypothesis.errors import HypothesisException
    from schemathesis.checks import positive_data_acceptance
    from schemathesis.core.failures import FailureGroup
    from schemathesis.generation import GenerationMode

    with running_demo(tmp_path, monkeypatch) as demo:
        token = sign_up(demo)
        schema = schemathesis.openapi.from_url(f"{demo.base_url}/openapi.json")
        auth = {"Authorization": f"Bearer {token}"}
        failures: dict[tuple[str, str], str] = {}
        for result in schema.get_all_operations():
            operation = result.ok()  # type: ignore[union-attr]  # an invalid schema raises
            for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

                @given(case=operation.as_strategy(generation_mode=mode))
                @settings(
                    max_examples=MAX_EXAMPLES,
                    deadline=None,
                    database=None,
                    derandomize=True,
                    phases=[Phase.explicit, Phase.generate],
                    suppress_health_check=list(HealthCheck),
                )
                def exercise(case: schemathesis.Case[Any]) -> None:
                    excluded = (
                        [positive_data_acceptance] if case.operation.label in UNGUESSABLE else []
                    )
                    try:
                        case.call_and_validate(
                            base_url=demo.base_url,
                            headers=auth,
                            timeout=15,
                            excluded_checks=excluded,
                        )
                    except (AssertionError, FailureGroup) as found:
                        group = found.exceptions if isinstance(found, FailureGroup) else [found]
                        for failure in group:
                            title = getattr(failure, "title", None) or type(failure).__name__
                            failures.setdefault(
                                (case.operation.label, title),
                                f"{case.operation.label}: {title}\n  {case.as_curl_command()}"
                                f"\n  {failure}"[:1200],
                            )

                try:
                    exercise()
                except HypothesisException:  # e.g. no invalid data exists for the operation
                    pass
        assert not failures, f"{len(failures)} unique failures:\n\n" + "\n\n".join(
            failures.values()
        )
