"""What the gateway's integration tests share: a gateway on per-test topics, headers, reads."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer

from lgsp_common.api_keys import hash_api_key
from lgsp_common.settings import KafkaSettings
from lgsp_devkit.testing import TopicFactory, new_api_key, publish_registry_changes, serve
from lgsp_gateway.main import create_app
from lgsp_gateway.settings import GatewaySettings

ROOT = Path(__file__).resolve().parents[2]
DOSSIER_SCHEMA = json.loads(
    (ROOT / "contracts/topics/tthc.dossier.v1/v1.schema.json").read_text(encoding="utf-8")
)
VALID = json.loads(
    next((ROOT / "contracts/topics/tthc.dossier.v1/examples/valid").glob("*.json")).read_text()
)
TYPE = "vn.gov.lgsp.tthc.dossier." + VALID["status"]  # the contract's eventType for VALID


@dataclass
class Env:
    """A gateway wired to per-test topics, with two sources and their keys."""

    url: str
    kafka: KafkaSettings
    topic: str
    other_topic: str
    registry: str
    dlq: str
    audit: str
    key: str
    other_key: str
    revoked_key: str


def registry_entities(topic: str, other: str, keys: dict[str, str]) -> list[Any]:
    """Return the registry changes that set up the test's sources, contract and keys."""
    now = "2024-10-01T00:00:00+07:00"

    def api_key(full: str, source: str, revoked: str | None = None) -> Any:
        key_id = "k_" + full.split("_")[1]
        return (
            "api_key",
            key_id,
            {
                "id": key_id,
                "source_id": source,
                "key_hash": hash_api_key(full),
                "created_at": now,
                "revoked_at": revoked,
                "expires_at": None,
            },
        )

    return [
        (
            "organisation",
            "vp-ubnd",
            {
                "id": "vp-ubnd",
                "code": "000.00.01.H03",
                "name_vi": "Văn phòng UBND tỉnh",
                "name_en": "Office",
            },
        ),
        (
            "source",
            "dvc-portal",
            {
                "id": "dvc-portal",
                "organisation_id": "vp-ubnd",
                "topic": topic,
                "cadence": "realtime",
                "status": "active",
            },
        ),
        (
            "source",
            "other-src",
            {
                "id": "other-src",
                "organisation_id": "vp-ubnd",
                "topic": other,
                "cadence": "daily",
                "status": "active",
            },
        ),
        (
            "contract",
            f"c-{topic}",
            {
                "id": f"c-{topic}",
                "subject": topic,
                "version": 1,
                "schema": DOSSIER_SCHEMA,
                "compatibility": "BACKWARD",
            },
        ),
        api_key(keys["main"], "dvc-portal"),
        api_key(keys["other"], "other-src"),
        api_key(keys["revoked"], "dvc-portal", revoked=now),
    ]


async def gateway_env(
    kafka_settings: KafkaSettings, topic_factory: TopicFactory, request: pytest.FixtureRequest
) -> AsyncIterator[Env]:
    """Start a gateway over real HTTP against per-test topics (`rate` marker: rate, burst)."""
    marker = request.node.get_closest_marker("rate")
    rate, burst = marker.args if marker else (1000.0, 1000.0)
    registry = await topic_factory("registry", 1, **{"cleanup.policy": "compact"})
    topic, other = await topic_factory("tthc"), await topic_factory("other")
    dlq, audit = await topic_factory("dlq"), await topic_factory("audit")
    keys = {name: new_api_key()[1] for name in ("main", "other", "revoked")}
    await publish_registry_changes(kafka_settings, registry, registry_entities(topic, other, keys))
    settings = GatewaySettings(
        kafka=kafka_settings,
        registry_topic=registry,
        dlq_topic=dlq,
        audit_topic=audit,
        max_body_bytes=64 * 1024,
        max_batch_events=5,
        rate_limit_per_source=rate,
        rate_limit_burst=burst,
        fast_lane=request.param,
    )
    async with serve(create_app(settings)) as url:
        yield Env(
            url,
            kafka_settings,
            topic,
            other,
            registry,
            dlq,
            audit,
            keys["main"],
            keys["other"],
            keys["revoked"],
        )


def headers(key: str | None, **extra: str) -> dict[str, str]:
    """Return binary-mode CloudEvents headers with an API key."""
    result = {
        "content-type": "application/json",
        "ce-specversion": "1.0",
        "ce-id": str(uuid.uuid4()),
        "ce-type": TYPE,
    }
    if key:
        result["authorization"] = f"Bearer {key}"
    return result | extra


async def read_all(kafka: KafkaSettings, topic: str, expected: int) -> list[Any]:
    """Read at least `expected` records of a topic (all partitions) with a plain consumer."""
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=kafka.bootstrap_servers,
        auto_offset_reset="earliest",
        group_id=None,
    )
    await consumer.start()
    records: list[Any] = []
    try:
        for _ in range(40):
            batches = await consumer.getmany(timeout_ms=250)
            records += [r for rs in batches.values() for r in rs]
            if len(records) >= expected:
                await asyncio.sleep(0.3)  # let any unexpected extra record show up
                batches = await consumer.getmany(timeout_ms=250)
                records += [r for rs in batches.values() for r in rs]
                break
    finally:
        await consumer.stop()
    return records
