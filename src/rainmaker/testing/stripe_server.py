"""A real Stripe stand-in for tests: ``localstripe`` on a free loopback port.

::

    with stripe_server() as server:
        client = stripe.StripeClient("sk_test_x", base_addresses={"api": server.url})
        header = sign_webhook(payload, "whsec_test")   # Stripe's signature scheme

localstripe's own command binds every interface (``::``); this starts its aiohttp
application through an ``AppRunner`` bound to 127.0.0.1 in a thread of its own, so async
tests on any event loop can reach it. Three adjustments, each filling a localstripe gap:

- its store pickles itself to ``/tmp/localstripe.pickle`` on every write; tests need no
  persistence (and parallel runs must not share one file), so that is switched off;
- it has no Checkout Sessions API: :class:`StripeServer` adds ``POST /v1/checkout/sessions``
  and ``GET /v1/checkout/sessions/{id}`` that validate the customer and the plan/prices
  against localstripe's store, price the session, honour the ``Idempotency-Key`` header and
  keep the sessions for :meth:`StripeServer.session`;
- it ignores ``Idempotency-Key`` everywhere else (a retried create makes a second object);
  nothing here changes that, the pattern's keys are checked on the sessions route.

Other gaps worth knowing: no Prices API (use Plans: a plan id is accepted wherever a price
id is), no Billing Portal, no test clocks (periods cannot be advanced), no webhook
endpoints API (``/_config/webhooks`` instead, unused here: tests sign events themselves).
"""

from __future__ import annotations

import asyncio
import secrets
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from rainmaker.patterns.payments.signatures import sign as sign_webhook
from rainmaker.testing.smtp_server import free_port

HOST = "127.0.0.1"
API_KEY = "sk_test_rainmaker_localstripe"

__all__ = ["API_KEY", "StripeServer", "sign_webhook", "stripe_server"]


@dataclass
class StripeServer:
    """A running localstripe: its base ``url`` and the Checkout Sessions it was asked for."""

    host: str
    port: int
    sessions: dict[str, dict[str, Any]] = field(default_factory=dict)
    idempotent: dict[str, str] = field(default_factory=dict)
    session_creates: int = 0

    @property
    def url(self) -> str:
        """The API base (what ``api_base`` / ``base_addresses["api"]`` takes)."""
        return f"http://{self.host}:{self.port}"

    def session(self, session_id: str) -> dict[str, Any]:
        """A Checkout Session created through the server (a copy)."""
        return dict(self.sessions[session_id])

    def build_app(self) -> Any:
        """localstripe's routes and middleware, plus the Checkout Sessions routes."""
        from aiohttp import web
        from localstripe import resources  # type: ignore[import-untyped]
        from localstripe import server as localstripe

        # Why: see the module docstring (no pickling of the store on every write).
        resources.store.dump_to_disk = lambda: None
        app = web.Application(
            middlewares=[localstripe.error_middleware, localstripe.auth_middleware]
        )
        app.router.add_post("/v1/checkout/sessions", self._create_session)
        app.router.add_get("/v1/checkout/sessions/{id}", self._get_session)
        for route in localstripe.app.router.routes():
            if route.method == "HEAD":
                continue  # aiohttp adds HEAD for each GET by itself
            info = route.resource.get_info() if route.resource else {}
            path = info.get("path") or info.get("formatter")
            if path:
                app.router.add_route(route.method, path, route.handler)
        return app

    async def _create_session(self, request: Any) -> Any:
        from aiohttp import web
        from localstripe import resources
        from localstripe import server as localstripe
        from localstripe.errors import UserError  # type: ignore[import-untyped]

        data = await localstripe.get_post_data(request) or {}
        key = request.headers.get("Idempotency-Key")
        if key and key in self.idempotent:
            return web.json_response(self.sessions[self.idempotent[key]])
        customer = data.get("customer")
        if not isinstance(customer, str):
            raise UserError(400, "customer is required")
        resources.Customer._api_retrieve(customer)  # 404 when unknown
        mode = data.get("mode")
        if mode not in ("payment", "subscription"):
            raise UserError(400, "mode must be payment or subscription")
        items = data.get("line_items") or []
        if not isinstance(items, list) or not items:
            raise UserError(400, "line_items is required")
        total = 0
        currency = None
        for item in items:
            quantity = int(item.get("quantity", 1))
            if "price" in item:
                plan = resources.Plan._api_retrieve(item["price"])  # a plan id as price
                total += plan.amount * quantity
                currency = plan.currency
            else:
                price = item.get("price_data") or {}
                amount = int(price.get("unit_amount", 0))
                if amount <= 0:
                    raise UserError(400, "unit_amount must be positive")
                total += amount * quantity
                currency = price.get("currency")
        session_id = "cs_test_" + secrets.token_hex(12)
        session = {
            "id": session_id,
            "object": "checkout.session",
            "url": f"{self.url}/checkout/{session_id}",
            "mode": mode,
            "customer": customer,
            "client_reference_id": data.get("client_reference_id"),
            "metadata": data.get("metadata") or {},
            "success_url": data.get("success_url"),
            "cancel_url": data.get("cancel_url"),
            "line_items": items,
            "amount_total": total,
            "currency": currency,
            "status": "open",
            "payment_status": "unpaid",
            "subscription": None,
            "payment_intent": None,
        }
        self.sessions[session_id] = session
        self.session_creates += 1
        if key:
            self.idempotent[key] = session_id
        return web.json_response(session)

    async def _get_session(self, request: Any) -> Any:
        from aiohttp import web
        from localstripe.errors import UserError

        session = self.sessions.get(request.match_info["id"])
        if session is None:
            raise UserError(404, "No such checkout.session")
        return web.json_response(session)


@contextmanager
def stripe_server(host: str = HOST) -> Iterator[StripeServer]:
    """Run localstripe on ``host`` (loopback) and a free port until the block ends."""
    from aiohttp import web

    server = StripeServer(host=host, port=free_port(host))
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    failure: list[BaseException] = []
    runner_box: list[Any] = []

    async def serve() -> None:
        runner = web.AppRunner(server.build_app(), access_log=None)
        await runner.setup()
        await web.TCPSite(runner, host, server.port).start()
        runner_box.append(runner)

    def run() -> None:
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(serve())
        except BaseException as error:  # report to the starting thread, then end
            failure.append(error)
            ready.set()
            return
        ready.set()
        loop.run_forever()

    thread = threading.Thread(target=run, name="localstripe", daemon=True)
    thread.start()
    ready.wait(30)
    if failure:
        raise RuntimeError(f"localstripe did not start: {failure[0]!r}") from failure[0]
    try:
        yield server
    finally:
        if runner_box:
            asyncio.run_coroutine_threadsafe(_shutdown(runner_box[0]), loop).result(30)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(30)
        loop.close()


async def _shutdown(runner: Any) -> None:
    """Stop serving, then cancel localstripe's own webhook deliveries still sleeping."""
    await runner.cleanup()
    current = asyncio.current_task()
    pending = [task for task in asyncio.all_tasks() if task is not current]
    for task in pending:
        task.cancel()
    await asyncio.gather(*pending, return_exceptions=True)
