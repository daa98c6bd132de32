"""A stale registry copy fails closed: authenticated calls answer 503, never trust old keys.

`MemoryRegistry` is a real `RegistryCopy`; setting its `confirmed_at` says when it last
confirmed it had read `lgsp.registry` to its end.
"""

from __future__ import annotations

import time
from typing import Any

import orjson
import pytest
from gateway_fakes import AUDIT, TOPIC, Gateway, started, unit_settings


def make_stale(gateway: Gateway, age_s: float = 60.0) -> None:
    gateway.registry.confirmed_at = time.monotonic() - age_s


def assert_stale_refusal(answer: Any) -> None:
    assert answer.status_code == 503, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert answer.headers["retry-after"] == "7"
    assert answer.json()["type"].endswith("registry-stale")


async def test_a_publish_is_refused_while_the_copy_is_stale(gateway: Gateway) -> None:
    make_stale(gateway)
    assert_stale_refusal(await gateway.publish())
    assert_stale_refusal(await gateway.publish(key="lgsp_00000000_" + "x" * 43))
    assert gateway.producer.on(TOPIC) == []
    assert (await gateway.audit(1))[0]["result"] == "error"
    assert [s.topic for s in gateway.producer.sent if s.topic != AUDIT] == []


async def test_a_fresh_copy_lets_calls_through(gateway: Gateway) -> None:
    gateway.registry.confirmed_at = time.monotonic()
    assert (await gateway.publish()).status_code == 202


async def test_a_batch_is_refused_while_the_copy_is_stale(gateway: Gateway) -> None:
    make_stale(gateway)
    assert_stale_refusal(await gateway.batch([]))


@pytest.mark.parametrize("fast_lane", [True])
async def test_reads_are_refused_while_the_copy_is_stale(gateway: Gateway) -> None:
    make_stale(gateway)
    body = orjson.dumps({"cccd": "001099012345", "full_name": "Nguyễn Văn A"})
    headers = {"content-type": "application/json", "x-api-key": gateway.keys.consumer}
    assert_stale_refusal(
        await gateway.http.post("/v1/population/verify", content=body, headers=headers)
    )
    assert gateway.adapter.requests == []
    answer = await gateway.http.get(
        f"/v1/topics/{TOPIC}/records", headers={"x-api-key": gateway.keys.consumer}
    )
    assert_stale_refusal(answer)


async def test_the_bound_is_a_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LGSP_GATEWAY_REGISTRY_MAX_STALENESS_S", "120")
    async with started(unit_settings()) as gateway:
        make_stale(gateway, 60.0)
        assert (await gateway.publish()).status_code == 202
        make_stale(gateway, 121.0)
        assert_stale_refusal(await gateway.publish())


async def test_a_copy_never_started_by_a_follower_is_not_judged(gateway: Gateway) -> None:
    assert gateway.registry.confirmed_at is None  # fed by hand: nothing to be stale against
    assert (await gateway.publish()).status_code == 202
