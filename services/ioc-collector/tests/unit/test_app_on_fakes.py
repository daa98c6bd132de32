"""The whole collector app without a broker: fakes for its Kafka clients, through bootstrap().

Only the Kafka-facing clients are fakes; the stream loop, the SQLite store of state and
positions, the ticker and the routes are the real ones.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import httpx
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRebalanceListener, TopicPartition
from fastapi import FastAPI

from ioc_collector.adapters.lag import LagProbe
from ioc_collector.main import create_app
from ioc_collector.settings import CollectorSettings
from lgsp_common.envelope import CloudEvent, to_kafka
from lgsp_common.registry_copy import RegistryCopy
from lgsp_devkit.viewers import VIEWER_HEADERS, viewer_change

ROOT = Path(__file__).resolve().parents[4]
TOPIC = "tthc.dossier.v1"
VALID = json.loads(
    (ROOT / f"contracts/topics/{TOPIC}/examples/valid/online-submitted-province.json").read_text()
)
KPI = f"""id: submitted
title_vi: Hồ sơ nộp
title_en: Dossiers submitted
topic: {TOPIC}
measure: {{kind: count}}
time_field: submitted_at
window: month
idle_timeout: P3650D
unit: dossiers
"""


@dataclass(frozen=True)
class FakeRecord:
    topic: str
    partition: int
    offset: int
    timestamp: int
    key: bytes | None
    value: bytes | None
    headers: list[tuple[str, bytes]]


class FakeConsumer:
    """A group consumer over an in-memory log: assigned every partition of the log on start."""

    def __init__(self, log: dict[TopicPartition, list[FakeRecord]]) -> None:
        self.log = log
        self.positions: dict[TopicPartition, int] = {}
        self.seeks: dict[TopicPartition, int] = {}
        self.committed: dict[TopicPartition, int] = {}
        self._listener: ConsumerRebalanceListener | None = None

    def subscribe(self, topics: Sequence[str], listener: ConsumerRebalanceListener) -> None:
        self._listener = listener

    async def start(self) -> None:
        assert self._listener is not None
        await self._listener.on_partitions_assigned(list(self.log))

    async def stop(self) -> None:
        pass

    async def getmany(
        self, timeout_ms: int, max_records: int
    ) -> dict[TopicPartition, list[FakeRecord]]:
        batches = {}
        for tp, position in self.positions.items():
            records = self.log[tp][position : position + max_records]
            if records:
                batches[tp] = records
                self.positions[tp] = records[-1].offset + 1
        if not batches:
            await asyncio.sleep(timeout_ms / 1000)
        return batches

    def seek(self, tp: TopicPartition, offset: int) -> None:
        self.positions[tp] = self.seeks[tp] = offset

    async def seek_to_beginning(self, tp: TopicPartition) -> None:
        self.seek(tp, 0)

    async def commit(self, offsets: Mapping[TopicPartition, int]) -> None:
        self.committed.update(offsets)


@dataclass
class FakeProducer:
    sent: list[tuple[str, bytes, bytes]] = field(default_factory=list)

    async def start(self) -> None:
        pass

    async def stop(self) -> None:
        pass

    async def send(
        self, topic: str, value: bytes, key: bytes, headers: list[tuple[str, bytes]]
    ) -> asyncio.Future[None]:
        self.sent.append((topic, key, value))
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        done.set_result(None)
        return done


class FakeRegistry:
    """A registry copy holding only access tokens (the test viewer's, unless told otherwise)."""

    def __init__(self, *changes: tuple[str, str, dict[str, Any]]) -> None:
        self.entities = {(k, i): d for k, i, d in (changes or (viewer_change(),))}

    def get(self, kind: str, entity_id: str) -> dict[str, Any] | None:
        return self.entities.get((kind, entity_id))

    async def start(self, timeout_s: float = 30) -> None:
        pass

    async def stop(self) -> None:
        pass

    def latest_contract(self, subject: str) -> None:
        return None  # the contracts folder decides

    def items(self, kind: str) -> list[dict[str, Any]]:
        return []

    def subscribe(self, callback: Any) -> None:
        pass


class FakeLag:
    latest: dict[tuple[str, int], Any] = {}  # noqa: RUF012 - read only

    async def start(self) -> None:
        pass

    async def stop(self) -> None:
        pass

    async def measure(self, topics: Sequence[str], positions: Mapping[Any, int]) -> None:
        pass


async def no_topics(settings: CollectorSettings, data_topics: Sequence[str]) -> None:
    pass


def settings_in(root: Path) -> CollectorSettings:
    (root / "kpis").mkdir(exist_ok=True)
    (root / "kpis" / "submitted.yaml").write_text(KPI, encoding="utf-8")
    return CollectorSettings(
        kpis_dir=root / "kpis", topics=[TOPIC], group_id="unit",
        store_path=root / "state.sqlite3", tick_interval_s=0.05, poll_timeout_ms=10,
    )  # fmt: skip


def dossier_log(count: int, redelivered: int) -> dict[TopicPartition, list[FakeRecord]]:
    """Return one partition holding `count` dossier events, then a redelivery of one of them."""
    events = [
        CloudEvent(id=f"ev-{n}", source="/sources/dvc", type="t.submitted",
                   data={**VALID, "dossier_id": f"H03-{n}"})
        for n in range(count)
    ]  # fmt: skip
    records = []
    for offset, event in enumerate([*events, events[redelivered]]):
        encoded = to_kafka(event, "H03", carrier={})
        records.append(FakeRecord(TOPIC, 0, offset, 1_727_000_000_000 + offset, encoded.key,
                                  encoded.value, list(encoded.headers)))  # fmt: skip
    return {TopicPartition(TOPIC, 0): records}


def app_on(
    settings: CollectorSettings,
    consumer: FakeConsumer,
    producer: FakeProducer,
    registry: FakeRegistry | None = None,
) -> FastAPI:
    return create_app(
        settings,
        provision_topics=no_topics,
        registry=cast(RegistryCopy, registry or FakeRegistry()),
        producer=cast(AIOKafkaProducer, producer),
        lag=cast(LagProbe, FakeLag()),
        consumer=cast(AIOKafkaConsumer, consumer),
    )


@asynccontextmanager
async def running(
    app: FastAPI, headers: Mapping[str, str] = VIEWER_HEADERS
) -> AsyncIterator[httpx.AsyncClient]:
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        base = "http://collector"
        async with httpx.AsyncClient(transport=transport, base_url=base, headers=headers) as http:
            yield http


async def tile_once(http: httpx.AsyncClient, value: int) -> dict[str, Any]:
    """Return the KPI's tile once its current value is `value`."""
    deadline = time.monotonic() + 10
    while (found := (await http.get("/v1/kpis")).json()["kpis"][0])["current"]["value"] != value:
        assert time.monotonic() < deadline, found
        await asyncio.sleep(0.02)
    return dict(found)


async def test_stream_records_reach_the_kpis_the_counts_and_the_snapshot_topic(
    tmp_path: Path,
) -> None:
    settings = settings_in(tmp_path)
    consumer, producer = FakeConsumer(dossier_log(3, redelivered=1)), FakeProducer()
    async with running(app_on(settings, consumer, producer)) as http:
        found = await tile_once(http, 3)
        counts = (await http.get("/v1/streams/counts")).json()
        deadline = time.monotonic() + 10
        while not any(json.loads(value)["value"] == 3 for _, _, value in producer.sent):
            assert time.monotonic() < deadline, producer.sent
            await asyncio.sleep(0.02)
    assert found["duplicate_events"] == 1
    assert counts["sources"] == [{"topic": TOPIC, "source": "/sources/dvc", "events": 4}]
    topic, key, _ = producer.sent[-1]
    assert (topic, key.decode().split("|")[0]) == (settings.kpi_topic, "submitted")


async def test_a_restart_resumes_at_the_position_stored_with_the_state(tmp_path: Path) -> None:
    settings = settings_in(tmp_path)
    log = dossier_log(3, redelivered=0)
    tp = TopicPartition(TOPIC, 0)
    first = FakeConsumer(log)
    async with running(app_on(settings, first, FakeProducer())) as http:
        await tile_once(http, 3)
    assert first.seeks == {tp: 0}  # no stored row yet: from the beginning
    assert first.committed == {tp: 4}  # Kafka's offsets too, for lag tooling

    second = FakeConsumer(log)
    async with running(app_on(settings, second, FakeProducer())) as http:
        found = await tile_once(http, 3)
        await asyncio.sleep(0.2)  # nothing is applied twice: the value stays
        again = (await http.get("/v1/kpis")).json()["kpis"][0]
    assert second.seeks == {tp: 4}
    assert (found["duplicate_events"], again["current"]["value"]) == (1, 3)


async def test_the_routes_answer_503_until_the_runtime_is_up(tmp_path: Path) -> None:
    app = app_on(settings_in(tmp_path), FakeConsumer({}), FakeProducer())
    transport = httpx.ASGITransport(app=app)  # no lifespan: bootstrap() has not run
    async with httpx.AsyncClient(transport=transport, base_url="http://collector") as http:
        answers = [await http.get(path) for path in ("/v1/kpis", "/v1/sources/health")]
    assert [answer.status_code for answer in answers] == [503, 503]
    assert answers[0].headers["content-type"].startswith("application/problem+json")
