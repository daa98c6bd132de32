"""No false acknowledgement: a 202 means the event is on the topic, exactly once.

The broker is stopped while clients keep sending, then restarted. Every event that got a 202 must
be on the topic exactly once, and no 202 may have been answered while the broker was down.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from aiokafka import AIOKafkaConsumer

from lgsp_common.settings import KafkaSettings
from lgsp_common.topics import TopicSpec, ensure_topics
from lgsp_devkit.kafka_local import LocalKafka
from lgsp_devkit.testing import register_source, serve
from lgsp_gateway.main import create_app
from lgsp_gateway.settings import GatewaySettings

pytestmark = [pytest.mark.kafka, pytest.mark.slow]
ROOT = Path(__file__).resolve().parents[2]
SCHEMA = json.loads((ROOT / "contracts/topics/tthc.dossier.v1/v1.schema.json").read_text())
PAYLOAD = json.loads(
    sorted((ROOT / "contracts/topics/tthc.dossier.v1/examples/valid").glob("*.json"))[0].read_text()
)


DETAILS: set[str] = set()  # the 503 details seen, to explain a failure


@dataclass
class Answer:
    """One request's id, status and when it was answered."""

    event_id: str
    status: int
    answered: float


async def sender(
    http: httpx.AsyncClient, url: str, key: str, stop: asyncio.Event, answers: list[Answer]
) -> None:
    """Publish events one after another until told to stop."""
    while not stop.is_set():
        event_id = str(uuid.uuid4())
        headers = {
            "content-type": "application/json",
            "x-api-key": key,
            "ce-specversion": "1.0",
            "ce-id": event_id,
            "ce-type": "vn.gov.lgsp.tthc.dossier.submitted",
        }
        try:
            response = await http.post(url, json=PAYLOAD, headers=headers)
            status = response.status_code
            if status == 503:
                assert response.headers["retry-after"]
                DETAILS.add(response.json().get("detail", ""))
        except httpx.TransportError:
            status = 0
        answers.append(Answer(event_id, status, time.monotonic()))


async def ids_on(kafka: KafkaSettings, topic: str) -> list[str]:
    """Return the ce_id of every record on the topic."""
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=kafka.bootstrap_servers,
        auto_offset_reset="earliest",
        group_id=None,
    )
    await consumer.start()
    ids: list[str] = []
    try:
        while True:
            batches = await consumer.getmany(timeout_ms=2000)
            if not batches:
                return ids
            ids += [dict(r.headers)["ce_id"].decode() for rs in batches.values() for r in rs]
    finally:
        await consumer.stop()


async def test_no_202_while_the_broker_is_down_and_every_202_is_stored_once(
    tmp_path: Path,
) -> None:
    cluster = LocalKafka(tmp_path / "kafka")
    kafka = KafkaSettings(bootstrap_servers=cluster.start(), request_timeout_ms=3000)
    try:
        topic, registry = "tthc.durability.v1", "durability.registry"
        await ensure_topics(kafka, [TopicSpec(topic, 3), TopicSpec(registry, 1)])
        key = await register_source(kafka, registry, "dvc", topic, SCHEMA)
        settings = GatewaySettings(
            kafka=kafka, registry_topic=registry, produce_timeout_s=2, retry_after_s=1
        )
        answers: list[Answer] = []
        stop = asyncio.Event()
        async with serve(create_app(settings)) as base, httpx.AsyncClient(timeout=30) as http:
            url = f"{base}/v1/topics/{topic}/events"
            senders = [asyncio.create_task(sender(http, url, key, stop, answers)) for _ in range(4)]
            await asyncio.sleep(2)
            await asyncio.to_thread(cluster.stop)
            down_since = time.monotonic()
            await asyncio.sleep(5)
            up_from = time.monotonic()
            await asyncio.to_thread(cluster.relaunch)
            await asyncio.sleep(6)
            stop.set()
            await asyncio.gather(*senders)
        stored = await ids_on(kafka, topic)
    finally:
        cluster.stop()
    accepted = [a for a in answers if a.status == 202]
    during = [a for a in accepted if down_since < a.answered < up_from]
    assert not during, f"{len(during)} events were acknowledged while the broker was down"
    assert any(a.status == 503 for a in answers if down_since < a.answered < up_from)
    assert any(a.answered < down_since for a in accepted)
    assert any(a.answered > up_from for a in accepted), (
        f"no 202 after the restart; 503 details: {DETAILS}"
    )
    counts = {event_id: stored.count(event_id) for event_id in {a.event_id for a in accepted}}
    assert all(n == 1 for n in counts.values()), {k: n for k, n in counts.items() if n != 1}
    assert len(set(stored)) == len(stored), "an event is on the topic twice"
