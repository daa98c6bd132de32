"""No raw CCCD anywhere: every log line, span, metric and Kafka record of a full scenario.

One scenario drives every path of the adapter (match, no match, lookups granted and refused,
each invalid-id rule, callers refused, a slow upstream, a failing one, an absent one), with ids
also smuggled into headers and field names. Everything the processes emit is captured: the
adapter's log records (caplog, DEBUG, tracebacks included), its spans (in-memory exporter),
its /metrics text, the upstream process's stderr (DEBUG) and the audit and verification
records on Kafka. None may contain any of the raw numbers used; the masked forms must be there.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaConsumer
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from lgsp_common.settings import KafkaSettings
from lgsp_devkit.testing import TopicFactory, publish_registry_changes, serve
from lgsp_simulators.national_population.generator import generate_citizens
from lgsp_simulators.national_population.process import UpstreamProcess
from lgsp_simulators.national_population.store import build_database
from lgsp_vn.citizen import Citizen
from population_adapter.main import create_app
from population_adapter.settings import AdapterSettings

pytestmark = pytest.mark.kafka
CITIZENS = list(generate_citizens(6, 40))
TOKEN = "privacy-gateway-token"
HEALTH = "health_insurance_check"
REGISTRY = [
    ("organisation", "org-syt", {"id": "org-syt", "code": "000.00.17.H03"}),
    (
        "consumer",
        "syt-his",
        {
            "id": "syt-his",
            "organisation_id": "org-syt",
            "topic": "population.citizen.v1",
            "purpose": HEALTH,
            "fields": ["/full_name", "/date_of_birth"],
            "status": "approved",
        },
    ),
]


class Caller:
    """Calls the adapter and remembers every citizen id it sent."""

    def __init__(self, http: httpx.AsyncClient, url: str) -> None:
        self.http = http
        self.url = url
        self.used: set[str] = set()

    async def post(self, path: str, body: dict[str, Any], **headers: str) -> httpx.Response:
        """Send one request; ids in the body or headers are remembered."""
        self.used.update(str(v) for v in [*body.values(), *headers.values()] if _digits(v))
        base = {"X-LGSP-Gateway-Token": TOKEN, "X-LGSP-Consumer": "syt-his"}
        sent = {**base, "X-LGSP-Purpose": HEALTH, **headers}
        return await self.http.post(self.url + path, json=body, headers=sent)

    async def verify(self, citizen: Citizen, **changes: Any) -> httpx.Response:
        """Verify an identity (with changes) as the gateway would."""
        body = {
            "cccd": citizen.cccd,
            "full_name": citizen.full_name,
            "date_of_birth": citizen.date_of_birth.isoformat(),
        }
        return await self.post("/v1/verify", {**body, **changes})


def _digits(value: object) -> bool:
    return isinstance(value, str) and len(value) >= 9 and value[:9].isdigit()


def _swap(cccd: str, position: int, digits: str) -> str:
    return cccd[:position] + digits + cccd[position + len(digits) :]


async def functional_paths(caller: Caller) -> None:
    """Drive the answers that do not involve faults."""
    one, two = CITIZENS[0], CITIZENS[1]
    assert (await caller.verify(one)).status_code == 200
    assert (await caller.verify(one, full_name="Ai Đó")).json()["outcome"] == "no_match"
    assert (await caller.verify(two, cccd=two.cccd[:6] + "000001")).status_code == 200
    assert (await caller.post("/v1/lookup", {"cccd": two.cccd, "purpose": HEALTH})).is_success
    refused = {"cccd": two.cccd, "purpose": HEALTH, "fields": ["permanent_address", one.cccd]}
    assert (await caller.post("/v1/lookup", refused)).status_code == 403
    missing = {"cccd": "077" + two.cccd[3:6] + "999999", "purpose": HEALTH}
    assert (await caller.post("/v1/lookup", missing)).status_code in (200, 404)
    for cccd in (
        one.cccd[:11],
        one.cccd + "7",
        _swap(one.cccd, 0, "003"),
        _swap(one.cccd, 3, str(int(one.cccd[3]) ^ 2)),
        _swap(one.cccd, 4, f"{(int(one.cccd[4:6]) + 3) % 100:02d}"),
    ):
        assert (await caller.verify(one, cccd=cccd)).status_code == 422
    assert (await caller.verify(one, date_of_birth="not a date")).status_code == 422
    smuggled = {"X-LGSP-Consumer": two.cccd, "X-LGSP-Purpose": one.cccd}
    assert (await caller.post("/v1/verify", {"cccd": one.cccd}, **smuggled)).status_code == 403
    no_token = {"X-LGSP-Gateway-Token": one.cccd}
    assert (await caller.post("/v1/verify", {"cccd": two.cccd}, **no_token)).status_code == 401


async def fault_paths(caller: Caller, upstream: UpstreamProcess) -> None:
    """Drive the answers of a slow, failing and absent upstream."""
    upstream.set_faults(latency_ms=1_500)
    assert (await caller.verify(CITIZENS[10])).status_code == 503
    upstream.set_faults(failure_rate=1.0)
    for citizen in CITIZENS[11:16]:  # enough to open the breaker, then fail fast
        assert (await caller.verify(citizen)).status_code == 503
    upstream.set_faults()
    await asyncio.sleep(0.6)  # the breaker's reset period
    assert (await caller.verify(CITIZENS[16])).status_code == 200
    upstream.stop()
    assert (await caller.verify(CITIZENS[16])).status_code == 200  # from the cache
    assert (await caller.verify(CITIZENS[17])).status_code == 503


async def kafka_text(kafka: KafkaSettings, topics: Iterable[str]) -> str:
    """Return every record (key, headers, value) of the topics as text."""
    reader = AIOKafkaConsumer(
        *topics, bootstrap_servers=kafka.bootstrap_servers, auto_offset_reset="earliest"
    )
    await reader.start()
    parts: list[str] = []
    try:
        for _ in range(6):
            batches = await reader.getmany(timeout_ms=500)
            for record in (r for batch in batches.values() for r in batch):
                parts += [repr(record.key), repr(record.headers), record.value.decode()]
    finally:
        await reader.stop()
    return "\n".join(parts)


def log_text(records: list[logging.LogRecord]) -> str:
    """Return every captured log record, all its attributes and traceback, as text."""
    formatter = logging.Formatter()
    lines = []
    for record in records:
        lines.append(record.getMessage())
        lines.append(repr(sorted(record.__dict__.items(), key=lambda kv: kv[0])))
        if record.exc_info:
            lines.append(formatter.formatException(record.exc_info))
    return "\n".join(lines)


def adapter_settings(kafka: KafkaSettings, upstream_url: str, topics: list[str]) -> Any:
    """Return adapter settings with short timeouts and a quick breaker, on the test's topics."""
    registry, audit, verifications = topics
    return AdapterSettings(
        kafka=kafka,
        upstream_url=upstream_url,
        registry_topic=registry,
        audit_topic=audit,
        verification_topic=verifications,
        gateway_token=TOKEN,
        log_level="DEBUG",
        upstream_timeout_s=0.2,
        upstream_deadline_s=0.6,
        breaker_failure_threshold=3,
        breaker_reset_s=0.5,
        cache_ttl_s=30,
        retry_backoff_s=0.01,
    )


