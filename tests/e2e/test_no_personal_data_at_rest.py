"""Personal data never rests in clear: a fault-heavy run leaves no raw CCCD anywhere.

The whole platform runs in this process (`in_process_platform`) on the session's broker, with
the platform's own JSON logging (`lgsp_common.logs`) writing to a file and an in-memory exporter
on every service's tracer provider. A short scenario with many broken events and population
checks (a third of the upstream reads failing) runs through the real gateway; then come the
faults that carry CCCD numbers of the generated population where they do not belong: in an
undeclared field, a free-text note, pattern- and enum-checked fields, a JSON key, a body that is
not JSON, the event type, a batch item, a query string, a caller's `tracestate` (which travels
into the Kafka headers of an accepted event), population checks with a wrong name, an extra
field or a malformed number. (A CCCD in the URL or an event attribute: the unit test
`services/lgsp-gateway/tests/unit/test_no_cccd_outside_the_payload.py`, with its known gaps.)

Then every raw 12-digit CCCD of that population is looked for in every record (value, key,
headers) of every topic the run wrote, the log file, every span, every service's /metrics and
the services' files on disk (the population database itself excepted): zero hits.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from lgsp_common.logs import configure_logging
from lgsp_common.settings import KafkaSettings, repo_root
from lgsp_common.topics import contract_topics
from lgsp_devkit.inprocess import InProcessPlatform, in_process_platform
from lgsp_simulators.scenario import Faults, load_scenario
from lgsp_simulators.session import Options, Simulation, Target

pytestmark = [pytest.mark.kafka, pytest.mark.slow, pytest.mark.timeout(240)]
CITIZENS = 300
EVENTS = 240
VISIT = "health.medical-visit.v1"
SERVICES = ("registry", "gateway", "adapter", "collector")
VALID_VISIT = {
    "visit_id": "KCB-77001-20240924-000153",
    "facility_code": "77001",
    "district_code": "748",
    "visit_time": "2024-09-24T08:15:00+07:00",
    "identification": "cccd_chip",
    "telemedicine": False,
    "e_prescription": True,
    "payment": "cashless",
}
VISIT_TYPE = "vn.gov.lgsp.health.medical-visit.recorded"
POPULATION_CALLS = ("verify", "lookup", "query")
TWELVE_DIGITS = re.compile(r"(?=([0-9]{12}))")  # every 12-digit window, overlapping


def population(workdir: Path) -> list[str]:
    """Return every CCCD of the generated population (the store lists them)."""
    with contextlib.closing(sqlite3.connect(workdir / "citizens.sqlite")) as db:
        return [row[0] for row in db.execute("SELECT cccd FROM citizens")]


def fault_heavy_scenario() -> Any:
    """The default departments, half the events broken, every visit checked, many no-matches."""
    scenario = load_scenario(repo_root() / "scenarios" / "default.yaml")
    health = scenario.health.model_copy(update={"verify_share": 1.0, "no_match_share": 0.3})
    link = scenario.population.model_copy(update={"count": CITIZENS, "pool": CITIZENS})
    return scenario.model_copy(
        update={
            "name": "no-personal-data-at-rest",
            "faults": Faults(invalid_share=0.5),
            "health": health,
            "population": link,
        }
    )


@contextlib.contextmanager
def platform_logs(path: Path) -> Iterator[logging.Handler]:
    """Configure the platform's logging (as its entrypoint does) into a file, DEBUG and up."""
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    with path.open("w", encoding="utf-8") as stream:
        configure_logging("e2e-platform", "DEBUG", json_output=True)
        handler = root.handlers[0]
        assert isinstance(handler, logging.StreamHandler)
        handler.setStream(stream)
        try:
            yield handler
        finally:
            handler.flush()
            root.handlers[:], _ = saved
            root.setLevel(saved[1])
            logging.getLogger("uvicorn").removeHandler(handler)


def follow_uvicorn(handler: logging.Handler) -> None:
    """Send uvicorn's own loggers (the test server configures them apart) to the same file."""
    logging.getLogger("uvicorn").addHandler(handler)


