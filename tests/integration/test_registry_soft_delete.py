"""Recoverable registry changes against a real broker (issue 13, finding 10).

A source that just published is not deleted without `force`; its delete publishes its keys
suspended (a registry copy, as the gateway keeps, refuses them) and its restore publishes them
usable again; every change lands on the audit topic, signed and chained, with who made it.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from lgsp_common.api_keys import key_is_usable
from lgsp_common.audit_format import record_hash
from lgsp_common.settings import KafkaSettings
from lgsp_common.topics import TopicSpec
from lgsp_devkit.registry_testing import OPERATOR_TOKEN, registry_topic
from lgsp_devkit.testing import TopicFactory, serve
from lgsp_devkit.topic_guard import TopicJanitor
from lgsp_registry.main import create_app
from lgsp_registry.settings import RegistrySettings

pytestmark = pytest.mark.kafka
OPERATOR = {"Authorization": f"Bearer {OPERATOR_TOKEN}"}
Records = list[tuple[str, Any]]


async def read_until(
    kafka: KafkaSettings, topic: str, done: Callable[[Records], bool], timeout_s: float = 30.0
) -> Records:
    """Read a topic from the start until `done(records)` holds (or fail at the deadline)."""
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=kafka.bootstrap_servers,
        group_id=None,
        auto_offset_reset="earliest",
    )
    await consumer.start()
    found: Records = []
    try:
        async with asyncio.timeout(timeout_s):
            while not done(found):
                for records in (await consumer.getmany(timeout_ms=300)).values():
                    for r in records:
                        value = orjson.loads(r.value) if r.value is not None else None
                        found.append((r.key.decode(), value))
    finally:
        await consumer.stop()
    return found


def latest(records: Records, key: str) -> dict[str, Any]:
    """Return the newest state of an entity on the registry topic."""
    data: dict[str, Any] = [v for k, v in records if k == key and v is not None][-1]["data"]
    return data


async def test_delete_force_suspend_restore_and_audit_on_kafka(
    kafka_settings: KafkaSettings,
    topic_factory: TopicFactory,
    topic_janitor: TopicJanitor,
    tmp_path: Path,
) -> None:
    if not topic_janitor.owns_cluster:
        pytest.skip("a data topic named like a contract topic needs a cluster the tests own")
    suffix = uuid.uuid4().hex[:8]
    data_topic = f"soft-{suffix}.stay.v1"
    audit_topic = await topic_factory("lgsp.audit", 1)
    await topic_janitor.create(
        [TopicSpec(data_topic, 1), TopicSpec(audit_topic + ".checkpoints", 1)]
    )
    settings = RegistrySettings(
        registry_topic=await registry_topic(topic_factory),
        audit_topic=audit_topic,
        audit_checkpoints_topic="",
        data_dir=tmp_path,
        operator_token=OPERATOR_TOKEN,
        publish_interval_s=0.1,
        kafka=kafka_settings,
    )
    org = {"id": f"so-{suffix}", "code": "000.00.77.H03", "name_vi": "Sở", "name_en": "Dept"}
    source_id = f"nguon-{suffix}"
    source = {
        "id": source_id,
        "organisation_id": org["id"],
        "topic": data_topic,
        "name": "Nguồn",
        "cadence": "daily",
    }
    producer = AIOKafkaProducer(bootstrap_servers=kafka_settings.bootstrap_servers)
    await producer.start()
    try:
        await producer.send_and_wait(
            data_topic, b"{}", headers=[("ce_source", f"/sources/{source_id}".encode())]
        )
    finally:
        await producer.stop()
    async with serve(create_app(settings)) as url, httpx.AsyncClient(base_url=url) as http:
        assert (await http.post("/v1/organisations", json=org, headers=OPERATOR)).status_code == 201
        assert (await http.post("/v1/sources", json=source, headers=OPERATOR)).status_code == 201
        key = (await http.post(f"/v1/sources/{source_id}/keys", headers=OPERATOR)).json()
        refused = await http.delete(f"/v1/sources/{source_id}", headers=OPERATOR)
        assert refused.status_code == 409, refused.text
        assert refused.json()["type"].endswith("/recent-traffic")
        assert "last published at" in refused.json()["detail"]
        forced = await http.delete(f"/v1/sources/{source_id}?force=true", headers=OPERATOR)
        assert forced.status_code == 204

        key_entity = f"api_key:{key['id']}"

        def suspended(records: Records) -> bool:
            return any(k == key_entity and v and v["data"]["revoked_at"] for k, v in records)

        changes = await read_until(kafka_settings, settings.registry_topic, suspended)
        assert not key_is_usable(latest(changes, key_entity), key["key"])  # the gateway refuses
        assert latest(changes, f"source:{source_id}")["status"] == "deleted"

        restored = await http.post(f"/v1/sources/{source_id}/restore", headers=OPERATOR)
        assert restored.status_code == 200, restored.text

        def usable(records: Records) -> bool:
            return suspended(records) and not latest(records, key_entity)["revoked_at"]

        changes = await read_until(kafka_settings, settings.registry_topic, usable)
        assert key_is_usable(latest(changes, key_entity), key["key"])

    def audited(records: Records) -> bool:
        return any(v["action"] == "registry.source.restore" for _, v in records)

    audit = [v for _, v in await read_until(kafka_settings, audit_topic, audited)]
    actions = [(r["action"], r["actor"]["kind"]) for r in audit]
    assert ("registry.source.delete", "operator") in actions
    assert ("registry.source.restore", "operator") in actions
    assert [r["seq"] for r in audit] == list(range(len(audit)))
    assert all(r["hash"] == record_hash(r) for r in audit)
