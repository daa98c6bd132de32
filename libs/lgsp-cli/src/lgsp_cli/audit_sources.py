"""Where `lgsp audit verify` reads from: the audit topic, the checkpoints, the public keys.

Keys come from the registry (`GET /v1/audit/keys`) or a JSON file mapping key_id to a
base64url Ed25519 public key (or to an object with `public_key`, `valid_from`, `retired_at`,
as the registry serves them). Checkpoints come from the registry
(`GET /v1/audit/checkpoints`, every one ever anchored) or from the compacted checkpoints topic
(the newest per chain).
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import typer
from aiokafka import AIOKafkaConsumer, TopicPartition

from lgsp_common.audit_format import PublishedKey, load_public_key
from lgsp_common.settings import KafkaSettings

Row = tuple[int, int, dict[str, Any]]


async def read_topic(kafka: KafkaSettings, topic: str, *, required: bool = True) -> list[Row]:
    """Read every record of a topic as (partition, offset, record), in offset order.

    A missing topic is an error when `required`, else it reads as empty.
    """
    consumer = AIOKafkaConsumer(
        bootstrap_servers=kafka.bootstrap_servers,
        group_id=None,
        enable_auto_commit=False,
        isolation_level="read_committed",
    )
    await consumer.start()
    try:
        await consumer._client.force_metadata_update()
        found = consumer.partitions_for_topic(topic) or set()
        partitions = [TopicPartition(topic, p) for p in sorted(found)]
        if not partitions:
            if required:
                raise typer.BadParameter(f"topic {topic!r} does not exist")
            return []
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        rows: list[Row] = []
        while [tp for tp in partitions if await consumer.position(tp) < ends[tp]]:
            for tp, records in (await consumer.getmany(timeout_ms=1000)).items():
                rows += [(tp.partition, r.offset, _decode(r.value)) for r in records]
        return sorted(rows, key=lambda row: (row[0], row[1]))
    finally:
        await consumer.stop()


def _decode(value: bytes | None) -> dict[str, Any]:
    try:
        loaded = json.loads(value or b"null")
    except json.JSONDecodeError:
        return {}
    return loaded if isinstance(loaded, dict) else {}


def _time(value: object) -> datetime | None:
    return datetime.fromisoformat(value) if isinstance(value, str) and value else None


def published_keys(entries: dict[str, Any]) -> dict[str, PublishedKey]:
    """Read key_id -> public key (text, or an object as the registry serves it)."""
    ring: dict[str, PublishedKey] = {}
    for key_id, entry in entries.items():
        if isinstance(entry, str):
            ring[key_id] = PublishedKey(key_id, load_public_key(entry))
            continue
        if entry.get("alg", "EdDSA") != "EdDSA":
            continue
        ring[key_id] = PublishedKey(
            key_id,
            load_public_key(str(entry["public_key"])),
            _time(entry.get("valid_from")),
            _time(entry.get("retired_at")),
        )
    return ring


def keys_from_file(path: Path) -> dict[str, PublishedKey]:
    """Read a JSON keys file: {key_id: public key or key object} or the registry's answer."""
    loaded = json.loads(path.read_text(encoding="utf-8"))
    if isinstance(loaded, dict) and isinstance(loaded.get("keys"), list):
        loaded = {entry["key_id"]: entry for entry in loaded["keys"]}
    if not isinstance(loaded, dict):
        raise typer.BadParameter(f"{path} holds no key_id -> public key object")
    return published_keys(loaded)


def keys_from_registry(base_url: str, timeout_s: float = 10.0) -> dict[str, PublishedKey]:
    """Fetch the published audit keys from the registry."""
    answer = httpx.get(f"{base_url.rstrip('/')}/v1/audit/keys", timeout=timeout_s)
    answer.raise_for_status()
    return published_keys({entry["key_id"]: entry for entry in answer.json()["keys"]})


def checkpoints_from_registry(base_url: str, timeout_s: float = 30.0) -> list[dict[str, Any]]:
    """Fetch every anchored checkpoint from the registry."""
    answer = httpx.get(f"{base_url.rstrip('/')}/v1/audit/checkpoints", timeout=timeout_s)
    answer.raise_for_status()
    found: list[dict[str, Any]] = answer.json()["checkpoints"]
    return found
