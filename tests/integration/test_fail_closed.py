"""Fail closed on a real broker: after its registry follower failed, the gateway is not ready,
restarts the follower by itself, and a revocation published meanwhile applies within seconds.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
import pytest
from gateway_env import VALID, headers, registry_entities

from lgsp_common.api_keys import hash_api_key
from lgsp_common.settings import KafkaSettings
from lgsp_devkit.testing import TopicFactory, new_api_key, publish_registry_changes, serve
from lgsp_gateway.main import create_app
from lgsp_gateway.settings import GatewaySettings

pytestmark = [pytest.mark.kafka, pytest.mark.timeout(90)]


async def until(check: Any, timeout_s: float = 20.0) -> float:
    """Poll an async condition; return the seconds it took."""
    started = time.monotonic()
    while not await check():
        assert time.monotonic() - started < timeout_s, "condition not met in time"
        await asyncio.sleep(0.05)
    return time.monotonic() - started


async def test_a_revocation_applies_within_seconds_after_the_follower_failed(
    kafka_settings: KafkaSettings, topic_factory: TopicFactory
) -> None:
    registry = await topic_factory("registry", 1, **{"cleanup.policy": "compact"})
    topic, other = await topic_factory("tthc"), await topic_factory("other")
    dlq, audit = await topic_factory("dlq"), await topic_factory("audit")
    keys = {name: new_api_key()[1] for name in ("main", "other", "revoked")}
    await publish_registry_changes(kafka_settings, registry, registry_entities(topic, other, keys))
    settings = GatewaySettings(
        kafka=kafka_settings, registry_topic=registry, dlq_topic=dlq, audit_topic=audit
    )
    app = create_app(settings)
    async with serve(app) as url, httpx.AsyncClient(base_url=url, timeout=15) as http:

        async def publish() -> int:
            answer = await http.post(
                f"/v1/topics/{topic}/events", json=VALID, headers=headers(keys["main"])
            )
            return answer.status_code

        async def ready() -> bool:
            return (await http.get("/readyz")).status_code == 200

        assert await publish() == 202
        await until(ready)
        copy_ = app.state.runtime.registry
        real_apply, broken = copy_.apply, [True]

        def failing_apply(key: bytes | None, value: bytes | None) -> bool:
            if broken:
                raise RuntimeError("injected: a bug in the record handler")
            return bool(real_apply(key, value))

        copy_.apply = failing_apply
        key_id = "k_" + keys["main"].split("_")[1]
        revoked = {"id": key_id, "source_id": "dvc-portal", "key_hash": hash_api_key(keys["main"]),
                   "revoked_at": "2026-01-01T00:00:00+07:00", "expires_at": None}  # fmt: skip
        await publish_registry_changes(kafka_settings, registry, [("api_key", key_id, revoked)])

        async def not_ready() -> bool:
            answer = await http.get("/readyz")
            return (
                answer.status_code == 503 and answer.json()["checks"]["registry"] != "ok: caught up"
            )

        await until(not_ready)
        assert copy_.restarts >= 1 and not copy_.following
        broken.clear()  # the fault is gone; the follower must recover by itself

        async def refused() -> bool:
            return await publish() == 401

        took = await until(refused)
        assert took < 15, f"the revocation took {took:.1f}s to apply"
        await until(ready)
        assert copy_.following and copy_.age_s is not None and copy_.age_s < 5