async def run_scenario(
    settings: AdapterSettings, upstream: UpstreamProcess, spans: InMemorySpanExporter
) -> tuple[Caller, str]:
    """Serve the adapter, drive every path; return the caller and the final /metrics text."""
    app = create_app(settings, span_processor=SimpleSpanProcessor(spans))
    upstream.start()
    try:
        async with serve(app) as url, httpx.AsyncClient(timeout=10) as http:
            caller = Caller(http, url)
            await functional_paths(caller)
            await fault_paths(caller, upstream)
            return caller, (await http.get(f"{url}/metrics")).text
    finally:
        upstream.stop()


async def test_no_raw_cccd_in_logs_spans_metrics_or_kafka(
    kafka_settings: KafkaSettings,
    topic_factory: TopicFactory,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    build_database(tmp_path / "citizens.sqlite", 500, 6)
    log = tmp_path / "upstream.log"
    env = {"POPULATION_UPSTREAM_LOG_LEVEL": "DEBUG"}
    upstream = UpstreamProcess(tmp_path / "citizens.sqlite", log, env=env)
    topics = [await topic_factory("registry", 1, **{"cleanup.policy": "compact"})]
    topics += [await topic_factory("audit", 1), await topic_factory("verif", 1)]
    await publish_registry_changes(kafka_settings, topics[0], REGISTRY)
    spans = InMemorySpanExporter()
    settings = adapter_settings(kafka_settings, upstream.url, topics)
    caller, metrics = await run_scenario(settings, upstream, spans)
    evidence = {
        "logs": log_text(caplog.records),
        "spans": "\n".join(span.to_json() for span in spans.get_finished_spans()),
        "metrics": metrics,
        "upstream stderr": log.read_text(encoding="utf-8"),
        "kafka": await kafka_text(kafka_settings, topics[1:]),
    }
    leaks = {where: sorted(c for c in caller.used if c in text) for where, text in evidence.items()}
    assert leaks == {where: [] for where in evidence}
    # The capture is real: each channel holds what the scenario produced, masked.
    masked = CITIZENS[0].cccd[:3] + "*******" + CITIZENS[0].cccd[-2:]
    assert all(masked in evidence[where] for where in ("spans", "logs", "kafka"))
    assert len(spans.get_finished_spans()) >= 20
    hits = re.search(r"^population_cache_hits_total (\S+)$", metrics, re.MULTILINE)
    assert hits is not None
    assert float(hits.group(1)) >= 2
    assert "faults changed" in evidence["upstream stderr"]
    assert len(caller.used) >= 15
