"""Pieces of the collector backfill benchmark: the history topics' pre-fill, the plain
consumer's baseline, the registry entries and the processes' settings (see
collector_backfill_bench.py)."""

from __future__ import annotations

import asyncio
import random
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml
from aiokafka import AIOKafkaProducer
from collector_bench_support import (
    BASE,
    DISTRICTS,
    PROBE_KPI,
    ROOT,
    SCHEMA,
    viewer_change,
)

from ioc_collector.stream.backfill import backfill_consumer
from lgsp_common.api_keys import hash_api_key
from lgsp_common.envelope import CloudEvent, to_kafka
from lgsp_common.settings import KafkaSettings
from lgsp_devkit.testing import new_api_key, publish_registry_changes

FETCH_RECORDS = 5000  # the collector's default backfill_max_batch


DAYS = 30


HISTORY_KPI = "history-by-district"


def backfill_kpi(topic: str, kpi_id: str = HISTORY_KPI) -> dict[str, Any]:
    """The KPI pushed at runtime: dossiers per district and day."""
    return {"id": kpi_id, "title_vi": "Hồ sơ theo huyện (lịch sử)",
            "title_en": "Dossiers by district (history)", "topic": topic,
            "measure": {"kind": "count"}, "dimensions": ["district_code"],
            "time_field": "submitted_at", "window": "day", "allowed_lateness": "PT1H",
            "idle_timeout": "P3650D", "unit": "dossiers", "version": 1,
            "status": "active"}  # fmt: skip


def live_kpis(topic: str) -> list[dict[str, Any]]:
    """The KPIs served live during the backfill: the repository's dossier KPIs and the probe."""
    found = [yaml.safe_load(PROBE_KPI.format(topic=topic))]
    for path in sorted((ROOT / "services/ioc-collector/kpis").glob("*.yaml")):
        kpi = yaml.safe_load(path.read_text(encoding="utf-8"))
        if kpi["topic"] == "tthc.dossier.v1":
            found.append({**kpi, "topic": topic})
    return [{**kpi, "version": 1, "status": "active"} for kpi in found]


async def prefill(kafka: KafkaSettings, topic: str, count: int) -> None:
    """Write `count` dossiers in time order over the last DAYS days (binary mode, entity key)."""
    producer = AIOKafkaProducer(bootstrap_servers=kafka.bootstrap_servers, acks="all",
                                linger_ms=20, max_batch_size=512 * 1024)  # fmt: skip
    await producer.start()
    rng = random.Random(1)
    first = datetime.now(UTC) - timedelta(days=DAYS)
    step = timedelta(days=DAYS) / count
    try:
        for start in range(0, count, 5000):
            futures = []
            for n in range(start, min(count, start + 5000)):
                data = {**BASE, "dossier_id": f"H-{n:08d}", "district_code": rng.choice(DISTRICTS),
                        "channel": rng.choice(["online", "paper"]),
                        "submitted_at": (first + step * n).isoformat()}  # fmt: skip
                event = CloudEvent(source="/sources/history", type="t.submitted", data=data)
                record = to_kafka(event, data["dossier_id"], carrier={})
                futures.append(await producer.send(topic, record.value, key=record.key,
                                                   headers=record.headers))  # fmt: skip
            await asyncio.gather(*futures)
    finally:
        await producer.stop()


async def plain_rate(kafka: KafkaSettings, topic: str, count: int) -> float:
    """Events/s of a plain consumer over the whole topic (clock from its first batch; a topic
    read in one batch, as a small one is, is timed from the first request instead)."""
    consumer = backfill_consumer(kafka, "bench-plain")
    consumer.subscribe([topic])
    await consumer.start()
    seen, first, started = 0, 0, 0.0
    asked = time.perf_counter()
    try:
        while seen < count:
            batches = await consumer.getmany(timeout_ms=1000, max_records=FETCH_RECORDS)
            seen += sum(len(records) for records in batches.values())
            if batches and not started:
                first, started = seen, time.perf_counter()
        ended = time.perf_counter()  # the last batch, not the consumer's stop
    finally:
        await consumer.stop()
    if first >= count:  # nothing after the first batch to time
        return count / (ended - asked)
    return (count - first) / (ended - started)


async def register(
    kafka: KafkaSettings, registry: str, histories: dict[str, str], live: str
) -> str:
    """Register the sources (each history topic, by name, and the live one), their contracts,
    the live KPIs and a gateway key; return the key."""
    key_id, key = new_api_key()
    # The probes keep the bench's own ce-type (collector_bench.Freshness): no eventType rule.
    extension = {k: v for k, v in SCHEMA.get("x-lgsp", {}).items() if k != "eventType"}
    schema = {**SCHEMA, "x-lgsp": extension}
    changes: list[tuple[str, str, dict[str, Any] | None]] = []
    for name, topic in [*histories.items(), ("live", live)]:
        changes.append(
            (
                "source",
                name,
                {
                    "id": name,
                    "topic": topic,
                    "status": "active",
                    "cadence": "realtime",
                    "organisation_id": "bench",
                },
            )
        )
        changes.append(("contract", f"c-{name}", {"id": f"c-{name}", "subject": topic,
                                                  "version": 1, "schema": schema}))  # fmt: skip
    changes.append(("api_key", key_id, {"id": key_id, "source_id": "live",
                                        "key_hash": hash_api_key(key)}))  # fmt: skip
    changes += [("kpi", kpi["id"], kpi) for kpi in live_kpis(live)]
    changes.append(viewer_change())
    await publish_registry_changes(kafka, registry, changes)
    return key


def processes_env(
    kafka: KafkaSettings, root: Path, topics: dict[str, str]
) -> tuple[dict[str, str], dict[str, str]]:
    gateway = {
        "KAFKA_BOOTSTRAP_SERVERS": kafka.bootstrap_servers,
        "LGSP_GATEWAY_REGISTRY_TOPIC": topics["registry"], "LGSP_GATEWAY_LOG_LEVEL": "WARNING",
        "LGSP_GATEWAY_DLQ_TOPIC": topics["dlq"], "LGSP_GATEWAY_AUDIT_TOPIC": topics["audit"],
        "LGSP_GATEWAY_RATE_LIMIT_PER_SOURCE": "1000000", "LGSP_GATEWAY_RATE_LIMIT_BURST": "1000000",
        "LGSP_GATEWAY_MAX_BATCH_EVENTS": "1000",
    }  # fmt: skip
    (root / "kpis").mkdir(parents=True, exist_ok=True)  # a seed, unused: the registry has KPIs
    (root / "kpis" / "bench-probes.yaml").write_text(PROBE_KPI.format(topic=topics["live"]))
    collector = {
        "KAFKA_BOOTSTRAP_SERVERS": kafka.bootstrap_servers, "IOC_COLLECTOR_GROUP_ID": "bench",
        "IOC_COLLECTOR_KPIS_DIR": str(root / "kpis"),
        "IOC_COLLECTOR_STORE_PATH": str(root / "collector.sqlite3"),
        "IOC_COLLECTOR_REGISTRY_TOPIC": topics["registry"],
        "IOC_COLLECTOR_DLQ_TOPIC": topics["dlq"], "IOC_COLLECTOR_KPI_TOPIC": topics["kpi"],
        "IOC_COLLECTOR_LOG_LEVEL": "WARNING", "IOC_COLLECTOR_MAX_BATCH": "2000",
    }  # fmt: skip
    return gateway, collector
