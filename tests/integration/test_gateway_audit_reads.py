"""Pull reads and commits are answered only with their audit record acknowledged (issue 13, #2).

The audit topic refuses every record (`max.message.bytes` too small): a read that has records
to disclose answers 503 problem+json `audit-unavailable` with Retry-After and discloses nothing;
once the gateway is given a working audit topic the same read answers 200, and its record is
on the topic when the answer arrives.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from share_env import AUDIT_KEY, CURSOR_KEY, Share, payload, share_setup

from lgsp_common.envelope import CloudEvent, to_kafka
from lgsp_common.settings import KafkaSettings
from lgsp_devkit.testing import TopicFactory, serve
from lgsp_gateway.main import create_app
from lgsp_gateway.settings import GatewaySettings

pytestmark = pytest.mark.kafka


async def put_events(share: Share, count: int) -> None:
    """Write events straight onto the share's topic (publishing would need the audit too)."""
    producer = AIOKafkaProducer(bootstrap_servers=share.kafka.bootstrap_servers, acks="all")
    await producer.start()
    try:
        for i in range(count):
            event = CloudEvent(
                source="/sources/src-a", type="vn.gov.lgsp.share.case", data=payload(i)
            )
            record = to_kafka(event, str(i))
            await producer.send_and_wait(
                share.topic, record.value, key=record.key, headers=record.headers
            )
    finally:
        await producer.stop()


@contextlib.asynccontextmanager
async def gateway(share: Share, audit: str) -> AsyncIterator[httpx.AsyncClient]:
    settings = GatewaySettings(
        kafka=share.kafka,
        registry_topic=share.registry,
        audit_topic=audit,
        audit_key=AUDIT_KEY,
        cursor_key=CURSOR_KEY,
        retry_after_s=4,
    )
    async with serve(create_app(settings)) as url, httpx.AsyncClient(base_url=url) as http:
        yield http


async def read(http: httpx.AsyncClient, share: Share) -> httpx.Response:
    return await http.get(
        f"/v1/topics/{share.topic}/records",
        params={"position": "earliest", "wait_ms": 2000},
        headers={"x-api-key": share.keys["ok"]},
        timeout=30,
    )


async def test_a_read_whose_record_is_refused_discloses_nothing(
    kafka_settings: KafkaSettings, topic_factory: TopicFactory
) -> None:
    share = await share_setup(kafka_settings, topic_factory)
    await put_events(share, 3)
    refusing = await topic_factory("audit", 1, **{"max.message.bytes": "64"})
    async with gateway(share, refusing) as http:
        answer = await read(http, share)
    assert answer.status_code == 503
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert answer.headers["retry-after"] == "4"
    assert answer.json()["type"].endswith("/audit-unavailable")
    assert "district" not in answer.text  # no record disclosed
    async with gateway(share, share.audit) as http:
        answer = await read(http, share)
        assert answer.status_code == 200
        assert len(answer.json()["records"]) == 3
        reader = AIOKafkaConsumer(bootstrap_servers=kafka_settings.bootstrap_servers)
        await reader.start()
        try:
            ends = await reader.end_offsets([TopicPartition(share.audit, p) for p in range(3)])
        finally:
            await reader.stop()
    assert sum(ends.values()) >= 1  # the read's record was there when the answer came
