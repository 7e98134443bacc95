"""The ``Http`` contract: behaviour every provider of the ``Http`` capability must show.

``framework-fastapi`` runs it; so can yours. Subclass :class:`HttpContract` in a test module
and define one fixture, ``http_under_test``, returning an :class:`HttpUnderTest`::

    from rainmaker.testing.contracts.http import HttpContract, HttpUnderTest

    class TestMyHttp(HttpContract):
        @pytest.fixture
        def http_under_test(self, tmp_path):
            return HttpUnderTest(
                use="my-http", settings={"body_limit": 4096}, body_limit=4096, root=tmp_path
            )

The suite composes the provider as instance ``http`` beside two instances of a contract
pattern (``http-contract``, defined here): ``contract`` at the pattern's default prefix
``/contract`` and ``elsewhere`` with ``mount = "/elsewhere"``. Each contributes an
``APIRouter`` (what :meth:`~rainmaker.Module.router` hands the provider) and a pure-ASGI
middleware with ordering constraints. Through the composed app it checks what the
framework promises of any ``Http`` provider:

- every module's router is served under its instance's prefix, ``http`` and ``websocket``
  scopes alike (:class:`~rainmaker.capabilities.http.HttpApp`);
- every :class:`~rainmaker.PatternError` is answered as RFC 9457 ``application/problem+json``
  with the class's ``status``, its stable ``code`` and its ``headers``; ``Retry-After`` on
  a :class:`~rainmaker.kernel.errors.RateLimitedError`; an error's ``cause`` and an
  unhandled exception's text never reach the client; unknown routes, wrong methods,
  invalid input and oversized bodies are problem+json too;
- a request id: generated when the request has none, honoured when well-formed, echoed
  in a header, put in problem bodies and bound to the request's log context (structlog
  contextvars);
- health: ``/health/live``, ``/health/ready`` (503 while a pattern is down or once
  shutdown has begun) and ``/health`` (every instance's status);
- contributed middleware wraps every request in the order its ``before``/``after``
  constraints ask, and a cycle of constraints is refused when the app composes.

``settings`` are the provider's own settings. ``body_limit`` is the largest request body,
in bytes, those settings let through (``None`` skips the 413 tests);
``request_id_header`` the header the request id travels in.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import httpx
import pytest
import pytest_asyncio
from fastapi import APIRouter, Request, WebSocket
from pydantic import BaseModel, Field
from structlog.contextvars import get_contextvars

from rainmaker.capabilities.http import Http, HttpApp, Message, Receive, Scope, Send
from rainmaker.kernel.application import Application
from rainmaker.kernel.errors import (
    ConflictError,
    ForbiddenError,
    InvalidInputError,
    NotFoundError,
    PatternError,
    RateLimitedError,
    UnauthorizedError,
    UnavailableError,
)
from rainmaker.kernel.health import Health
from rainmaker.kernel.module import Middleware, Module
from rainmaker.kernel.pattern import Pattern, Settings
from rainmaker.testing.harness import BASE_URL, build_app

__all__ = ["PROBLEM_JSON", "HttpContract", "HttpUnderTest", "http_contract_pattern"]

PROBLEM_JSON = "application/problem+json"
CONTRACT_PREFIX = "/contract"
ELSEWHERE_PREFIX = "/elsewhere"
# Text that would only reach a client through a leak (an error's cause, a crash's message).
SECRET_CAUSE = "db-host-10.0.0.7 password=hunter2"
PUBLIC_MESSAGE = "the contract says no"


@dataclass(frozen=True)
class HttpUnderTest:
    """How to compose the provider, and the limits its settings set."""

    use: str
    settings: Mapping[str, Any]
    root: Path
    body_limit: int | None = None
    request_id_header: str = "X-Request-ID"


# -- the contract pattern: what a module hands its Http provider ------------------------------


class ContractTeapotError(ConflictError):
    """A pattern's own error class: its own code and title on a kernel status."""

    code: ClassVar[str] = "contract_teapot"
    title: ClassVar[str] = "Contract teapot"