def watch_spans(apps: dict[str, Any]) -> list[InMemorySpanExporter]:
    """Add an in-memory exporter to every app's tracer provider and the process-wide one."""
    exporters = []
    providers = [apps[name].state.tracer_provider for name in SERVICES]
    process_wide = trace.get_tracer_provider()
    if isinstance(process_wide, TracerProvider) and process_wide not in providers:
        providers.append(process_wide)
    for provider in providers:
        exporter = InMemorySpanExporter()
        provider.add_span_processor(SimpleSpanProcessor(exporter))
        exporters.append(exporter)
    return exporters


async def topic_names(kafka: KafkaSettings) -> set[str]:
    """Return the cluster's topics (internal ones left out)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka.bootstrap_servers)
    await admin.start()
    try:
        return {t for t in await admin.list_topics() if not t.startswith("__")}
    finally:
        await admin.close()


async def every_record(kafka: KafkaSettings, topics: list[str]) -> dict[str, list[bytes]]:
    """Return, per topic, every record's key, value and headers as bytes, to its current end."""
    consumer = AIOKafkaConsumer(bootstrap_servers=kafka.bootstrap_servers, group_id=None,
                                enable_auto_commit=False)  # fmt: skip
    await consumer.start()
    try:
        await consumer._client.force_metadata_update()
        partitions = [TopicPartition(t, p) for t in topics
                      for p in sorted(consumer.partitions_for_topic(t) or ())]  # fmt: skip
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        found: dict[str, list[bytes]] = {t: [] for t in topics}
        deadline = asyncio.get_running_loop().time() + 60
        while [p for p in partitions if await consumer.position(p) < ends[p]]:
            assert asyncio.get_running_loop().time() < deadline, "topics not read to their end"
            for tp, records in (await consumer.getmany(timeout_ms=300)).items():
                for r in records:
                    parts = [r.key or b"", r.value or b""]
                    parts += [k.encode() + b"=" + (v or b"") for k, v in r.headers or ()]
                    found[tp.topic].append(b"\x00".join(parts))
        return found
    finally:
        await consumer.stop()


class Hunt:
    """Counts the raw CCCDs found in each place."""

    def __init__(self, cccds: list[str]) -> None:
        self.cccds = set(cccds)
        self.hits: dict[str, list[str]] = {}

    def scan(self, where: str, text: str) -> None:
        """Record every raw CCCD of the population in the text (any 12-digit window)."""
        for match in TWELVE_DIGITS.finditer(text):
            if match.group(1) in self.cccds:  # kept with 60 characters around, for diagnosis
                start = match.start()
                around = text[max(0, start - 60) : start] + "<CCCD>" + text[start + 12 : start + 72]
                self.hits.setdefault(where, []).append(around)


def scan_files(hunt: Hunt, workdir: Path, log_file: Path) -> int:
    """Scan the log file and the services' files (not the population itself); return log lines."""
    log_text = log_file.read_text(encoding="utf-8")
    hunt.scan("log file", log_text)
    for file in workdir.rglob("*"):
        if file.is_file() and not file.name.startswith("citizens.sqlite") and file != log_file:
            hunt.scan(f"file {file.name}", file.read_bytes().decode("latin-1"))
    return log_text.count("\n")


def visit(**changes: Any) -> dict[str, Any]:
    """Return a valid medical visit with some fields changed (None removes a field)."""
    payload = {**VALID_VISIT, **changes}
    return {k: v for k, v in payload.items() if v is not None}


