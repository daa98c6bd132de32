"""One event end to end: HTTP into the gateway, onto Kafka with CloudEvents headers, counted."""

from __future__ import annotations

import asyncio
import json
import re
import uuid
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaConsumer

from ioc_collector.main import create_app as create_collector
from ioc_collector.settings import CollectorSettings
from lgsp_common.api_keys import hash_api_key
from lgsp_common.settings import KafkaSettings
from lgsp_devkit.testing import TopicFactory, new_api_key, publish_registry_changes, serve
from lgsp_devkit.viewers import VIEWER_HEADERS, viewer_change
from lgsp_gateway.main import create_app as create_gateway
from lgsp_gateway.settings import GatewaySettings

pytestmark = pytest.mark.kafka
TRACEPARENT = re.compile(r"^00-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$")
SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "$id": "urn:lgsp:test:dossier:v1",
    "type": "object",
    "x-lgsp": {"entityKey": "dossier_id"},
    "required": ["dossier_id", "channel", "submitted_at"],
    "additionalProperties": False,
    "properties": {
        "dossier_id": {"type": "string", "minLength": 1},
        "channel": {"enum": ["online", "paper"]},
        "submitted_at": {"type": "string", "format": "date-time"},
    },
}
PAYLOAD = {
    "dossier_id": "000.00.17.H03-241005-0001",
    "channel": "online",
    "submitted_at": "2024-10-05T08:30:00+07:00",
}


async def register(kafka: KafkaSettings, registry: str, topic: str) -> str:
    """Register source `tthc-portal` on `topic` with SCHEMA as its contract; return its key."""
    key_id, key = new_api_key()
    source = {"id": "tthc-portal", "topic": topic, "status": "active"}
    contract = {"id": f"c-{topic}", "subject": topic, "version": 1, "schema": SCHEMA}
    api_key = {"id": key_id, "source_id": "tthc-portal", "key_hash": hash_api_key(key)}
    await publish_registry_changes(
        kafka,
        registry,
        [
            ("source", "tthc-portal", source),
            ("contract", contract["id"], contract),
            ("api_key", key_id, api_key),
            viewer_change(),  # the collector's figures are read as a viewer
        ],
    )
    return key


def binary_headers(source: str, key: str) -> dict[str, str]:
    """Return CloudEvents HTTP binary-mode headers with the source's API key."""
    return {
        "content-type": "application/json",
        "ce-specversion": "1.0",
        "ce-id": str(uuid.uuid4()),
        "ce-source": source,
        "ce-type": "vn.gov.lgsp.tthc.dossier.submitted",
        "x-api-key": key,
    }


async def read_one(kafka: KafkaSettings, topic: str) -> Any:
    """Read the first record of a topic with a plain consumer."""
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=kafka.bootstrap_servers,
        auto_offset_reset="earliest",
        group_id=None,
    )
    await consumer.start()
    try:
        batches = await consumer.getmany(timeout_ms=10_000)
        records = [r for rs in batches.values() for r in rs]
        assert len(records) == 1
        return records[0]
    finally:
        await consumer.stop()


async def wait_for_count(client: httpx.AsyncClient, url: str, topic: str, expected: int) -> None:
    """Poll the collector until it counted `expected` events on `topic`."""
    seen: list[Any] = []
    for _ in range(100):
        body = (await client.get(url + "/v1/streams/counts", headers=VIEWER_HEADERS)).json()
        seen = [s for s in body["sources"] if s["topic"] == topic]
        if sum(s["events"] for s in seen) >= expected:
            assert seen == [{"topic": topic, "source": "/sources/tthc-portal", "events": expected}]
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"collector counted {seen}, expected {expected}")


async def test_event_flows_from_gateway_through_kafka_to_collector(
    kafka_settings: KafkaSettings, topic_factory: TopicFactory
) -> None:
    topic = await topic_factory("tthc")
    registry = await topic_factory("registry", 1, **{"cleanup.policy": "compact"})
    key = await register(kafka_settings, registry, topic)
    gateway = create_gateway(GatewaySettings(kafka=kafka_settings, registry_topic=registry))
    collector = create_collector(
        CollectorSettings(
            kafka=kafka_settings, topics=[topic], group_id=f"ioc-{topic}", registry_topic=registry
        )
    )
    async with serve(gateway) as gw_url, serve(collector) as ioc_url, httpx.AsyncClient() as http:
        headers = binary_headers("/sources/tthc-portal", key)
        answer = await http.post(
            f"{gw_url}/v1/topics/{topic}/events", json=PAYLOAD, headers=headers
        )
        assert answer.status_code == 202, answer.text
        accepted = answer.json()
        assert accepted["id"] == headers["ce-id"]
        assert accepted["topic"] == topic

        record = await read_one(kafka_settings, topic)
        assert (record.partition, record.offset) == (accepted["partition"], accepted["offset"])
        assert record.key == PAYLOAD["dossier_id"].encode()
        assert json.loads(record.value) == PAYLOAD
        got = {k: v.decode() for k, v in record.headers}
        assert got["ce_specversion"] == "1.0"
        assert got["ce_id"] == headers["ce-id"]
        assert got["ce_source"] == "/sources/tthc-portal"
        assert got["ce_type"] == "vn.gov.lgsp.tthc.dossier.submitted"
        assert got["ce_dataschema"] == "urn:lgsp:test:dossier:v1"
        assert got["ce_subject"] == PAYLOAD["dossier_id"]
        assert got["ce_time"]
        assert got["content-type"] == "application/json"
        assert TRACEPARENT.match(got["traceparent"])

        await wait_for_count(http, ioc_url, topic, 1)
