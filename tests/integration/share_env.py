"""What the pull-read tests share: a topic with a nested contract, a source, consumers, keys."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
from aiokafka import AIOKafkaConsumer

from lgsp_common.api_keys import hash_api_key
from lgsp_common.audit import calls_of
from lgsp_common.settings import KafkaSettings
from lgsp_devkit.testing import TopicFactory, new_api_key, publish_registry_changes

AUDIT_KEY = "share-test-audit-key"
CURSOR_KEY = "share-test-cursor-key"
SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "required": ["case_id", "district"],
    "x-lgsp": {"entityKey": "case_id"},
    "properties": {
        "case_id": {"type": "string"},
        "district": {"type": "string"},
        "amount_vnd": {"type": "integer"},
        "citizen": {
            "type": "object",
            "properties": {"national_id": {"type": "string"}, "name": {"type": "string"}},
        },
        "result": {
            "type": "object",
            "properties": {
                "status": {"type": "string"},
                "files": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {"name": {"type": "string"}, "sha256": {"type": "string"}},
                    },
                },
            },
        },
    },
}
FIELDS = ["/case_id", "/citizen/name", "/result/files/*/name"]
SECRET_ID = "001099012345"  # a national id: never in an answer to the consumers, never audited


def payload(i: int) -> dict[str, Any]:
    """Return event i: some fields approved, some not, nested objects and arrays."""
    return {
        "case_id": f"HS-{i:04d}",
        "district": "748",
        "amount_vnd": 1000 * i,
        "citizen": {"national_id": SECRET_ID, "name": f"Nguyễn Văn {i}"},
        "result": {
            "status": "approved",
            "files": [{"name": f"gp-{i}.pdf", "sha256": "ab" * 8}, {"name": "qd.pdf"}],
        },
    }


def projected(i: int) -> dict[str, Any]:
    """Return what an approved consumer with FIELDS sees of event i."""
    return {
        "case_id": f"HS-{i:04d}",
        "citizen": {"name": f"Nguyễn Văn {i}"},
        "result": {"files": [{"name": f"gp-{i}.pdf"}, {"name": "qd.pdf"}]},
    }


@dataclass
class Share:
    """Per-test topics and the keys of the test's source and consumers."""

    kafka: KafkaSettings
    registry: str
    topic: str
    other_topic: str
    audit: str
    source_key: str
    keys: dict[str, str] = field(default_factory=dict)

    def env(self) -> dict[str, str]:
        """Return the gateway's settings as environment variables (for gateway processes)."""
        return {
            "KAFKA_BOOTSTRAP_SERVERS": self.kafka.bootstrap_servers,
            "LGSP_GATEWAY_REGISTRY_TOPIC": self.registry,
            "LGSP_GATEWAY_AUDIT_TOPIC": self.audit,
            "LGSP_GATEWAY_AUDIT_KEY": AUDIT_KEY,
            "LGSP_GATEWAY_CURSOR_KEY": CURSOR_KEY,
        }


def consumer_changes(
    cid: str, topic: str, status: str, key: str, fields: list[str], revoked: bool = False
) -> list[Any]:
    """Return the registry changes of one consumer and its key."""
    key_id = "k_" + key.split("_")[1]
    data = {
        "id": cid,
        "organisation_id": "org-ctk",
        "topic": topic,
        "purpose": "statistics_reporting",
        "fields": fields,
        "status": status,
    }
    record = {
        "id": key_id,
        "consumer_id": cid,
        "key_hash": hash_api_key(key),
        "revoked_at": "2024-10-01T00:00:00+07:00" if revoked else None,
    }
    return [("consumer", cid, data), ("api_key", key_id, record)]


async def share_setup(kafka: KafkaSettings, topic_factory: TopicFactory) -> Share:
    """Create the topics and put the source, contract, consumers and keys on the registry."""
    registry = await topic_factory("registry", 1, **{"cleanup.policy": "compact"})
    topic, other = await topic_factory("share"), await topic_factory("share-other")
    share = Share(kafka, registry, topic, other, await topic_factory("audit"), new_api_key()[1])
    source_key_id = "k_" + share.source_key.split("_")[1]
    changes: list[Any] = [
        ("source", "src-a", {"id": "src-a", "topic": topic, "status": "active"}),
        (
            "contract",
            f"c-{topic}",
            {"id": f"c-{topic}", "subject": topic, "version": 1, "schema": SCHEMA},
        ),
        (
            "api_key",
            source_key_id,
            {"id": source_key_id, "source_id": "src-a", "key_hash": hash_api_key(share.source_key)},
        ),
    ]
    consumers = {
        "ok": ("c-ok", topic, "approved", FIELDS),
        "peer": ("c-peer", topic, "approved", ["/district"]),
        "pending": ("c-pending", topic, "pending", FIELDS),
        "rejected": ("c-rejected", topic, "rejected", FIELDS),
        "elsewhere": ("c-elsewhere", other, "approved", FIELDS),
        "revoked": ("c-ok", topic, "approved", FIELDS),  # a second key of c-ok, revoked
    }
    for name, (cid, on, status, fields) in consumers.items():
        share.keys[name] = new_api_key()[1]
        changes += consumer_changes(cid, on, status, share.keys[name], fields, name == "revoked")
    await publish_registry_changes(kafka, registry, changes)
    return share


async def publish(http: httpx.AsyncClient, share: Share, start: int, count: int) -> None:
    """Publish events start..start+count-1 through the gateway (each acknowledged)."""
    for i in range(start, start + count):
        answer = await http.post(
            f"/v1/topics/{share.topic}/events",
            json=payload(i),
            headers={
                "authorization": f"Bearer {share.source_key}",
                "ce-specversion": "1.0",
                "ce-id": str(uuid.uuid4()),
                "ce-type": "vn.gov.lgsp.share.case",
            },
        )
        assert answer.status_code == 202, answer.text


async def read_topic(
    kafka: KafkaSettings, topic: str, until: Callable[[list[dict[str, Any]]], bool]
) -> list[dict[str, Any]]:
    """Read a topic's JSON records (offset order per partition) until `until(records)`."""
    reader = AIOKafkaConsumer(
        topic, bootstrap_servers=kafka.bootstrap_servers, auto_offset_reset="earliest"
    )
    await reader.start()
    found: list[dict[str, Any]] = []
    try:
        async with asyncio.timeout(30):
            while not until(found):
                batches = await reader.getmany(timeout_ms=300)
                found += [
                    c for rs in batches.values() for r in rs for c in calls_of(json.loads(r.value))
                ]
    finally:
        await reader.stop()
    return found
