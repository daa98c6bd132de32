"""Signed audit checkpoints on a real broker, anchored by the registry, used by `lgsp audit verify`.

A trail writes records and checkpoints; the registry (in process, over HTTP) follows the
checkpoints topic into its database and publishes the trail's public key; `lgsp audit verify`
with keys and checkpoints from the registry passes the trail, then finds a copy of it with the
last records cut off truncated.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaProducer
from typer.testing import CliRunner

from lgsp_cli.main import app
from lgsp_common.audit import AuditTrail
from lgsp_common.settings import KafkaSettings
from lgsp_devkit.registry_testing import OPERATOR_TOKEN, registry_topic
from lgsp_devkit.testing import TopicFactory, serve
from lgsp_registry.main import create_app
from lgsp_registry.settings import RegistrySettings

pytestmark = pytest.mark.kafka
KEY = b"integration-audit-key-0123456789"
OPERATOR = {"Authorization": f"Bearer {OPERATOR_TOKEN}"}


async def write_trail(
    kafka: KafkaSettings, topic: str, checkpoints: str, count: int
) -> tuple[AuditTrail, list[dict[str, Any]]]:
    """Write `count` records with a started trail (a checkpoint every 10, one at close)."""
    producer = AIOKafkaProducer(
        bootstrap_servers=kafka.bootstrap_servers, acks="all", enable_idempotence=True
    )
    await producer.start()
    try:
        trail = AuditTrail(
            producer, topic, "lgsp-gateway/it", "it-key", KEY, checkpoint_topic=checkpoints,
            checkpoint_every=10, checkpoint_interval_s=60,
            checkpoint_timeout_s=30,  # a loaded CI box: each checkpoint must land, not be skipped
        )  # fmt: skip
        async with trail:
            records = [
                await trail.record(
                    actor={"kind": "source", "id": "dvc"},
                    action="event.publish",
                    result="success",
                    status_code=202,
                    event_ids=[f"e-{i}"],
                )
                for i in range(count)
            ]
        return trail, records
    finally:
        await producer.stop()


async def copy_records(kafka: KafkaSettings, topic: str, records: list[dict[str, Any]]) -> None:
    """Write records as they are (as someone with write access to the topic could)."""
    producer = AIOKafkaProducer(bootstrap_servers=kafka.bootstrap_servers, acks="all")
    await producer.start()
    try:
        for record in records:
            await producer.send_and_wait(
                topic, json.dumps(record).encode(), key=record["writer"].encode()
            )
    finally:
        await producer.stop()


async def anchored(http: httpx.AsyncClient, chain: str, seq: int) -> list[dict[str, Any]]:
    """Wait until the registry stored the chain's checkpoint at `seq`; return its checkpoints."""
    async with asyncio.timeout(60):
        while True:
            answer = await http.get("/v1/audit/checkpoints", params={"chain": chain})
            found: list[dict[str, Any]] = answer.json()["checkpoints"]
            if any(c["seq"] == seq for c in found):
                return found
            await asyncio.sleep(0.2)  # polling the registry's answer, bounded by the deadline


def verify(url: str, topic: str) -> Any:
    """Run `lgsp audit verify` with keys and checkpoints from the registry."""
    command = ["audit", "verify", "--topic", topic, "--keys-from", url, "--checkpoints-from", url]
    return CliRunner().invoke(app, command)


async def test_checkpoints_anchored_by_the_registry_prove_a_truncation(
    kafka_settings: KafkaSettings,
    topic_factory: TopicFactory,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    audit, tampered = await topic_factory("audit"), await topic_factory("tampered")
    checkpoints = await topic_factory("audit-checkpoints", **{"cleanup.policy": "compact"})
    settings = RegistrySettings(
        kafka=kafka_settings,
        registry_topic=await registry_topic(topic_factory),
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'registry.sqlite3'}",
        data_dir=tmp_path,
        operator_token=OPERATOR_TOKEN,
        audit_checkpoints_topic=checkpoints,
        audit_topic="",  # the registry's own trail, if it has one, stays out of this test
    )
    async with serve(create_app(settings)) as url, httpx.AsyncClient(base_url=url) as http:
        trail, records = await write_trail(kafka_settings, audit, checkpoints, 25)
        body = {"public_key": trail.public_key, "service": trail.service}
        put = await http.put("/v1/audit/keys/it-key", json=body, headers=OPERATOR)
        assert put.status_code == 201, put.text
        assert (await http.put("/v1/audit/keys/it-key", json=body)).status_code == 401
        stored = await anchored(http, trail.writer, 24)
        seqs = [c["seq"] for c in stored]  # by count (as the acks land), then the final one
        assert seqs == sorted(seqs) and len(seqs) >= 3 and seqs[-1] == 24
        keys = (await http.get("/v1/audit/keys")).json()["keys"]
        assert [k["key_id"] for k in keys if k["key_id"] == "it-key"] == ["it-key"]

        monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", kafka_settings.bootstrap_servers)
        clean = await asyncio.to_thread(verify, url, audit)
        assert clean.exit_code == 0, clean.output
        assert "checked 25 record(s) of 1 writer(s)" in clean.output

        await copy_records(kafka_settings, tampered, records[:15])  # the last 10 cut off
        cut = await asyncio.to_thread(verify, url, tampered)
        assert cut.exit_code == 1, cut.output
        assert "truncated" in cut.output
        assert "seq=15..24" in cut.output
