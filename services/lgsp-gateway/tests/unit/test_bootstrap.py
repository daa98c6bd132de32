"""The composition root: clients open in order, close in reverse; a 202 waits for its audit."""

from __future__ import annotations

import httpx
import pytest
from gateway_fakes import AUDIT, TOPIC, Gateway, started, unit_settings

from lgsp_gateway.bootstrap import Runtime


async def test_clients_start_in_order_and_stop_in_reverse_and_202_waits_for_the_audit() -> None:
    async with started(unit_settings()) as gateway:
        assert gateway.log == ["topics", "producer.start", "registry.start"]
        gateway.producer.ack_delay_s[AUDIT] = 0.05  # the 202 waits for the audit record's ack
        assert (await gateway.publish()).status_code == 202
        assert gateway.log[-1] == f"ack:{AUDIT}"
        gateway.log.clear()
    assert gateway.log == ["client.aclose", "registry.stop", "producer.stop"]


async def test_a_failed_start_stops_what_already_started() -> None:
    gateway = started(unit_settings())

    async def refuse(timeout_s: float = 30) -> None:
        raise RuntimeError("topic 'lgsp.registry' does not exist")

    gateway.registry.start = refuse  # type: ignore[method-assign]
    with pytest.raises(RuntimeError, match="does not exist"):
        async with gateway:
            pass
    assert gateway.log == ["topics", "producer.start", "producer.stop"]


async def test_runtime_is_on_the_app_state(gateway: Gateway) -> None:
    runtime = gateway.app.state.runtime
    assert isinstance(runtime, Runtime)
    assert runtime.registry is gateway.registry
    assert runtime.publish.settings.fast_lane == runtime.settings.fast_lane


async def test_readiness_names_the_registry_copy_and_the_unreachable_broker(
    gateway: Gateway,
) -> None:
    answer = await gateway.http.get("/readyz")
    assert answer.status_code == 503
    checks = answer.json()["checks"]
    assert checks["registry"] == "ok: caught up"
    assert checks["kafka"].startswith("fail: kafka unreachable")


async def test_readiness_before_start_up_says_the_copy_is_replaying() -> None:
    gateway = started(unit_settings())  # built, lifespan not entered: no Runtime yet
    transport = httpx.ASGITransport(app=gateway.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as http:
        answer = await http.get("/readyz")
    assert answer.status_code == 503
    assert answer.json()["checks"]["registry"] == "fail: replaying lgsp.registry"
    assert gateway.log == []


async def test_single_publish_before_start_up_is_not_taken_by_the_fast_lane() -> None:
    gateway = started(unit_settings())
    transport = httpx.ASGITransport(app=gateway.app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as http:
        answer = await http.post(f"/v1/topics/{TOPIC}/events", json={})
    assert answer.status_code == 500  # FastAPI's route finds no Runtime; nothing was produced
    assert gateway.producer.sent == []
