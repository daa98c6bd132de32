"""The collector continues each event's trace, against the real broker: a record produced with a
known `traceparent` yields a CONSUMER span `collector process <topic>` that is its child."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from ioc_collector.main import create_app
from ioc_collector.settings import CollectorSettings
from lgsp_common.envelope import CloudEvent, to_kafka
from lgsp_common.settings import KafkaSettings
from lgsp_devkit.collector_testing import (  # noqa: F401 - fixtures
    collector_store_url,
    postgres_server,
)
from lgsp_devkit.testing import TopicFactory, serve

pytestmark = pytest.mark.kafka
ROOT = Path(__file__).resolve().parents[2]
TOPIC_DIR = ROOT / "contracts/topics/tthc.dossier.v1"
VALID = json.loads((TOPIC_DIR / "examples/valid/online-submitted-province.json").read_text())
KPI = """id: submitted
title_vi: Hồ sơ nộp
title_en: Dossiers submitted
topic: {topic}
measure: {{kind: count}}
time_field: submitted_at
window: month
unit: dossiers
"""
TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT_ID = "00f067aa0ba902b7"


def write_files(root: Path, topic: str) -> tuple[Path, Path]:
    """Write the dossier contract under the test topic, and one KPI over it."""
    folder = root / "contracts" / "topics" / topic
    folder.mkdir(parents=True)
    (folder / "v1.schema.json").write_text((TOPIC_DIR / "v1.schema.json").read_text())
    (root / "kpis").mkdir()
    (root / "kpis" / "submitted.yaml").write_text(KPI.format(topic=topic))
    return root / "contracts", root / "kpis"


async def produce(kafka: KafkaSettings, topic: str, records: list[tuple[bytes, Any]]) -> None:
    """Produce (value, headers) records."""
    producer = AIOKafkaProducer(bootstrap_servers=kafka.bootstrap_servers, acks="all")
    await producer.start()
    try:
        for value, headers in records:
            await producer.send_and_wait(topic, value, key=b"H03", headers=headers)
    finally:
        await producer.stop()


async def spans_named(exporter: InMemorySpanExporter, name: str, count: int) -> list[ReadableSpan]:
    """Wait until the exporter holds `count` spans of that name; return them by offset."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        found = [span for span in exporter.get_finished_spans() if span.name == name]
        if len(found) >= count:
            return sorted(found, key=lambda span: span.attributes["messaging.kafka.offset"])  # type: ignore[index]
        await asyncio.sleep(0.1)
    raise AssertionError(f"fewer than {count} spans {name!r}: {exporter.get_finished_spans()}")


async def test_a_record_span_is_the_child_of_the_trace_its_event_carries(
    kafka_settings: KafkaSettings,
    topic_factory: TopicFactory,
    tmp_path: Path,
    collector_store_url: str,  # noqa: F811 - the fixture
) -> None:
    topic = await topic_factory("tthc", 1)
    registry = await topic_factory("registry", 1, **{"cleanup.policy": "compact"})
    contracts, kpis = write_files(tmp_path, topic)
    settings = CollectorSettings(
        kafka=kafka_settings, contracts_dir=contracts, kpis_dir=kpis, topics=[topic],
        group_id=f"ioc-{topic}", store_url=collector_store_url, registry_topic=registry,
        dlq_topic=await topic_factory("dlq"), kpi_topic=await topic_factory("kpi"),
    )  # fmt: skip
    app = create_app(settings)
    exporter = InMemorySpanExporter()
    app.state.tracer_provider.add_span_processor(SimpleSpanProcessor(exporter))
    event = CloudEvent(id="ev-traced", source="/sources/dvc-portal", type="t.submitted", data=VALID)
    traced = to_kafka(event, "H03", carrier={"traceparent": f"00-{TRACE_ID}-{PARENT_ID}-01"})
    untraced = to_kafka(event.model_copy(update={"id": "ev-root"}), "H03", carrier={})
    async with serve(app):
        await produce(kafka_settings, topic, [
            (traced.value, traced.headers), (untraced.value, untraced.headers),
            (b"{not json", traced.headers),
        ])  # fmt: skip
        first, second, poison = await spans_named(exporter, f"collector process {topic}", 3)
    assert first.kind is SpanKind.CONSUMER
    assert format(first.context.trace_id, "032x") == TRACE_ID
    assert first.parent is not None and first.parent.is_remote
    assert format(first.parent.span_id, "016x") == PARENT_ID
    assert format(first.parent.trace_id, "032x") == TRACE_ID
    wanted = ("messaging.system", "messaging.destination.name", "messaging.message.id")
    assert [first.attributes[name] for name in wanted] == ["kafka", topic, "ev-traced"]
    assert first.status.status_code is StatusCode.UNSET
    # No traceparent: the span starts a trace of its own.
    assert second.parent is None and format(second.context.trace_id, "032x") != TRACE_ID
    assert second.attributes["messaging.message.id"] == "ev-root"
    # A poison record still continues its trace, and says why it was skipped.
    assert format(poison.context.trace_id, "032x") == TRACE_ID
    assert poison.status.status_code is StatusCode.ERROR
    assert poison.attributes["error.type"] == "not_json"
