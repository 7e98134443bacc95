"""DNS rebinding (issue 19, finding 12): a page on another site that resolves its name to
127.0.0.1 reaches the dashboard from a loopback peer, but with its own name as ``Host``."""

from __future__ import annotations

import httpx
import pytest

from rainmaker.patterns.dashboard.access import is_local_request, is_loopback_host
from tests.patterns.dashboard.conftest import LoadApp


@pytest.mark.parametrize(
    ("host", "served"),
    [
        ("localhost:8000", True),
        ("127.0.0.1:8000", True),
        ("127.0.0.2", True),
        ("[::1]:8000", True),
        ("app.localhost:8000", True),
        ("evil.example", False),
        ("evil.example:8000", False),
        ("localhost.evil.example", False),
        ("127.0.0.1.evil.example", False),
        ("[::1", False),
        ("", False),
    ],
)
async def test_the_dashboard_needs_a_loopback_host_too(
    load_app: LoadApp, host: str, served: bool
) -> None:
    app = load_app()
    async with app.running():
        transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50000))
        async with httpx.AsyncClient(transport=transport, base_url="http://localhost") as http:
            for path in ("/_rainmaker", "/_rainmaker/api/state", "/_rainmaker/api/health"):
                answer = await http.get(path, headers={"Host": host})
                assert (answer.status_code == 200) is served, (host, path, answer.text)
                if not served:
                    assert answer.status_code == 403
                    assert answer.headers["content-type"].startswith("application/problem+json")
                    assert "loopback host" in answer.json()["detail"]


def test_loopback_host_names() -> None:
    assert is_loopback_host("LOCALHOST.")
    assert not is_loopback_host(None)
    assert is_local_request("::ffff:127.0.0.1", "localhost")
    assert not is_local_request("203.0.113.9", "localhost")
