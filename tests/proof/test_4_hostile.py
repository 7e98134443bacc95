"""Hostile input against a running web process of the demo: schemathesis over its own
OpenAPI document (no 5xx, no response that breaks its schema), malformed requests on raw
sockets (bad Content-Length, non-UTF-8 header values, a huge header), huge bodies (413)
and a slowloris client (the server closes the half-sent request)."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.proof.conftest import Cluster, Figures
from tests.proof.flows import login, verified_user

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.rabbitmq, pytest.mark.slow]

MAX_EXAMPLES = 25  # per operation and generation mode: keeps the run well under a minute
SLOWLORIS_BOUND = 12.0  # seconds the server may take to close a half-sent request


@pytest.fixture(scope="module")
def token(cluster: Cluster) -> Iterator[str]:
    email = verified_user(cluster.urls[1], cluster.deployment.root.parent / "outbox")
    answer = login(cluster.urls[1], email)
    assert answer.status_code == 200, answer.text
    yield str(answer.json()["access_token"])


def test_schemathesis_finds_no_server_error(cluster: Cluster, figures: Figures, token: str) -> None:
    import schemathesis
    from hypothesis import HealthCheck, Phase, given, settings
    from hypothesis.errors import HypothesisException
    from schemathesis.checks import not_a_server_error, response_schema_conformance
    from schemathesis.generation import GenerationMode

    url = cluster.urls[0]
    schema = schemathesis.openapi.from_url(f"{url}/openapi.json")
    auth = {"Authorization": f"Bearer {token}"}
    failures: list[str] = []
    cases = 0
    operations = 0
    started = time.monotonic()
    for result in schema.get_all_operations():
        operation = result.ok()  # type: ignore[union-attr]  # an invalid schema raises here
        if operation.path.startswith("/proofkit"):  # the test's own pattern, not the demo
            continue
        operations += 1
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
                nonlocal cases
                cases += 1
                response = case.call(base_url=url, headers=auth, timeout=15)
                try:
                    case.validate_response(
                        response, checks=[not_a_server_error, response_schema_conformance]
                    )
                except AssertionError as failure:
                    failures.append(
                        f"{case.operation.label}: {case.as_curl_command()}\n"
                        f"  -> {response.status_code} {response.text[:300]}\n  {failure}"[:1500]
                    )

            try:
                exercise()
            except HypothesisException:  # e.g. no negative data exists for this operation
                pass
    figures.record(
        "schemathesis",
        operations=operations,
        cases_tried=cases,
        failures=len(failures),
        seconds=round(time.monotonic() - started, 1),
    )
    assert not failures, "\n".join(failures[:10])
    assert cases > operations


def raw(url: str, payload: bytes, *, timeout: float = 10.0) -> bytes:
    """Send ``payload`` on a fresh connection; everything the server answers until it closes."""
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=timeout) as sock:
        sock.sendall(payload)
        chunks = []
        try:
            while chunk := sock.recv(65536):
                chunks.append(chunk)
        except (TimeoutError, ConnectionResetError):
            pass
    return b"".join(chunks)


def status_of(answer: bytes) -> int:
    line = answer.split(b"\r\n", 1)[0]
    assert line.startswith(b"HTTP/1.1 "), answer[:200]
    return int(line.split()[1])


MALFORMED = {
    "non-numeric Content-Length": (
        b"POST /auth/login HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: abc\r\n\r\n{}"
    ),
    "negative Content-Length": (
        b"POST /auth/login HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: -5\r\n\r\n{}"
    ),
    "two different Content-Lengths": (
        b"POST /auth/login HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 2\r\n"
        b"Content-Length: 9\r\n\r\n{}"
    ),
    "Content-Length and chunked": (
        b"POST /auth/login HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 2\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n{}"
    ),
    "bad chunk size": (
        b"POST /auth/login HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n"
        b"Content-Type: application/json\r\n\r\nzz\r\n{}\r\n0\r\n\r\n"
    ),
}

HEAD_LIMITS = {
    "huge header": (
        b"GET /health/live HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: " + b"a" * 200_000 + b"\r\n\r\n"
    ),
    "ten thousand headers": (
        b"GET /health/live HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        + b"".join(b"X-H%d: v\r\n" % n for n in range(10_000))
        + b"\r\n"
    ),
}

NON_UTF8 = {
    "Authorization": b"Bearer \xff\xfe\xfa",
    "X-Request-ID": b"\xff\xfe-id",
    "Content-Type": b"application/json; charset=\xff",
    "Origin": b"http://\xe9vil.example",
    "Host": b"127.0.0.1\xff",
    "User-Agent": b"\xc3\x28 agent",
}


def test_malformed_requests_are_refused_cleanly(cluster: Cluster, figures: Figures) -> None:
    url = cluster.urls[0]
    seen: dict[str, int] = {}
    for name, payload in MALFORMED.items():
        answer = raw(url, payload)
        seen[name] = status_of(answer)
        assert 400 <= seen[name] < 500, (name, answer[:300])
    for header, value in NON_UTF8.items():
        payload = (
            b"GET /projects/account HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            if header != "Host"
            else b"GET /projects/account HTTP/1.1\r\n"
        )
        payload += header.encode() + b": " + value + b"\r\nConnection: close\r\n\r\n"
        answer = raw(url, payload)
        seen[f"non-UTF-8 {header}"] = status_of(answer)
        assert 400 <= seen[f"non-UTF-8 {header}"] < 500, (header, answer[:400])
    cluster.alive()
    figures.record("malformed_requests", cases=len(seen), statuses=seen)


@pytest.mark.parametrize("name", sorted(HEAD_LIMITS))
def test_oversized_request_heads_are_refused(cluster: Cluster, figures: Figures, name: str) -> None:
    answer = raw(cluster.urls[1], HEAD_LIMITS[name])
    status = status_of(answer) if answer else None
    figures.record("oversized_heads", **{name: status})
    cluster.alive()
    assert status == 431, answer[:300]


def test_huge_bodies_get_413(cluster: Cluster, figures: Figures) -> None:
    url = cluster.urls[1]
    big = b"x" * (3 * 1024 * 1024)  # over the 1 MiB default limit
    declared = httpx.post(
        f"{url}/auth/login", content=big, headers={"content-type": "application/json"}
    )
    assert declared.status_code == 413, declared.text
    assert declared.headers["content-type"].startswith("application/problem+json")

    def chunks() -> Iterator[bytes]:
        for _ in range(48):
            yield b"y" * 65536

    streamed = httpx.post(
        f"{url}/auth/login", content=chunks(), headers={"content-type": "application/json"}
    )
    assert streamed.status_code == 413, streamed.text
    # Announce 50 MB and send none of it: refused before the body is read.
    answer = raw(
        url,
        b"POST /proofkit/notes HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 50000000\r\n"
        b"Connection: close\r\n\r\n",
    )
    assert status_of(answer) == 413, answer[:300]
    cluster.alive()
    figures.record("huge_bodies", declared=413, chunked=413, announced_only=413)


def test_slowloris_connection_is_closed(cluster: Cluster, figures: Figures) -> None:
    url = cluster.urls[0]
    host, port = url.removeprefix("http://").split(":")
    results: dict[str, float] = {}
    for name, first in {
        "idle connection": b"",
        "partial request line": b"GET /health/li",
        "partial headers": b"GET /health/live HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ",
        "partial body": (
            b"POST /auth/login HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json"
            b'\r\nContent-Length: 100\r\n\r\n{"em'
        ),
    }.items():
        with socket.create_connection((host, int(port)), timeout=SLOWLORIS_BOUND) as sock:
            opened = time.monotonic()
            if first:
                sock.sendall(first)
            try:
                data = sock.recv(65536)
                while data and not data.endswith(b"\r\n\r\n") and b"\r\n\r\n" not in data:
                    data += sock.recv(65536)
                closed = True
            except TimeoutError:
                closed = False
            except ConnectionResetError:
                closed = True
            results[name] = round(time.monotonic() - opened, 2)
            assert closed, f"{name}: still open after {SLOWLORIS_BOUND}s"
    cluster.alive()
    figures.record("slowloris", closed_after_s=results)
