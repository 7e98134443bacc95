"""The running demo (default profile, no server at all) and a signed-up account on it.

Shared by the tests that drive the demo through its API description: the generated
client and schemathesis. :func:`running_demo` serves ``rainmaker.load()`` of the demo
with uvicorn on a loopback port (real HTTP; the full process tests are in
``test_saas.py``), its files in a temporary folder; :func:`sign_up` registers an account,
confirms it with the code from the outbox and logs in.
"""

from __future__ import annotations

import asyncio
import re
import secrets
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from rainmaker.testing.smtp_server import free_port
from tests.e2e.conftest import APP, READY_TIMEOUT, STOP_TIMEOUT

PASSWORD = "correct horse battery staple"
WAIT = 20.0


@dataclass
class Demo:
    """The demo's processes and where its email lands."""

    base_url: str
    outbox: Path

    def confirmation_code(self, email: str) -> str:
        """The code in the confirmation email sent to ``email`` (waits for the mail)."""
        from rainmaker.patterns.email.outbox import read_outbox

        deadline = time.monotonic() + WAIT
        while time.monotonic() < deadline:
            for mail in read_outbox(self.outbox):
                if email in mail.recipients and "Confirm" in str(mail.message["Subject"]):
                    body = mail.message.get_body(preferencelist=("plain",))
                    text = body.get_content() if body is not None else ""
                    match = re.search(r"confirmation code:\s+(\S+)", text)
                    assert match, text
                    return match.group(1)
            time.sleep(0.1)
        pytest.fail(f"no confirmation email reached {email}")


@contextmanager
def running_demo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Demo]:
    """The demo with embedded defaults, its database, outbox and files under ``tmp_path``,
    served by uvicorn on a free loopback port in this process (real HTTP)."""
    import uvicorn

    import rainmaker

    outbox = tmp_path / "outbox"
    env = {
        "SAAS_DB_PATH": str(tmp_path / "saas.db"),
        "SAAS_OUTBOX": str(outbox),
        "SAAS_STORAGE_ROOT": str(tmp_path / "storage"),
        # The demo has no secrets in the repository; a test makes its own.
        "JWT_SECRET": secrets.token_urlsafe(32),
        "PAYMENTS_WEBHOOK_SECRET": "whsec_" + secrets.token_urlsafe(24),
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    app = rainmaker.load(APP / "rainmaker.toml")
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, lifespan="on", log_level="warning")
    )
    stopping = threading.Event()

    async def serve() -> None:
        # The web server and, once the app has started, its worker loops (the emails are
        # jobs), like `rainmaker run` beside `rainmaker worker`; the loops stop first.
        serving = asyncio.create_task(server.serve())
        while not server.started and not serving.done():
            await asyncio.sleep(0.05)
        roles = [
            role
            for module in app.modules().values()
            if (role := module.process_roles().get(rainmaker.WORKER_ROLE)) is not None
        ]
        loops = [asyncio.create_task(role.run(rainmaker.RoleOptions())) for role in roles]
        while not stopping.is_set() and not serving.done():
            await asyncio.sleep(0.05)
        for role in roles:
            role.stop()
        await asyncio.gather(*loops, return_exceptions=True)
        server.should_exit = True
        await serving

    thread = threading.Thread(target=asyncio.run, args=(serve(),), name="demo", daemon=True)
    thread.start()
    deadline = time.monotonic() + READY_TIMEOUT
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            pytest.fail("the demo did not start (see the log above)")
        time.sleep(0.05)
    try:
        yield Demo(f"http://127.0.0.1:{port}", outbox)
    finally:
        stopping.set()
        thread.join(STOP_TIMEOUT)


def sign_up(demo: Demo, email: str | None = None) -> str:
    """Register, confirm and log in a new account: its access token."""
    email = email or f"user-{secrets.token_hex(4)}@example.com"
    with httpx.Client(base_url=demo.base_url, timeout=15) as client:
        answer = client.post("/auth/register", json={"email": email, "password": PASSWORD})
        assert answer.status_code in (201, 202), answer.text
        code = demo.confirmation_code(email)
        assert client.post("/auth/verify", json={"token": code}).status_code == 200
        answer = client.post("/auth/login", json={"email": email, "password": PASSWORD})
        assert answer.status_code == 200, answer.text
        token: str = answer.json()["access_token"]
        return token
