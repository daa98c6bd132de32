"""The composition root without a broker: a SQLite file in tmp_path, a fake Kafka producer."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

import httpx
import orjson
import pytest
import sqlalchemy as sa
from aiokafka import AIOKafkaProducer
from prometheus_client import CollectorRegistry
from sqlalchemy.ext.asyncio import create_async_engine

from lgsp_common.kafka import KafkaProbe
from lgsp_common.settings import KafkaSettings
from lgsp_common.topics import TopicSpec
from lgsp_registry.adapters.tables import outbox
from lgsp_registry.bootstrap import Parts, bootstrap
from lgsp_registry.main import create_app
from lgsp_registry.metrics import RegistryMetrics
from lgsp_registry.settings import RegistrySettings

TOKEN = "unit-operator-token-0123456789"
REGISTRY_TOPIC = "unit.registry"


class FakeProducer:
    """Acknowledges every send at once and remembers it."""

    def __init__(self, events: list[str]) -> None:
        self.events = events
        self.sent: list[tuple[str, str, Any]] = []
        self._new = asyncio.Event()

    async def start(self) -> None:
        self.events.append("producer started")

    async def stop(self) -> None:
        self.events.append("producer stopped")

    async def send(
        self, topic: str, *, value: bytes | None, key: bytes, headers: Any
    ) -> asyncio.Future[None]:
        self.sent.append((topic, key.decode(), orjson.loads(value) if value else None))
        self._new.set()
        ack: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        ack.set_result(None)
        return ack

    async def wait_for(self, key: str, timeout_s: float = 5.0) -> None:
        """Wait until an event with this record key has been sent."""
        async with asyncio.timeout(timeout_s):
            while not any(sent_key == key for _, sent_key, _ in self.sent):
                self._new.clear()
                await self._new.wait()


class RecordingProbe(KafkaProbe):
    """A Kafka probe that says when it is closed."""

    def __init__(self, events: list[str]) -> None:
        super().__init__(KafkaSettings(bootstrap_servers="127.0.0.1:9"), "unit", 0.1)
        self.events = events

    async def close(self) -> None:
        self.events.append("probe closed")
        await super().close()


def settings_in(tmp_path: Path, **overrides: Any) -> RegistrySettings:
    """Return settings for a registry in tmp_path whose Kafka is never reached."""
    values: dict[str, Any] = {
        "data_dir": tmp_path,
        "operator_token": TOKEN,
        "kafka": KafkaSettings(bootstrap_servers="127.0.0.1:9"),
        "registry_topic": REGISTRY_TOPIC,
        "publish_interval_s": 60,  # only a commit's wake-up can make the publisher drain
    } | overrides
    return RegistrySettings(**values)


def fakes(events: list[str]) -> tuple[FakeProducer, Callable[[], AIOKafkaProducer], Any]:
    """Return a fake producer, a factory for it and a topic maker that records its topics."""
    producer = FakeProducer(events)

    async def make_topics(specs: list[TopicSpec]) -> None:
        events.append("topics " + ",".join(spec.name for spec in specs))

    return producer, lambda: cast(AIOKafkaProducer, producer), make_topics


async def test_opens_in_order_publishes_each_commit_and_closes_in_reverse(tmp_path: Path) -> None:
    events: list[str] = []
    producer, factory, make_topics = fakes(events)
    parts = Parts(RegistryMetrics.create(CollectorRegistry()), RecordingProbe(events))
    settings = settings_in(tmp_path)
    async with bootstrap(
        settings, parts, producer_factory=factory, make_topics=make_topics
    ) as runtime:
        assert runtime.ctx.operator_token == TOKEN
        engine = runtime.ctx.store.engine
        sa.event.listen(engine.sync_engine.pool, "close", lambda *_: events.append("db closed"))
        async with runtime.ctx.store.write() as tx:
            await tx.emit("organisation", "so-tai-chinh", 1, {"id": "so-tai-chinh"})
        await producer.wait_for("organisation:so-tai-chinh")
    topic, key, value = next(sent for sent in producer.sent if sent[0] == REGISTRY_TOPIC)
    assert (topic, key, value["op"], value["data"]) == (
        REGISTRY_TOPIC,
        "organisation:so-tai-chinh",
        "upsert",
        {"id": "so-tai-chinh"},
    )
    order = [event for i, event in enumerate(events) if i == 0 or events[i - 1] != event]
    assert order[:3] == [
        f"topics {REGISTRY_TOPIC}",
        "topics lgsp.audit,lgsp.audit.checkpoints",  # the registry's own audit trail
        "producer started",
    ]  # (the audit trail's final checkpoint may recycle a pooled connection on the way out)
    assert order[order.index("producer stopped") :] == [
        "producer stopped",
        "db closed",
        "probe closed",
    ]
    assert parts.metrics.changes.labels("organisation", "upsert")._value.get() == 1
    engine = create_async_engine(settings.sqlalchemy_url())
    async with engine.connect() as conn:  # acked events leave the outbox
        assert await conn.scalar(sa.select(sa.func.count()).select_from(outbox)) == 0
    await engine.dispose()


async def test_a_failed_start_closes_what_was_opened(tmp_path: Path) -> None:
    events: list[str] = []
    _, factory, make_topics = fakes(events)
    parts = Parts(RegistryMetrics.create(CollectorRegistry()), RecordingProbe(events))
    too_short = settings_in(tmp_path, operator_token="short")
    with pytest.raises(ValueError, match="at least 24 characters"):
        async with bootstrap(too_short, parts, producer_factory=factory, make_topics=make_topics):
            pytest.fail("bootstrap must not yield with an unusable operator token")
    assert events == ["probe closed"]  # the publisher was never started


async def test_the_app_takes_its_fakes_through_create_app(tmp_path: Path) -> None:
    events: list[str] = []
    producer, factory, make_topics = fakes(events)
    app = create_app(settings_in(tmp_path), producer_factory=factory, make_topics=make_topics)
    body = {"id": "so-y-te", "code": "000.00.18.H03", "name_vi": "Sở Y tế", "name_en": "Health"}
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://registry") as client:
            headers = {"Authorization": f"Bearer {TOKEN}"}
            created = await client.post("/v1/organisations", json=body, headers=headers)
            assert created.status_code == 201, created.text
            await producer.wait_for("organisation:so-y-te")
    assert events[-1] == "producer stopped"


async def test_routes_answer_503_until_bootstrap_has_run(tmp_path: Path) -> None:
    app = create_app(settings_in(tmp_path))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://registry") as client:
        answer = await client.get("/v1/organisations")
    assert answer.status_code == 503
    assert answer.json()["title"] == "Starting up"