async def send_cccd_faults(
    platform: InProcessPlatform, simulation: Simulation, cccds: list[str]
) -> dict[str, int]:
    """Send the faults that carry CCCDs where they do not belong; return each answer's status."""
    onboarded = simulation.runner.onboarded  # type: ignore[union-attr]
    key, source = onboarded.keys[VISIT], onboarded.sources[VISIT]
    c = iter(cccds)
    bodies: dict[str, bytes] = {
        "free-text-note": json.dumps(visit(ghi_chu=f"Bệnh nhân CCCD {next(c)}, tái khám")).encode(),
        "undeclared-field": json.dumps(visit(so_cccd=next(c))).encode(),
        "pattern-field": json.dumps(visit(facility_code=next(c))).encode(),
        "enum-field": json.dumps(visit(identification=next(c))).encode(),
        "format-field": json.dumps(visit(visit_time=next(c))).encode(),
        "cccd-as-key": json.dumps({**VALID_VISIT, next(c): "x"}).encode(),
        "not-json": f"cccd={next(c)}&ho_ten=Nguyen".encode(),
        "entity-key-missing": json.dumps(visit(visit_id=None, patient=next(c))).encode(),
    }
    statuses: dict[str, int] = {}
    async with httpx.AsyncClient(base_url=platform.urls["gateway"], timeout=30) as http:
        headers = {"content-type": "application/json", "x-api-key": key, "ce-specversion": "1.0",
                   "ce-source": f"/sources/{source}", "ce-type": VISIT_TYPE}  # fmt: skip
        for name, body in bodies.items():
            sent = {**headers, "ce-id": f"pii-{name}"}
            answer = await http.post(f"/v1/topics/{VISIT}/events", content=body, headers=sent)
            statuses[name] = answer.status_code
        wrong_type = {**headers, "ce-id": "pii-type", "ce-type": f"vn.gov.lgsp.health.{next(c)}"}
        answer = await http.post(f"/v1/topics/{VISIT}/events", json=VALID_VISIT,
                                 headers=wrong_type)  # fmt: skip
        statuses["event-type"] = answer.status_code
        traced = {
            **headers,
            "ce-id": "pii-tracestate",
            "tracestate": f"v={next(c)}",
            "traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
        }
        answer = await http.post(f"/v1/topics/{VISIT}/events", json=visit(visit_id="KCB-pii"),
                                 headers=traced)  # fmt: skip
        statuses["accepted-tracestate"] = answer.status_code  # valid: stored, trace state too
        item = {"specversion": "1.0", "id": "pii-batch", "type": VISIT_TYPE,
                "data": visit(benh_nhan={"cccd": next(c), "ho_ten": "Trần Thị B"})}  # fmt: skip
        answer = await http.post(f"/v1/topics/{VISIT}/batches", json=[item],
                                 headers={"content-type": "application/cloudevents-batch+json",
                                          "x-api-key": key})  # fmt: skip
        statuses["batch-item"] = answer.json()["items"][0]["status"]
        statuses |= await population_faults(http, onboarded.consumer_key, c)
    return statuses


async def population_faults(
    http: httpx.AsyncClient, consumer_key: str | None, cccds: Iterator[str]
) -> dict[str, int]:
    """Population checks and reads that carry a CCCD: wrong name, extra field, malformed, query."""
    assert consumer_key is not None
    headers = {"x-api-key": consumer_key}
    calls: dict[str, tuple[str, dict[str, Any]]] = {
        "verify-wrong-name": ("/v1/population/verify",
                              {"cccd": next(cccds), "full_name": "Không Có Ai",
                               "date_of_birth": "1990-01-01"}),
        "verify-extra-field": ("/v1/population/verify",
                               {"cccd": next(cccds), "full_name": "A", "date_of_birth":
                                "1990-01-01", "ghi_chu": next(cccds)}),
        "verify-malformed": ("/v1/population/verify",
                             {"cccd": "A" + next(cccds), "full_name": "A",
                              "date_of_birth": "1990-01-01"}),
        "lookup-other-purpose": ("/v1/population/lookup",
                                 {"cccd": next(cccds), "purpose": "marketing"}),
    }  # fmt: skip
    statuses = {}
    for name, (path, body) in calls.items():
        statuses[name] = (await http.post(path, json=body, headers=headers)).status_code
    answer = await http.get(f"/v1/topics/{VISIT}/records", params={"cccd": next(cccds)},
                            headers=headers)  # fmt: skip
    statuses["query-string"] = answer.status_code
    return statuses


