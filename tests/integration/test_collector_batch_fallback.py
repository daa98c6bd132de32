"""A batch that fails (a bug, never bad data) costs nothing, against the real broker: the
partition goes back to its committed state and replays the range one record at a time."""

from __future__ import annotations

import asyncio
import json
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaProducer

from ioc_collector.domain.batch import BatchAggregator
from ioc_collector.domain.events import EventBatch
from ioc_collector.domain.state import AggregationState
from ioc_collector.main import create_app
from ioc_collector.settings import CollectorSettings
from lgsp_common.envelope import CloudEvent, to_kafka
from lgsp_common.settings import KafkaSettings
from lgsp_devkit.collector_testing import (  # noqa: F401 - fixtures
    collector_store_url,
    postgres_server,
)
from lgsp_devkit.testing import TopicFactory, serve
from lgsp_devkit.viewers import VIEWER_HEADERS, publish_viewer

pytestmark = pytest.mark.kafka
TOPIC_DIR = Path(__file__).resolve().parents[2] / "contracts/topics/tthc.dossier.v1"
VALID = json.loads((TOPIC_DIR / "examples/valid/online-submitted-province.json").read_text())
KPI = """id: submitted
title_vi: Hồ sơ nộp
title_en: Dossiers submitted
topic: {topic}
measure: {{kind: count}}
time_field: submitted_at
window: month
idle_timeout: P3650D
unit: dossiers
"""


def write_files(root: Path, topic: str) -> tuple[Path, Path]:
    """Write the dossier contract under the test topic, and one KPI over it."""
    folder = root / "contracts" / "topics" / topic
    folder.mkdir(parents=True)
    (folder / "v1.schema.json").write_text((TOPIC_DIR / "v1.schema.json").read_text())
    (root / "kpis").mkdir()
    (root / "kpis" / "submitted.yaml").write_text(KPI.format(topic=topic))
    return root / "contracts", root / "kpis"


async def produce(kafka: KafkaSettings, topic: str, events: list[CloudEvent]) -> None:
    """Produce the events in binary mode, all on partition 0."""
    producer = AIOKafkaProducer(bootstrap_servers=kafka.bootstrap_servers, acks="all")
    await producer.start()
    try:
        for event in events:
            record = to_kafka(event, "H03", carrier={})
            await producer.send_and_wait(topic, record.value, key=b"H03", headers=record.headers)
    finally:
        await producer.stop()


async def tile(http: httpx.AsyncClient) -> dict[str, Any]:
    """Return the KPI's tile."""
    return dict((await http.get("/v1/kpis")).json()["kpis"][0])


async def test_a_failed_batch_is_replayed_from_the_committed_state(
    kafka_settings: KafkaSettings,
    topic_factory: TopicFactory,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    collector_store_url: str,  # noqa: F811 - the fixture
) -> None:
    topic = await topic_factory("tthc", 1)
    contracts, kpis = write_files(tmp_path, topic)
    registry = await topic_factory("registry", 1, **{"cleanup.policy": "compact"})
    await publish_viewer(kafka_settings, registry)
    settings = CollectorSettings(
        kafka=kafka_settings, contracts_dir=contracts, kpis_dir=kpis, topics=[topic],
        group_id=f"ioc-{topic}", store_url=collector_store_url, registry_topic=registry,
        dlq_topic=await topic_factory("dlq"), kpi_topic=await topic_factory("kpi"),
        tick_interval_s=0.2,
    )  # fmt: skip
    failures: list[int] = []
    apply_batch = BatchAggregator.apply_batch

    def fails_once(
        self: BatchAggregator, batch: EventBatch, state: AggregationState, now: datetime
    ) -> None:
        apply_batch(self, batch, state, now)  # the state is changed, then the batch fails
        if len(batch) and not failures:
            failures.append(len(batch))
            raise RuntimeError("a bug in the batch path")

    monkeypatch.setattr(BatchAggregator, "apply_batch", fails_once)
    events = [
        CloudEvent(id=f"ev-{n}", source="/sources/dvc", type="t.submitted",
                   data={**VALID, "dossier_id": f"H03-{n}"})
        for n in range(5)
    ]  # fmt: skip
    async with (
        serve(create_app(settings)) as url,
        httpx.AsyncClient(base_url=url, headers=VIEWER_HEADERS) as http,
    ):
        await produce(kafka_settings, topic, [*events, events[2]])  # one redelivery
        deadline = time.monotonic() + 30
        while (found := await tile(http))["current"]["value"] != 5:
            assert time.monotonic() < deadline, found
            await asyncio.sleep(0.1)
        await asyncio.sleep(1)  # nothing more arrives: the value stays
        found = await tile(http)
        counts = (await http.get("/v1/streams/counts")).json()
    assert failures, "the batch path never failed: the test proves nothing"
    assert (found["current"]["value"], found["duplicate_events"]) == (5, 1)
    assert counts["sources"] == [{"topic": topic, "source": "/sources/dvc", "events": 6}]
