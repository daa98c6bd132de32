"""Webhooks over the real broker and real HTTP, one worker in process: dead letters only after the
attempt limit, both signatures during a rotation, pause and resume, replay, revocation.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from webhook_env import (
    SECRETS_KEY,
    Receiver,
    always,
    consumer,
    make_topics,
    new_secret,
    publish,
    put,
    sealed,
    serving,
    subscription,
    until,
)

from lgsp_common.schemas import authoring_validator
from lgsp_common.settings import KafkaSettings
from lgsp_devkit.inprocess import read_topic
from lgsp_devkit.kafka_local import free_port
from lgsp_devkit.testing import TopicFactory
from lgsp_gateway.delivery.main import create_app
from lgsp_gateway.delivery.service.supervisor import Supervisor
from lgsp_gateway.delivery.settings import WebhookSettings

pytestmark = pytest.mark.kafka
ROOT = Path(__file__).resolve().parents[2]
ATTEMPTS = 4


@dataclass
class World:
    """A worker in process and the test's topics."""

    kafka: KafkaSettings
    topics: dict[str, str]
    supervisor: Supervisor
    http: httpx.AsyncClient

    async def put(self, kind: str, entity_id: str, data: dict[str, Any] | None) -> None:
        await put(self.kafka, self.topics["registry"], kind, data, entity_id)


@pytest.fixture
async def world(kafka_settings: KafkaSettings, topic_factory: TopicFactory) -> AsyncIterator[World]:
    """Start one delivery worker in process on per-test topics."""
    topics = await make_topics(topic_factory)
    settings = WebhookSettings(
        kafka=kafka_settings,
        registry_topic=topics["registry"],
        audit_topic=topics["audit"],
        dlq_topic=topics["dlq"],
        secrets_key=SECRETS_KEY,
        allow_loopback=True,
        max_attempts=ATTEMPTS,
        backoff_base_s=0.02,
        backoff_max_s=0.05,
        session_timeout_s=6,
    )
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://worker") as client:
            yield World(kafka_settings, topics, app.state.runtime.supervisor, client)


async def test_dead_letters_come_only_after_the_attempt_limit(
    world: World, topic_factory: TopicFactory
) -> None:
    topic = await topic_factory("finance.dead", 3)
    secret, port = new_secret(), free_port()
    failing = Receiver([secret], always(500))
    await world.put("consumer", "thong-ke", consumer("thong-ke", topic))
    url = f"http://127.0.0.1:{port}/hook"
    sub = subscription("wh-dead", "thong-ke", topic, url, secrets=[sealed(secret)])
    async with serving(failing, port):
        await world.put("webhook_subscription", "wh-dead", sub)
        ids = await publish(world.kafka, topic, 3, partition=lambda n: n)

        async def letters() -> list[dict[str, Any]]:
            return [
                orjson.loads(r.value) for r in await read_topic(world.kafka, world.topics["dlq"])
            ]

        found: list[dict[str, Any]] = []
        while len(found) < 3:
            await until(lambda: len(failing.got) >= 3 * ATTEMPTS, 30, "every attempt")
            found = await letters()
    assert Counter(r.webhook_id for r in failing.got) == dict.fromkeys(ids, ATTEMPTS)
    assert all(r.verified for r in failing.got)
    assert sorted(d["event_id"] for d in found) == sorted(ids)
    contract = ROOT / "contracts/platform/lgsp.webhooks.dlq/v1.schema.json"
    checker = authoring_validator(orjson.loads(contract.read_bytes()))
    for letter in found:
        assert not list(checker.iter_errors(letter)), letter
        assert (letter["subscription_id"], letter["consumer_id"]) == ("wh-dead", "thong-ke")
        assert (letter["attempts"], letter["reason"], letter["last_status"]) == (
            ATTEMPTS,
            "http_500",
            500,
        )
        assert letter["topic"] == topic and letter["offset"] == 0
        assert set(letter["fields"]) == {"/district", "/amount_vnd", "/seq", "/key"}
    text = orjson.dumps(found).decode()
    assert "Nguy" not in text and 'amount_vnd":' not in text and "data" not in found[0]
    metrics = (await world.http.get("/metrics")).text
    assert 'webhook_dead_letters_total{consumer="thong-ke",subscription="wh-dead"} 3.0' in metrics
    assert (
        f'webhook_attempts_total{{consumer="thong-ke",subscription="wh-dead"}} {3.0 * ATTEMPTS}'
        in metrics
    )


async def test_rotation_pause_replay_and_revocation(
    world: World, topic_factory: TopicFactory
) -> None:
    topic = await topic_factory("finance.life", 3)
    old, new, port = new_secret(), new_secret(), free_port()
    receiver = Receiver([old, new], always(204))
    url = f"http://127.0.0.1:{port}/hook"
    soon = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    rotated = subscription("wh-life", "ioc", topic, url, secrets=[sealed(old, soon), sealed(new)])
    await world.put("consumer", "ioc", consumer("ioc", topic))
    async with serving(receiver, port):
        await world.put("webhook_subscription", "wh-life", rotated)
        first = await publish(world.kafka, topic, 6)
        await until(lambda: len(receiver.acked()) == 6, 30, "six deliveries")
        assert all(r.signatures == 2 and r.verified for r in receiver.got)

        await world.put("webhook_subscription", "wh-life", {**rotated, "status": "paused"})
        await until(lambda: "wh-life" not in world.supervisor.running, 5, "the pause")
        second = await publish(world.kafka, topic, 3)
        resumed_at = time.monotonic()
        await world.put("webhook_subscription", "wh-life", rotated)
        await until(lambda: len(receiver.acked()) == 9, 30, "the paused events after resuming")
        assert all(r.at >= resumed_at for r in receiver.got[6:])
        assert {r.webhook_id for r in receiver.got[6:]} == set(second)

        replay = {"id": "r-1", "position": "earliest", "requested_at": soon}
        await world.put("webhook_subscription", "wh-life", {**rotated, "replay": replay})
        await until(lambda: len(receiver.acked()) == 18, 30, "the replay")
        assert Counter(r.webhook_id for r in receiver.got) == dict.fromkeys(first + second, 2)

        changed = time.monotonic()
        await world.put("consumer", "ioc", consumer("ioc", topic, status="rejected"))
        await until(lambda: "wh-life" not in world.supervisor.running, 5, "the revocation")
        assert time.monotonic() - changed < 2.5
