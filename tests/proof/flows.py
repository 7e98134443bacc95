"""Small HTTP flows the proofs share: a verified user, waiting for a condition."""

from __future__ import annotations

import re
import secrets
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from rainmaker.patterns.email.outbox import read_outbox

PASSWORD = "correct horse battery staple"


def eventually(check: Callable[[], Any], what: str, timeout: float = 30.0) -> Any:
    """Poll ``check`` until it returns something truthy (a bound, not an asserted duration)."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.1)


def verified_user(base_url: str, outbox: Path) -> str:
    """Register a user through ``base_url``, confirm its email from the outbox; its email."""
    email = f"proof-{secrets.token_hex(5)}@example.com"
    answer = httpx.post(
        f"{base_url}/auth/register", json={"email": email, "password": PASSWORD}, timeout=20
    )
    assert answer.status_code == 201, answer.text

    def code() -> str | None:
        for message in read_outbox(outbox):
            if email in message.recipients and "Confirm" in str(message.message["Subject"]):
                body = message.message.get_body(preferencelist=("plain",))
                text = body.get_content() if body is not None else ""
                found = re.search(r"confirmation code:\s+(\S+)", text)
                if found:
                    return found.group(1)
        return None

    token = eventually(code, "the verification email")
    answer = httpx.post(f"{base_url}/auth/verify", json={"token": token}, timeout=20)
    assert answer.status_code == 200, answer.text
    return email


def login(base_url: str, email: str, password: str = PASSWORD) -> httpx.Response:
    return httpx.post(
        f"{base_url}/auth/login", json={"email": email, "password": password}, timeout=20
    )