async def wait_for_records(kafka: KafkaSettings, topic: str, at_least: int) -> None:
    """Poll the topic until it holds at least that many records."""
    consumer = AIOKafkaConsumer(bootstrap_servers=kafka.bootstrap_servers, group_id=None)
    await consumer.start()
    try:
        deadline = asyncio.get_running_loop().time() + 60
        while True:
            await consumer._client.force_metadata_update()
            partitions = [TopicPartition(topic, p)
                          for p in consumer.partitions_for_topic(topic) or ()]  # fmt: skip
            total = sum((await consumer.end_offsets(partitions)).values()) if partitions else 0
            if total >= at_least:
                return
            assert asyncio.get_running_loop().time() < deadline, f"{topic}: {total} records"
            await asyncio.sleep(0.2)
    finally:
        await consumer.stop()


async def scrape_metrics(platform: InProcessPlatform) -> dict[str, str]:
    """Return every service's /metrics text."""
    found = {}
    async with httpx.AsyncClient(timeout=30) as http:
        for name, url in platform.urls.items():
            answer = await http.get(f"{url}/metrics")
            if answer.status_code == 200:
                found[name] = answer.text
    assert set(SERVICES) <= set(found), sorted(found)
    return found


async def test_a_fault_heavy_run_leaves_no_raw_cccd_at_rest(
    kafka_settings: KafkaSettings, tmp_path: Path
) -> None:
    before = await topic_names(kafka_settings)
    log_file = tmp_path / "platform.log.jsonl"
    simulator = TracerProvider()
    with platform_logs(log_file) as handler:
        async with in_process_platform(kafka_settings, tmp_path, citizens=CITIZENS) as platform:
            follow_uvicorn(handler)
            exporters = watch_spans(platform.apps)
            cccds = population(tmp_path)
            async with httpx.AsyncClient(base_url=platform.urls["upstream"]) as upstream:
                await upstream.post("/_faults", json={"failure_rate": 0.3})
            target = Target(platform.urls["gateway"], platform.urls["registry"], platform.token)
            options = Options(rate=200, events=EVENTS, batch_size=4, run_id="pii")
            simulation = Simulation(fault_heavy_scenario(), target, options,
                                    simulator.get_tracer("sim"), say=lambda _: None)  # fmt: skip
            await simulation.run()
            statuses = await send_cccd_faults(platform, simulation, cccds)
            assert statuses.pop("accepted-tracestate") == 202
            published = {n: s for n, s in statuses.items() if not n.startswith(POPULATION_CALLS)}
            refused = [n for n, s in published.items() if s in (400, 413, 415, 422)]
            assert len(refused) == len(published), statuses  # every publish fault was refused
            assert simulation.document is not None
            broken = len(simulation.document["invalid"])
            assert broken > 0
            await wait_for_records(kafka_settings, platform.topics["dlq"], broken + len(refused))
            metrics = await scrape_metrics(platform)
            written = set(platform.topics.values())
        # Out of the platform: every producer flushed, every audit record drained.
    data_topics = set(contract_topics(repo_root() / "contracts"))
    after = await topic_names(kafka_settings)
    scanned = sorted(t for t in after if t in written or t in data_topics or t not in before)
    records = await every_record(kafka_settings, scanned)
    assert sum(map(len, records.values())) > EVENTS

    hunt = Hunt(cccds)
    for topic, found in records.items():
        for record in found:
            hunt.scan(f"topic {topic}", record.decode("utf-8", "replace"))
    assert scan_files(hunt, tmp_path, log_file) > 10
    spans = [span for exporter in exporters for span in exporter.get_finished_spans()]
    assert len(spans) > EVENTS
    for span in spans:
        hunt.scan(f"span {span.name}", span.to_json())
    for service, text in metrics.items():
        hunt.scan(f"metrics of {service}", text)
    assert hunt.hits == {}, hunt.hits
