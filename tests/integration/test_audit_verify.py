"""`lgsp audit verify` finds a record altered or deleted on a real audit topic."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer
from typer.testing import CliRunner

from lgsp_cli.audit_cli import read_trail, verify_rows
from lgsp_cli.main import app
from lgsp_common.audit import AuditTrail, Problem
from lgsp_common.settings import KafkaSettings
from lgsp_devkit.testing import TopicFactory

pytestmark = pytest.mark.kafka
KEY = b"audit-test-key"


async def write_chain(kafka: KafkaSettings, topic: str, count: int) -> list[dict[str, Any]]:
    """Append `count` records with a real AuditTrail and return them."""
    producer = AIOKafkaProducer(
        bootstrap_servers=kafka.bootstrap_servers, acks="all", enable_idempotence=True
    )
    await producer.start()
    try:
        trail = AuditTrail(producer, topic, "lgsp-gateway/test-1", "k1", KEY)
        return [
            await trail.record(
                actor={"kind": "source", "id": "dvc"},
                action="event.publish",
                topic="tthc.dossier.v1",
                result="success",
                status_code=202,
                event_ids=[f"e-{i}"],
            )
            for i in range(count)
        ]
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


async def test_intact_chain_verifies_and_the_cli_says_ok(
    kafka_settings: KafkaSettings, topic_factory: TopicFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    topic = await topic_factory("audit")
    await write_chain(kafka_settings, topic, 5)
    assert verify_rows(await read_trail(kafka_settings, topic), {"k1": KEY}) == []
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", kafka_settings.bootstrap_servers)
    command = ["audit", "verify", "--topic", topic, "--key", "k1=" + KEY.decode()]
    result = await asyncio.to_thread(CliRunner().invoke, app, command)
    assert result.exit_code == 0, result.output
    assert "checked 5 record(s) of 1 writer(s)" in result.output


async def test_altered_and_deleted_records_are_pinpointed(
    kafka_settings: KafkaSettings, topic_factory: TopicFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    source, tampered = await topic_factory("audit"), await topic_factory("tampered")
    records = await write_chain(kafka_settings, source, 6)
    altered = dict(records[2], result="denied", status_code=403)  # rewrite history
    forged = [records[0], records[1], altered, records[3], records[5]]  # and drop seq 4
    await copy_records(kafka_settings, tampered, forged)

    found = verify_rows(await read_trail(kafka_settings, tampered), {"k1": KEY})
    problems = {(item.finding.seq, item.finding.problem) for item in found}
    assert problems == {(2, Problem.ALTERED), (4, Problem.MISSING)}
    altered_at = next(item for item in found if item.finding.problem is Problem.ALTERED)
    assert altered_at.offset is not None

    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", kafka_settings.bootstrap_servers)
    result = await asyncio.to_thread(
        CliRunner().invoke, app, ["audit", "verify", "--topic", tampered]
    )
    assert result.exit_code == 1
    assert "altered" in result.output
    assert "seq=4" in result.output
    assert "FAILED: 2 problem(s)" in result.output


async def test_a_forged_signature_is_caught_when_keys_are_given(
    kafka_settings: KafkaSettings, topic_factory: TopicFactory
) -> None:
    source, forged_topic = await topic_factory("audit"), await topic_factory("forged")
    records = await write_chain(kafka_settings, source, 2)
    await copy_records(kafka_settings, forged_topic, [records[0], dict(records[1], signature="x")])
    found = verify_rows(await read_trail(kafka_settings, forged_topic), {"k1": KEY})
    assert [(f.finding.seq, f.finding.problem) for f in found] == [(1, Problem.BAD_SIGNATURE)]
