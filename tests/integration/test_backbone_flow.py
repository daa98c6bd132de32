"""One event end to end: HTTP into the gateway, onto Kafka with CloudEvents headers, counted."""

from __future__ import annotations

import asyncio
import json
import re
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaConsumer

from ioc_collector.main import create_app as create_collector
from ioc_collector.settings import CollectorSettings
from lgsp_cli.testing import TopicFactory, serve
from lgsp_common.settings import KafkaSettings
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


def write_contract(root: Path, topic: str) -> Path:
    """Write SCHEMA as the only contract of `topic` in a contracts folder of the test's own."""
    folder = root / "topics" / topic
    folder.mkdir(parents=True)
    (folder / "v1.schema.json").write_text(json.dumps(SCHEMA))
    return root


def binary_headers(source: str) -> dict[str, str]:
    """Return CloudEvents HTTP binary-mode headers."""
    return {
        "content-type": "application/json",
        "ce-specversion": "1.0",
        "ce-id": str(uuid.uuid4()),
        "ce-source": source,
        "ce-type": "vn.gov.lgsp.tthc.dossier.submitted",
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
        body = (await client.get(url + "/v1/streams/counts")).json()
        seen = [s for s in body["sources"] if s["topic"] == topic]
        if sum(s["events"] for s in seen) >= expected:
            assert seen == [{"topic": topic, "source": "/sources/tthc-portal", "events": expected}]
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"collector counted {seen}, expected {expected}")


async def test_event_flows_from_gateway_through_kafka_to_collector(
    kafka_settings: KafkaSettings, topic_factory: TopicFactory, tmp_path: Path
) -> None:
    topic = await topic_factory("tthc")
    contracts = write_contract(tmp_path, topic)
    gateway = create_gateway(GatewaySettings(kafka=kafka_settings, contracts_dir=contracts))
    collector = create_collector(
        CollectorSettings(
            kafka=kafka_settings, contracts_dir=contracts, topics=[topic], group_id=f"ioc-{topic}"
        )
    )
    async with serve(gateway) as gw_url, serve(collector) as ioc_url, httpx.AsyncClient() as http:
        headers = binary_headers("/sources/tthc-portal")
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


async def test_gateway_rejects_bad_input_with_problem_details(
    kafka_settings: KafkaSettings, topic_factory: TopicFactory, tmp_path: Path
) -> None:
    topic = await topic_factory("tthc")
    gateway = create_gateway(
        GatewaySettings(
            kafka=kafka_settings, contracts_dir=write_contract(tmp_path, topic), max_body_bytes=2048
        )
    )
    url = f"/v1/topics/{topic}/events"
    async with serve(gateway) as gw_url, httpx.AsyncClient(base_url=gw_url) as http:
        headers = binary_headers("/sources/tthc-portal")
        cases = [
            (await http.post(url, content=b"{not json", headers=headers), 400, None),
            (
                await http.post(
                    url, content=b"x", headers={**headers, "content-type": "text/plain"}
                ),
                415,
                None,
            ),
            (
                await http.post(url, json={**PAYLOAD, "channel": "fax"}, headers=headers),
                422,
                "/channel",
            ),
            (
                await http.post(
                    url, json={"dossier_id": "x", "channel": "online"}, headers=headers
                ),
                422,
                "/submitted_at",
            ),
            (
                await http.post(url, json=PAYLOAD, headers={"content-type": "application/json"}),
                422,
                "/source",
            ),
            (await http.post(url, content=b" " * 4096, headers=headers), 413, None),
            (
                await http.post("/v1/topics/no.such.v1/events", json=PAYLOAD, headers=headers),
                404,
                None,
            ),
        ]
        for response, status, pointer in cases:
            assert response.status_code == status, response.text
            assert response.headers["content-type"] == "application/problem+json"
            body = response.json()
            assert body["status"] == status
            assert body["title"]
            if pointer:
                assert pointer in [e["pointer"] for e in body["errors"]], body
        metrics = (await http.get("/metrics")).text
        assert f'gateway_events_rejected_total{{reason="contract",topic="{topic}"}} 2.0' in metrics
