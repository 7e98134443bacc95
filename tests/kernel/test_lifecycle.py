"""Start in dependency order, stop in reverse, fail cleanly, report health."""

from __future__ import annotations

import pytest

from rainmaker.kernel.errors import DependencyError, StartupError
from tests.kernel import fakes
from tests.kernel.fakes import Store, StoreCap, make_app

APP = '[app]\nname = "t"\nstart_timeout = 0.5\n'
TWO = APP + '[patterns.users]\nuse = "fake-user"\n[patterns.db]\nuse = "fake-store"\n'


async def test_start_in_order_stop_in_reverse() -> None:
    app = make_app(TWO)
    await app.start()
    assert app.state == "running"
    user_module = app.instances["users"].module
    assert isinstance(user_module, fakes.UserModule)
    assert user_module.store.owner == "db"
    await app.stop()
    assert fakes.events == ["start db", "start users", "stop users", "stop db"]
    assert app.state == "stopped"


async def test_stop_is_idempotent_and_restart_works() -> None:
    app = make_app(TWO)
    await app.stop()  # before start: harmless
    async with app.running():
        pass
    await app.stop()
    async with app.running():
        assert app.services.get(StoreCap) is not None
    assert app.services.get(StoreCap) is None
    assert fakes.events.count("start db") == 2
    assert fakes.events.count("stop db") == 2


async def test_failed_start_stops_what_started_and_names_the_pattern() -> None:
    toml = (
        APP + '[patterns.db]\nuse = "fake-store"\n'
        '[patterns.broken]\nuse = "fake-store"\npath = "/nope"\nfail_start = true\n'
        '[patterns.users]\nuse = "fake-user"\nproviders = { Store = "db" }\n'
    )
    app = make_app(toml)
    with pytest.raises(StartupError) as info:
        await app.start()
    assert info.value.pattern_id == "broken"
    assert "broken (fake-store) failed to start: RuntimeError: cannot open /nope" in str(info.value)
    assert fakes.events == ["start db", "start broken", "stop db"]
    assert app.state == "failed"
    assert app.registry.providers(StoreCap) == {}


async def test_start_timeout_is_per_pattern() -> None:
    app = make_app(APP + '[patterns.db]\nuse = "fake-store"\nstart_delay = 5\n')
    with pytest.raises(StartupError, match=r"did not start within 0.5s"):
        await app.start()


async def test_pattern_that_does_not_register_what_it_provides() -> None:
    app = make_app(APP + '[patterns.db]\nuse = "fake-store"\nregisters = false\n')
    with pytest.raises(StartupError, match="declares that it provides Store but did not register"):
        await app.start()


async def test_health_report_and_readiness() -> None:
    app = make_app(
        APP + '[patterns.db]\nuse = "fake-store"\n[patterns.cache]\nuse = "fake-store"\n'
        'health_status = "degraded"\n'
    )
    before = await app.health()
    assert not before.ready
    assert {i.status.value for i in before.instances} == {"down"}
    async with app.running():
        report = await app.health()
        assert report.ready
        assert report.status.value == "degraded"
        body = report.as_dict()
        assert body["patterns"]["db"]["details"] == {"path": "store.db"}
        assert body["patterns"]["db"]["latency_ms"] >= 0
        app.begin_shutdown()
        assert app.state == "draining"
        assert not (await app.health()).ready


async def test_down_instance_makes_app_not_ready() -> None:
    app = make_app(APP + '[patterns.db]\nuse = "fake-store"\nhealth_status = "down"\n')
    async with app.running():
        assert not (await app.health()).ready


async def test_require_names_asker_and_installed_providers() -> None:
    app = make_app(APP + '[patterns.db]\nuse = "fake-store"\n')
    async with app.running():
        assert app.services.require(StoreCap).owner == "db"
        with pytest.raises(DependencyError) as info:
            app.services.require(fakes.MailCap)
    assert "app requires Mail, but no running instance provides it" in str(info.value)


async def test_ambiguous_get_asks_for_a_choice() -> None:
    app = make_app(APP + '[patterns.a]\nuse = "fake-store"\n[patterns.b]\nuse = "fake-store"\n')
    async with app.running():
        with pytest.raises(DependencyError, match=r'providers = \{ Store = "<instance>" \}'):
            app.services.get(StoreCap)


async def test_register_checks_the_interface() -> None:
    app = make_app(APP + '[patterns.db]\nuse = "fake-store"\n')
    app.build()
    module = app.instances["db"].module
    assert module is not None
    with pytest.raises(TypeError, match="needs a Store"):
        module.ctx.services.register(StoreCap, "not a store")  # type: ignore[arg-type]
    module.ctx.services.register(StoreCap, Store("x"))


async def test_asgi_lifespan_runs_start_and_stop() -> None:
    app = make_app(APP + '[patterns.db]\nuse = "fake-store"\n')
    messages = [{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}]
    sent: list[dict[str, str]] = []

    async def receive() -> dict[str, str]:
        return messages.pop(0)

    async def send(message: dict[str, str]) -> None:
        sent.append(message)

    await app({"type": "lifespan"}, receive, send)  # type: ignore[arg-type]
    assert [m["type"] for m in sent] == ["lifespan.startup.complete", "lifespan.shutdown.complete"]
    assert fakes.events == ["start db", "stop db"]


async def test_asgi_lifespan_reports_startup_failure() -> None:
    app = make_app(APP + '[patterns.db]\nuse = "fake-store"\nfail_start = true\n')
    sent: list[dict[str, str]] = []

    async def receive() -> dict[str, str]:
        return {"type": "lifespan.startup"}

    async def send(message: dict[str, str]) -> None:
        sent.append(message)

    await app({"type": "lifespan"}, receive, send)  # type: ignore[arg-type]
    assert sent[0]["type"] == "lifespan.startup.failed"
    assert "db (fake-store) failed to start" in sent[0]["message"]


async def test_http_before_start_is_a_503_problem() -> None:
    app = make_app(APP + '[patterns.db]\nuse = "fake-store"\n')
    sent: list[dict[str, object]] = []

    async def receive() -> dict[str, object]:
        return {"type": "http.request", "body": b""}

    async def send(message: dict[str, object]) -> None:
        sent.append(message)

    await app({"type": "http", "path": "/"}, receive, send)  # type: ignore[arg-type]
    assert sent[0]["status"] == 503
    assert (b"content-type", b"application/problem+json") in sent[0]["headers"]  # type: ignore[operator]
    assert b"The app is created." in sent[1]["body"]  # type: ignore[operator]
