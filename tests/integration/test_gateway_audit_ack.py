"""No acknowledgement without its audit record, on the real broker (issue 13, finding 2).

A 202 leaves the gateway only once its audit record is acknowledged: right after the answers of
a burst, the audit topic already holds a record for every one. When the audit topic cannot take
records (too small a `max.message.bytes`, or a topic that does not exist with auto-creation
off), publishing answers 503 problem+json, never 202, and says the event was written. Shutdown
with records in flight waits for them; what it abandons is counted and logged.

On the former fire-and-forget audit each of these fails: the 202 left before the record was
acknowledged (it was still lingering in the producer), and a refused record changed nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import orjson
import pytest
import uvicorn
from aiokafka import AIOKafkaConsumer, TopicPartition
from gateway_env import VALID, headers, read_all, registry_entities

from lgsp_common.audit import calls_of
from lgsp_common.settings import KafkaSettings
from lgsp_common.topics import TopicSpec, ensure_topics
from lgsp_devkit.kafka_local import free_port
from lgsp_devkit.testing import TopicFactory, new_api_key, publish_registry_changes
from lgsp_gateway.main import create_app
from lgsp_gateway.settings import GatewaySettings

pytestmark = pytest.mark.kafka
PROBLEM = "application/problem+json"


class Running:
    """A gateway served over real HTTP whose shutdown the test triggers."""

    def __init__(self, app: Any, port: int) -> None:
        config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")
        self.server = uvicorn.Server(config)
        self.url = f"http://127.0.0.1:{port}"
        self.task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self.task = asyncio.create_task(self.server.serve())
        while not self.server.started:
            if self.task.done():
                self.task.result()
                raise RuntimeError("server stopped during start-up")
            await asyncio.sleep(0.02)

    async def stop(self) -> None:
        self.server.should_exit = True
        if self.task is not None:
            await self.task


@contextlib.asynccontextmanager
async def gateway(
    kafka: KafkaSettings, topic_factory: TopicFactory, audit_topic: str | None = None, **extra: Any
) -> AsyncIterator[tuple[Running, str, str, str]]:
    """Yield (server, event topic, audit topic, source key); the server is stopped on exit."""
    registry = await topic_factory("registry", 1, **{"cleanup.policy": "compact"})
    topic, other = await topic_factory("tthc"), await topic_factory("other")
    dlq = await topic_factory("dlq")
    audit = audit_topic or await topic_factory("audit")
    if audit_topic is None:
        await ensure_topics(kafka, [TopicSpec(audit + ".checkpoints", 1)])
    keys = {name: new_api_key()[1] for name in ("main", "other", "revoked")}
    await publish_registry_changes(kafka, registry, registry_entities(topic, other, keys))
    settings = GatewaySettings(
        kafka=kafka,
        registry_topic=registry,
        dlq_topic=dlq,
        audit_topic=audit,
        rate_limit_per_source=100_000,
        rate_limit_burst=100_000,
        retry_after_s=3,
        **extra,
    )
    running = Running(create_app(settings), free_port())
    await running.start()
    try:
        yield running, topic, audit, keys["main"]
    finally:
        await running.stop()


async def post(http: httpx.AsyncClient, url: str, topic: str, key: str) -> tuple[str, int, Any]:
    """Publish one event; return its id, the status and the body (None if no answer)."""
    sent = headers(key)
    try:
        answer = await http.post(
            f"{url}/v1/topics/{topic}/events", content=orjson.dumps(VALID), headers=sent
        )
    except httpx.TransportError:
        return sent["ce-id"], 0, None
    return sent["ce-id"], answer.status_code, answer


@contextlib.asynccontextmanager
async def audit_end(kafka: KafkaSettings, topic: str, partitions: int = 3) -> AsyncIterator[Any]:
    """Yield a function returning how many records the audit topic holds right now."""
    consumer = AIOKafkaConsumer(bootstrap_servers=kafka.bootstrap_servers, group_id=None)
    await consumer.start()
    assigned = [TopicPartition(topic, p) for p in range(partitions)]
    try:

        async def end() -> int:
            return sum((await consumer.end_offsets(assigned)).values())

        yield end
    finally:
        await consumer.stop()


def audited_ids(records: list[Any]) -> list[str]:
    """Return every event id named by the audit records, one entry per mention."""
    return [i for r in records for c in calls_of(orjson.loads(r.value)) for i in c["event_ids"]]


async def test_every_202_of_a_burst_is_on_the_audit_topic_when_it_arrives(
    kafka_settings: KafkaSettings, topic_factory: TopicFactory
) -> None:
    async with (
        gateway(kafka_settings, topic_factory) as (server, topic, audit, key),
        audit_end(kafka_settings, audit) as end,
        httpx.AsyncClient(timeout=30, limits=httpx.Limits(max_connections=64)) as http,
    ):
        burst = await asyncio.gather(*(post(http, server.url, topic, key) for _ in range(200)))
        held = await end()  # read right after the last answer arrived
        assert [status for _, status, _ in burst] == [202] * 200
        # Concurrent calls share group records: what the topic held then names every 202.
        on_topic = audited_ids(await read_all(kafka_settings, audit, held))
        assert {event_id for event_id, _, _ in burst} <= set(on_topic), "a 202 before its record"
        assert held < 200, "concurrent calls were not grouped into shared records"
        one_by_one = []
        for count in range(1, 11):  # each answer alone: its own record is already there
            one_by_one.append(await post(http, server.url, topic, key))
            assert one_by_one[-1][1] == 202
            assert await end() >= held + count
    records = await read_all(kafka_settings, audit, held + 10)
    mentioned = audited_ids(records)
    for event_id, _, _ in burst + one_by_one:
        assert mentioned.count(event_id) == 1, event_id


async def test_an_audit_topic_that_refuses_records_turns_every_202_into_503(
    kafka_settings: KafkaSettings, topic_factory: TopicFactory
) -> None:
    audit = await topic_factory("audit", 1, **{"max.message.bytes": "64"})
    async with (
        gateway(kafka_settings, topic_factory, audit_topic=audit) as (server, topic, _, key),
        httpx.AsyncClient(timeout=30) as http,
    ):
        answers = [await post(http, server.url, topic, key) for _ in range(3)]
        answers += await asyncio.gather(*(post(http, server.url, topic, key) for _ in range(10)))
    for event_id, status, answer in answers:
        assert status == 503, answer.text
        assert answer.headers["content-type"].startswith(PROBLEM)
        assert answer.headers["retry-after"] == "3"
        problem = answer.json()
        assert problem["type"].endswith("/audit-unavailable")
        assert f"{event_id} was written" in problem["detail"]  # the truth: it is on the topic
    written = await read_all(kafka_settings, topic, len(answers))
    on_topic = {dict(r.headers).get("ce_id", b"").decode() for r in written}
    assert {event_id for event_id, _, _ in answers} <= on_topic


async def test_a_missing_audit_topic_times_out_then_refuses_at_the_bound(
    kafka_settings: KafkaSettings, topic_factory: TopicFactory, caplog: pytest.LogCaptureFixture
) -> None:
    missing = f"audit.missing-{uuid.uuid4().hex[:8]}"  # the broker does not auto-create topics
    settings = {"audit_timeout_s": 0.5, "audit_max_pending": 2, "shutdown_audit_wait_s": 0.2}
    with caplog.at_level(logging.ERROR, logger="lgsp_gateway.adapters.audit_log"):
        async with (
            gateway(kafka_settings, topic_factory, missing, **settings) as (server, topic, _, key),
            httpx.AsyncClient(timeout=30) as http,
        ):
            answers = [await post(http, server.url, topic, key) for _ in range(3)]
            details = [answer.json()["detail"] for _, _, answer in answers]
            assert [status for _, status, _ in answers] == [503, 503, 503]
            assert "timeout" in details[0] and "timeout" in details[1]
            assert "overloaded" in details[2]  # two records still pending: refused at once
            metrics = (await http.get(server.url + "/metrics")).text
            assert "gateway_audit_pending_records 2.0" in metrics
    # Not cancelled silently: each pending record is logged as it ends, refused by the client's
    # own timeout (Kafka's metadata wait) or abandoned at shutdown, whichever comes first.
    endings = ("abandoned at shutdown", "not acknowledged")
    ended = [r for r in caplog.records if any(m in r.getMessage() for m in endings)]
    assert len(ended) == 2, [r.getMessage() for r in ended]


async def test_shutdown_with_records_in_flight_loses_none(
    kafka_settings: KafkaSettings, topic_factory: TopicFactory, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="lgsp_gateway.adapters.audit_log"):
        async with (
            gateway(kafka_settings, topic_factory) as (server, topic, audit, key),
            httpx.AsyncClient(timeout=30, limits=httpx.Limits(max_connections=100)) as http,
        ):
            calls = [asyncio.create_task(post(http, server.url, topic, key)) for _ in range(300)]
            await asyncio.wait(calls, return_when=asyncio.FIRST_COMPLETED)
            await server.stop()  # stops taking calls, finishes those in flight, then the audit
            answers = await asyncio.gather(*calls)
    accepted = [event_id for event_id, status, _ in answers if status == 202]
    assert accepted, "no call was answered before the shutdown"
    assert not [r for r in caplog.records if "abandoned" in r.getMessage()]
    records = [orjson.loads(r.value) for r in await read_all(kafka_settings, audit, len(accepted))]
    mentioned = [i for r in records for c in calls_of(r) for i in c["event_ids"]]
    assert all(mentioned.count(event_id) == 1 for event_id in accepted)
    seqs = sorted(r["seq"] for r in records)
    assert seqs == list(range(len(seqs)))  # one chain, no gap: nothing abandoned mid-way