def _raise_rate_limited() -> None:
    raise RateLimitedError(PUBLIC_MESSAGE, retry_after=2.5, cause=RuntimeError(SECRET_CAUSE))


# Route name -> the error it raises; every kernel error class a pattern raises on purpose.
ERRORS: Mapping[str, type[PatternError]] = {
    "not-found": NotFoundError,
    "conflict": ConflictError,
    "unauthorized": UnauthorizedError,
    "forbidden": ForbiddenError,
    "invalid-input": InvalidInputError,
    "unavailable": UnavailableError,
    "pattern-error": PatternError,
    "teapot": ContractTeapotError,
}


class Item(BaseModel):
    """A request body the contract routes validate."""

    name: str = Field(min_length=1)
    quantity: int = Field(gt=0)


class HttpContractSettings(Settings):
    """Settings of the ``http-contract`` pattern (each instance can shape its middleware)."""

    layer: str = Field("", description="Name of the middleware this instance contributes.")
    layer_before: list[str] = Field(default_factory=list, description="Run outside these.")
    layer_after: list[str] = Field(default_factory=list, description="Run inside these.")


class LayerTagger:
    """Pure-ASGI middleware appending its name to the ``x-contract-layer`` response header.

    Headers are appended on the way out, so the innermost layer's name comes first.
    """

    def __init__(self, app: HttpApp, *, label: str) -> None:
        self.app = app
        self.label = label.encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def tag(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [
                    *(message.get("headers") or ()),
                    (b"x-contract-layer", self.label),
                ]
            await send(message)

        await self.app(scope, receive, tag)


class HttpContractModule(Module[HttpContractSettings]):
    """Routes that raise each error class, echo, upload and websocket; settable health."""

    def __init__(self, settings: HttpContractSettings, ctx: Any) -> None:
        super().__init__(settings, ctx)
        self.down = False  # flipped by the tests to watch readiness follow health

    async def health(self) -> Health:
        return Health.down(reason="told to be down") if self.down else Health.up()

    def middleware(self) -> Sequence[Middleware]:
        if not self.settings.layer:
            return ()
        return [
            Middleware(
                self.settings.layer,
                LayerTagger,
                options={"label": self.settings.layer},
                before=self.settings.layer_before,
                after=self.settings.layer_after,
            )
        ]

    def router(self) -> Any:
        instance = self.ctx.instance
        router = APIRouter()

        @router.get("/echo")
        async def echo() -> dict[str, Any]:
            # What a log line written here would be bound with.
            return {"instance": instance, "log_request_id": get_contextvars().get("request_id")}

        @router.get("/errors/{name}")
        async def error(name: str) -> None:
            if name == "rate-limited":
                _raise_rate_limited()
            if name == "with-headers":
                raise UnauthorizedError(
                    PUBLIC_MESSAGE, headers={"WWW-Authenticate": 'Bearer realm="contract"'}
                )
            raise ERRORS[name](PUBLIC_MESSAGE, cause=RuntimeError(SECRET_CAUSE))

        @router.get("/crash")
        async def crash() -> None:
            raise RuntimeError(SECRET_CAUSE)

        @router.post("/items", status_code=201)
        async def create_item(item: Item) -> dict[str, Any]:
            return item.model_dump()

        @router.post("/upload")
        async def upload(request: Request) -> dict[str, int]:
            return {"size": len(await request.body())}

        @router.websocket("/ws")
        async def websocket_echo(socket: WebSocket) -> None:
            await socket.accept()
            text = await socket.receive_text()
            await socket.send_text(f"{instance}: {text}")
            await socket.close()

        return router


def _build(settings: HttpContractSettings, ctx: Any) -> HttpContractModule:
    return HttpContractModule(settings, ctx)


http_contract_pattern: Pattern[HttpContractSettings] = Pattern(
    id="http-contract",
    version="1.0.0",
    name="Http contract routes",
    settings=HttpContractSettings,
    factory=_build,
    mount=CONTRACT_PREFIX,
)


# -- helpers ----------------------------------------------------------------------------------


def assert_problem(
    response: httpx.Response, status: int, code: str | None = None, *, request_id_header: str
) -> dict[str, Any]:
    """``response`` is RFC 9457 problem+json with ``status`` (and ``code``); its body."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].split(";")[0].strip() == PROBLEM_JSON
    body: dict[str, Any] = response.json()
    for member in ("type", "title", "status", "detail", "code", "request_id"):
        assert member in body, f"problem body lacks {member!r}: {body}"
    assert body["status"] == status
    assert isinstance(body["code"], str) and body["code"]
    if code is not None:
        assert body["code"] == code, body
    assert body["request_id"] == response.headers[request_id_header]
    assert SECRET_CAUSE not in response.text
    return body


async def websocket_exchange(app: HttpApp, path: str, text: str) -> list[Message]:
    """Drive one websocket session over raw ASGI: connect, send ``text``, collect replies."""
    inbound: asyncio.Queue[Message] = asyncio.Queue()
    sent: list[Message] = []
    for message in (
        {"type": "websocket.connect"},
        {"type": "websocket.receive", "text": text},
    ):
        await inbound.put(message)

    async def receive() -> Message:
        return await inbound.get()

    async def send(message: Message) -> None:
        sent.append(message)
        if message["type"] == "websocket.close":
            await inbound.put({"type": "websocket.disconnect", "code": 1000})

    scope: Scope = {
        "type": "websocket",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "scheme": "ws",
        "server": ("testserver", 80),
        "client": ("127.0.0.1", 50000),
        "root_path": "",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "headers": [(b"host", b"testserver")],
        "subprotocols": [],
        "state": {},
    }
    await asyncio.wait_for(app(scope, receive, send), timeout=10)
    return sent


# -- the suite --------------------------------------------------------------------------------


@pytest.mark.asyncio
class HttpContract:
    """Every ``Http`` provider passes these tests (subclass and define ``http_under_test``)."""

    @pytest.fixture
    def http_under_test(self) -> HttpUnderTest:
        raise NotImplementedError("define the http_under_test fixture in your subclass")

    def compose(
        self,
        under_test: HttpUnderTest,
        instances: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> Application:
        """The provider as ``http`` plus ``instances`` (default: ``contract`` and ``elsewhere``)."""
        if instances is None:
            instances = {
                "contract": {"use": http_contract_pattern.id},
                "elsewhere": {"use": http_contract_pattern.id, "mount": ELSEWHERE_PREFIX},
            }
        return build_app(
            {"http": {"use": under_test.use, **under_test.settings}, **instances},
            root=under_test.root,
            name="contract",
            extra_patterns=[http_contract_pattern],
        )

    @asynccontextmanager
    async def serving(self, app: Application) -> AsyncIterator[httpx.AsyncClient]:
        """``app`` started, and a client speaking to it over ASGI (no socket)."""
        async with app.running():
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as client:
                yield client

    @pytest_asyncio.fixture
    async def app(self, http_under_test: HttpUnderTest) -> AsyncIterator[Application]:
        app = self.compose(http_under_test)
        async with app.running():
            yield app

    @pytest_asyncio.fixture
    async def client(self, app: Application) -> AsyncIterator[httpx.AsyncClient]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as client:
            yield client

    @pytest.fixture
    def problem(self, http_under_test: HttpUnderTest) -> Callable[..., dict[str, Any]]:
        """:func:`assert_problem` bound to the provider's request id header."""

        def check(response: httpx.Response, status: int, code: str | None = None) -> Any:
            return assert_problem(
                response, status, code, request_id_header=http_under_test.request_id_header
            )

        return check

    # -- the service --------------------------------------------------------------------------

    async def test_provider_registers_an_asgi_app(self, app: Application) -> None:
        service = app.services.require(Http)
        assert isinstance(service, HttpApp)
        assert callable(service)

    # -- routers contributed by modules -------------------------------------------------------

    async def test_routers_are_served_under_their_instance_prefix(
        self, client: httpx.AsyncClient
    ) -> None:
        default = await client.get(f"{CONTRACT_PREFIX}/echo")
        assert default.status_code == 200, default.text
        assert default.json()["instance"] == "contract"
        moved = await client.get(f"{ELSEWHERE_PREFIX}/echo")
        assert moved.status_code == 200, moved.text
        assert moved.json()["instance"] == "elsewhere"

    async def test_a_mount_moves_every_route_of_the_instance(
        self, http_under_test: HttpUnderTest, problem: Callable[..., dict[str, Any]]
    ) -> None:
        app = self.compose(
            http_under_test, {"moved": {"use": http_contract_pattern.id, "mount": "/moved"}}
        )
        async with self.serving(app) as client:
            assert (await client.get("/moved/echo")).json()["instance"] == "moved"
            created = await client.post("/moved/items", json={"name": "a", "quantity": 1})
            assert created.status_code == 201, created.text
            assert created.json() == {"name": "a", "quantity": 1}
            # Nothing is left behind at the pattern's default prefix.
            problem(await client.get(f"{CONTRACT_PREFIX}/echo"), 404)

    async def test_websocket_routes_are_served(self, app: Application) -> None:
        sent = await websocket_exchange(app, f"{ELSEWHERE_PREFIX}/ws", "hello")
        kinds = [message["type"] for message in sent]
        assert kinds[0] == "websocket.accept", sent
        assert {"type": "websocket.send", "text": "elsewhere: hello"} in [
            {k: v for k, v in m.items() if k in ("type", "text")} for m in sent
        ]
        assert kinds[-1] == "websocket.close"

    # -- problem+json -------------------------------------------------------------------------

    @pytest.mark.parametrize("name", sorted(ERRORS))
    async def test_pattern_errors_are_problem_json_with_status_and_code(
        self, client: httpx.AsyncClient, problem: Callable[..., dict[str, Any]], name: str
    ) -> None:
        error = ERRORS[name]
        response = await client.get(f"{CONTRACT_PREFIX}/errors/{name}")
        body = problem(response, error.status, error.code)
        assert body["title"]
        assert isinstance(body["type"], str) and body["type"]
        if error.status < 500:
            assert PUBLIC_MESSAGE in body["detail"]  # what the pattern told the caller

    async def test_a_problem_type_names_its_code(
        self, client: httpx.AsyncClient, problem: Callable[..., dict[str, Any]]
    ) -> None:
        # Two errors of one status but different codes must be told apart by "type" too.
        teapot = problem(await client.get(f"{CONTRACT_PREFIX}/errors/teapot"), 409)
        conflict = problem(await client.get(f"{CONTRACT_PREFIX}/errors/conflict"), 409)
        assert teapot["code"] == "contract_teapot" and conflict["code"] == "conflict"
        assert teapot["type"] != conflict["type"]

    async def test_error_headers_reach_the_answer(
        self, client: httpx.AsyncClient, problem: Callable[..., dict[str, Any]]
    ) -> None:
        response = await client.get(f"{CONTRACT_PREFIX}/errors/with-headers")
        problem(response, 401, UnauthorizedError.code)
        assert response.headers["www-authenticate"] == 'Bearer realm="contract"'

    async def test_rate_limited_answers_carry_retry_after(
        self, client: httpx.AsyncClient, problem: Callable[..., dict[str, Any]]
    ) -> None:
        response = await client.get(f"{CONTRACT_PREFIX}/errors/rate-limited")
        problem(response, 429, RateLimitedError.code)
        # Delta-seconds is an integer (RFC 9110); rounding down would invite a too-early retry.
        assert int(response.headers["retry-after"]) == math.ceil(2.5)

    async def test_unhandled_exception_is_a_500_problem_without_internals(
        self, client: httpx.AsyncClient, problem: Callable[..., dict[str, Any]]
    ) -> None:
        problem(await client.get(f"{CONTRACT_PREFIX}/crash"), 500)
        # The app keeps serving after a crash.
        assert (await client.get(f"{CONTRACT_PREFIX}/echo")).status_code == 200

    async def test_unknown_route_is_a_404_problem(
        self, client: httpx.AsyncClient, problem: Callable[..., dict[str, Any]]
    ) -> None:
        problem(await client.get("/no/such/route"), 404, NotFoundError.code)
        problem(await client.get(f"{CONTRACT_PREFIX}/nothing-here"), 404, NotFoundError.code)

    async def test_wrong_method_is_a_405_problem_with_allow(
        self, client: httpx.AsyncClient, problem: Callable[..., dict[str, Any]]
    ) -> None:
        response = await client.delete(f"{CONTRACT_PREFIX}/echo")
        problem(response, 405)
        assert "GET" in response.headers["allow"]  # RFC 9110: a 405 lists what is allowed

    async def test_invalid_input_is_a_422_problem(
        self, client: httpx.AsyncClient, problem: Callable[..., dict[str, Any]]
    ) -> None:
        problem(await client.post(f"{CONTRACT_PREFIX}/items", json={"name": ""}), 422)
        malformed = await client.post(
            f"{CONTRACT_PREFIX}/items",
            content=b"{not json",
            headers={"content-type": "application/json"},
        )
        problem(malformed, 422)

    async def test_declared_oversized_body_is_a_413_problem(
        self,
        client: httpx.AsyncClient,
        http_under_test: HttpUnderTest,
        problem: Callable[..., dict[str, Any]],
    ) -> None:
        limit = http_under_test.body_limit
        if limit is None:
            pytest.skip("the provider under test declares no body limit")
        fits = await client.post(f"{CONTRACT_PREFIX}/upload", content=b"x" * limit)
        assert fits.status_code == 200, fits.text
        assert fits.json() == {"size": limit}
        problem(await client.post(f"{CONTRACT_PREFIX}/upload", content=b"x" * (limit + 1)), 413)

    async def test_streamed_oversized_body_is_a_413_problem(
        self,
        client: httpx.AsyncClient,
        http_under_test: HttpUnderTest,
        problem: Callable[..., dict[str, Any]],
    ) -> None:
        limit = http_under_test.body_limit
        if limit is None:
            pytest.skip("the provider under test declares no body limit")
        chunk = max(1, limit // 4)

        async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: sent chunked
            sent = 0
            while sent <= limit:
                yield b"y" * chunk
                sent += chunk

        problem(await client.post(f"{CONTRACT_PREFIX}/upload", content=chunks()), 413)

    # -- request ids --------------------------------------------------------------------------

    async def test_a_request_id_is_generated_and_echoed(
        self, client: httpx.AsyncClient, http_under_test: HttpUnderTest
    ) -> None:
        header = http_under_test.request_id_header
        first = await client.get(f"{CONTRACT_PREFIX}/echo")
        second = await client.get(f"{CONTRACT_PREFIX}/echo")
        ids = [first.headers.get(header), second.headers.get(header)]
        assert all(ids), "every answer carries a request id"
        assert ids[0] != ids[1], "each request gets its own id"

    async def test_a_well_formed_request_id_is_honoured(
        self, client: httpx.AsyncClient, http_under_test: HttpUnderTest
    ) -> None:
        header = http_under_test.request_id_header
        answer = await client.get(f"{CONTRACT_PREFIX}/echo", headers={header: "req-0123456789"})
        assert answer.headers[header] == "req-0123456789"

    async def test_a_malformed_request_id_is_replaced(
        self, client: httpx.AsyncClient, http_under_test: HttpUnderTest
    ) -> None:
        # A caller's id ends up in log lines and headers: nothing that could forge either.
        header = http_under_test.request_id_header
        forged = 'x" injected=1 ' + "y" * 300
        answer = await client.get(f"{CONTRACT_PREFIX}/echo", headers={header: forged})
        assert answer.status_code == 200
        assert answer.headers[header] and answer.headers[header] != forged

    async def test_the_request_id_is_bound_to_the_log_context(
        self, client: httpx.AsyncClient, http_under_test: HttpUnderTest
    ) -> None:
        header = http_under_test.request_id_header
        answer = await client.get(f"{CONTRACT_PREFIX}/echo", headers={header: "trace-42"})
        assert answer.json()["log_request_id"] == "trace-42"
        generated = await client.get(f"{CONTRACT_PREFIX}/echo")
        assert generated.json()["log_request_id"] == generated.headers[header]

    async def test_problem_bodies_carry_the_request_id(
        self,
        client: httpx.AsyncClient,
        http_under_test: HttpUnderTest,
        problem: Callable[..., dict[str, Any]],
    ) -> None:
        header = http_under_test.request_id_header
        response = await client.get("/no/such/route", headers={header: "lost-request-7"})
        assert problem(response, 404)["request_id"] == "lost-request-7"

    # -- health -------------------------------------------------------------------------------

    async def test_liveness_answers_while_running(self, client: httpx.AsyncClient) -> None:
        assert (await client.get("/health/live")).status_code == 200

    async def test_readiness_follows_the_patterns_health(
        self, app: Application, client: httpx.AsyncClient
    ) -> None:
        assert (await client.get("/health/ready")).status_code == 200
        module = app.instances["elsewhere"].module
        assert isinstance(module, HttpContractModule)
        module.down = True
        assert (await client.get("/health/ready")).status_code == 503
        assert (await client.get("/health/live")).status_code == 200  # the process is fine
        module.down = False
        assert (await client.get("/health/ready")).status_code == 200

    async def test_health_detail_reports_every_instance(
        self, app: Application, client: httpx.AsyncClient
    ) -> None:
        healthy = await client.get("/health")
        assert healthy.status_code == 200, healthy.text
        patterns = healthy.json()["patterns"]
        assert {"http", "contract", "elsewhere"} <= set(patterns)
        assert patterns["contract"]["status"] == "up"
        module = app.instances["contract"].module
        assert isinstance(module, HttpContractModule)
        module.down = True
        sick = await client.get("/health")
        assert sick.status_code == 503
        assert sick.json()["patterns"]["contract"]["status"] == "down"

    async def test_readiness_fails_once_shutdown_begins(
        self, app: Application, client: httpx.AsyncClient
    ) -> None:
        app.begin_shutdown()
        assert (await client.get("/health/ready")).status_code == 503
        assert (await client.get("/health/live")).status_code == 200
        # In-flight and late requests are still served while draining.
        assert (await client.get(f"{CONTRACT_PREFIX}/echo")).status_code == 200

    # -- middleware contributed by modules ----------------------------------------------------

    async def test_middleware_wraps_requests_in_constraint_order(
        self, http_under_test: HttpUnderTest
    ) -> None:
        app = self.compose(
            http_under_test,
            {
                # Listed inner-first on purpose: only the constraints may decide the order.
                "inner": {"use": http_contract_pattern.id, "mount": "/inner", "layer": "inner"},
                "middle": {
                    "use": http_contract_pattern.id,
                    "mount": "/middle",
                    "layer": "middle",
                    "layer_before": ["inner"],
                },
                "outer": {
                    "use": http_contract_pattern.id,
                    "mount": "/outer",
                    "layer": "outer",
                    "layer_before": ["middle"],
                },
            },
        )
        async with self.serving(app) as client:
            for path in ("/inner/echo", "/outer/echo", "/no/such/route"):
                answer = await client.get(path)
                # Headers are appended on the way out: innermost first.
                assert answer.headers.get_list("x-contract-layer") == [
                    "inner",
                    "middle",
                    "outer",
                ], path

    async def test_a_middleware_cycle_is_refused_at_composition(
        self, http_under_test: HttpUnderTest
    ) -> None:
        app = self.compose(
            http_under_test,
            {
                "a": {
                    "use": http_contract_pattern.id,
                    "mount": "/a",
                    "layer": "contract-a",
                    "layer_before": ["contract-b"],
                },
                "b": {
                    "use": http_contract_pattern.id,
                    "mount": "/b",
                    "layer": "contract-b",
                    "layer_before": ["contract-a"],
                },
            },
        )
        with pytest.raises(PatternError) as caught:
            await app.start()
        await app.stop()
        text = str(caught.value)
        assert "contract-a" in text and "contract-b" in text, text
