"""Fakes for the gateway's unit tests, injected through the composition root (`bootstrap`).

`FakeProducer` records every record sent and acknowledges it (or fails, per topic);
`MemoryRegistry` is a real `RegistryCopy` fed in memory; the population adapter is an
`httpx.MockTransport`. The app is driven through `httpx.ASGITransport`, so the fast lane (the
default single-event path) answers exactly as under uvicorn.
"""

from __future__ import annotations

import asyncio
import secrets
from dataclasses import dataclass, field
from typing import Any

import httpx
import orjson
from aiokafka.errors import KafkaTimeoutError
from fastapi import FastAPI

from lgsp_common.api_keys import hash_api_key
from lgsp_common.audit import calls_of
from lgsp_common.registry_copy import RegistryCopy
from lgsp_common.settings import KafkaSettings
from lgsp_gateway.main import create_app
from lgsp_gateway.settings import GatewaySettings

TOPIC = "tthc.dossier.v1"
OTHER_TOPIC = "finance.budget.v1"
BARE_TOPIC = "health.visits.v1"  # a source owns it, but no contract is registered
SCHEMA_V1 = "urn:test:tthc.dossier:v1"
SCHEMA_V2 = "urn:test:tthc.dossier:v2"
DLQ, AUDIT = "lgsp.dlq", "lgsp.audit"
POPULATION = "population.citizen.v1"
AUDIT_KEY = b"unit-audit-key"
VALID = {"dossier_id": "000.00.01.H03-241001-0001", "status": "received"}


def dossier_schema(version: int) -> dict[str, Any]:
    """Return the test contract: v2 adds an optional `received_on` date (format-checked)."""
    properties: dict[str, Any] = {
        "dossier_id": {"type": "string", "minLength": 5},
        "status": {"enum": ["received", "processing", "done"]},
    }
    if version >= 2:
        properties["received_on"] = {"type": "string", "format": "date"}
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_V1 if version == 1 else SCHEMA_V2,
        "type": "object",
        "required": ["dossier_id", "status"],
        "properties": properties,
        "additionalProperties": False,
        "x-lgsp": {"entityKey": "dossier_id"},
    }


def new_key() -> tuple[str, str]:
    """Return (key id, full key) in the registry's key format."""
    prefix = secrets.token_hex(4)
    return f"k_{prefix}", f"lgsp_{prefix}_{secrets.token_urlsafe(24)}"


@dataclass
class Sent:
    """One record handed to the fake producer."""

    topic: str
    value: bytes | None
    key: bytes | None
    headers: list[tuple[str, bytes]]

    def json(self) -> Any:
        """Return the value as JSON."""
        return orjson.loads(self.value or b"null")

    def header(self, name: str) -> str | None:
        """Return one header as text."""
        return next((v.decode() for k, v in self.headers if k == name), None)


@dataclass
class Metadata:
    """What aiokafka's ack carries."""

    topic: str
    partition: int
    offset: int


class FakeProducer:
    """Records sends and acks them at once; topics in `failing` get KafkaTimeoutError."""

    def __init__(self, log: list[str]) -> None:
        self.log = log
        self.sent: list[Sent] = []
        self.failing: set[str] = set()
        self.ack_delay_s: dict[str, float] = {}
        self._offsets: dict[str, int] = {}

    async def start(self) -> None:
        self.log.append("producer.start")

    async def stop(self) -> None:
        self.log.append("producer.stop")

    async def send(
        self,
        topic: str,
        value: bytes | None = None,
        key: bytes | None = None,
        partition: int | None = None,
        timestamp_ms: int | None = None,
        headers: list[tuple[str, bytes]] | None = None,
    ) -> asyncio.Future[Metadata]:
        self.sent.append(Sent(topic, value, key, list(headers or [])))
        future: asyncio.Future[Metadata] = asyncio.get_running_loop().create_future()
        if topic in self.failing:
            future.set_exception(KafkaTimeoutError())
            return future
        offset = self._offsets[topic] = self._offsets.get(topic, -1) + 1
        ack = Metadata(topic, 0, offset)
        delay = self.ack_delay_s.get(topic)
        if delay is None:
            future.set_result(ack)
        else:
            asyncio.get_running_loop().call_later(delay, self._ack_later, future, ack)
        return future

    def _ack_later(self, future: asyncio.Future[Metadata], ack: Metadata) -> None:
        self.log.append(f"ack:{ack.topic}")
        future.set_result(ack)

    def on(self, topic: str) -> list[Sent]:
        """Return the records sent to a topic."""
        return [s for s in self.sent if s.topic == topic]


class MemoryRegistry(RegistryCopy):
    """A real registry copy, fed with `put` instead of from Kafka."""

    def __init__(self, log: list[str]) -> None:
        super().__init__(KafkaSettings(bootstrap_servers="127.0.0.1:9"), client_id="unit")
        self.log = log
        self.started = False
        self._version = 0

    @property
    def caught_up(self) -> bool:
        return self.started

    async def start(self, timeout_s: float = 30) -> None:
        self.log.append("registry.start")
        self.started = True

    async def stop(self) -> None:
        self.log.append("registry.stop")

    def put(self, kind: str, entity_id: str, data: dict[str, Any] | None) -> None:
        """Apply one change as the registry would publish it (None deletes)."""
        self._version += 1
        change = {"kind": kind, "id": entity_id, "op": "upsert" if data else "delete"}
        change |= {"version": self._version, "data": data}
        self.apply(f"{kind}:{entity_id}".encode(), orjson.dumps(change))

    def add_key(self, owner_field: str, owner: str, **extra: Any) -> str:
        """Register a new API key for a source or consumer; return the full key."""
        key_id, key = new_key()
        record = {"id": key_id, owner_field: owner, "key_hash": hash_api_key(key), **extra}
        self.put("api_key", key_id, record)
        return key

    def add_contract(self, topic: str, version: int) -> None:
        """Register one version of the test contract."""
        entry = {"id": f"c-{topic}-{version}", "subject": topic, "version": version}
        self.put("contract", entry["id"], entry | {"schema": dossier_schema(version)})


class PopulationAdapter:
    """The population adapter as a mock transport: records calls, answers `status`."""

    def __init__(self, log: list[str]) -> None:
        self.log = log
        self.requests: list[httpx.Request] = []
        self.status = 200
        self.body: dict[str, Any] = {"result": "match"}
        self.unreachable = False

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if self.unreachable:
            raise httpx.ConnectError("refused", request=request)
        return httpx.Response(self.status, json=self.body)

    def client(self) -> httpx.AsyncClient:
        """Return a client that logs its closing."""
        log = self.log

        class Client(httpx.AsyncClient):
            async def aclose(self) -> None:
                log.append("client.aclose")
                await super().aclose()

        return Client(transport=httpx.MockTransport(self.handle), base_url="http://adapter")


@dataclass
class Keys:
    """The API keys the test registry holds."""

    source: str
    other_source: str
    bare_source: str
    revoked: str
    expired: str
    suspended: str
    consumer: str
    pending_consumer: str


@dataclass
class Gateway:
    """A started gateway app with its fakes and an HTTP client."""

    app: FastAPI
    http: httpx.AsyncClient
    producer: FakeProducer
    registry: MemoryRegistry
    adapter: PopulationAdapter
    keys: Keys
    log: list[str] = field(default_factory=list)

    async def publish(
        self, body: Any = None, *, key: str | None = None, topic: str = TOPIC, **headers: str
    ) -> httpx.Response:
        """POST one binary-mode event (JSON payload, ce-* headers) with the source's key."""
        content = body if isinstance(body, bytes) else orjson.dumps(VALID if body is None else body)
        return await self.http.post(
            f"/v1/topics/{topic}/events",
            content=content,
            headers=event_headers(self.keys.source if key is None else key) | headers,
        )

    async def batch(
        self, events: Any, *, key: str | None = None, media: str | None = None
    ) -> httpx.Response:
        """POST a batch of structured events."""
        content = events if isinstance(events, bytes) else orjson.dumps(events)
        return await self.http.post(
            f"/v1/topics/{TOPIC}/batches",
            content=content,
            headers={
                "content-type": media or "application/cloudevents-batch+json",
                "x-api-key": self.keys.source if key is None else key,
            },
        )

    async def audit(self, count: int) -> list[dict[str, Any]]:
        """Wait for `count` audited calls (written in the background) and return them, each
        call of a group record on its own (`calls_of`)."""
        for _ in range(200):
            records = [call for s in self.producer.on(AUDIT) for call in calls_of(s.json())]
            if len(records) >= count:
                return records
            await asyncio.sleep(0.005)
        raise AssertionError(f"{len(self.producer.on(AUDIT))} audit record(s), wanted {count}")

    def dead_letters(self) -> list[dict[str, Any]]:
        """Return the DLQ records sent so far."""
        return [s.json() for s in self.producer.on(DLQ)]

    async def metrics(self) -> str:
        """Return the Prometheus exposition."""
        return (await self.http.get("/metrics")).text


def event_headers(key: str | None, **extra: str) -> dict[str, str]:
    """Return binary-mode CloudEvents headers carrying an API key."""
    result = {
        "content-type": "application/json",
        "ce-specversion": "1.0",
        "ce-id": secrets.token_hex(8),
        "ce-type": "vn.gov.lgsp.tthc.dossier.submitted",
    }
    if key:
        result["authorization"] = f"Bearer {key}"
    return result | extra


def seed(registry: MemoryRegistry) -> Keys:
    """Register three sources, two contract versions and every kind of key."""
    for source, topic, status in (
        ("dvc-portal", TOPIC, "active"),
        ("finance", OTHER_TOPIC, "active"),
        ("clinic", BARE_TOPIC, "active"),
        ("old-portal", TOPIC, "suspended"),
    ):
        registry.put("source", source, {"id": source, "topic": topic, "status": status})
    registry.add_contract(TOPIC, 1)
    registry.add_contract(TOPIC, 2)
    registry.add_contract(OTHER_TOPIC, 1)
    for consumer, status in (("syt", "approved"), ("tax", "pending")):
        data = {"id": consumer, "topic": POPULATION, "purpose": "health_insurance_check"}
        registry.put("consumer", consumer, data | {"status": status})
    return Keys(
        source=registry.add_key("source_id", "dvc-portal"),
        other_source=registry.add_key("source_id", "finance"),
        bare_source=registry.add_key("source_id", "clinic"),
        revoked=registry.add_key("source_id", "dvc-portal", revoked_at="2024-10-02T00:00:00Z"),
        expired=registry.add_key("source_id", "dvc-portal", expires_at="2020-01-01T00:00:00Z"),
        suspended=registry.add_key("source_id", "old-portal"),
        consumer=registry.add_key("consumer_id", "syt"),
        pending_consumer=registry.add_key("consumer_id", "tax"),
    )


def unit_settings(**overrides: Any) -> GatewaySettings:
    """Return settings for an in-process gateway; Kafka points at a closed port."""
    values: dict[str, Any] = {
        "kafka": KafkaSettings(bootstrap_servers="127.0.0.1:9"),
        "max_body_bytes": 4096,
        "max_batch_events": 4,
        "rate_limit_per_source": 1000.0,
        "rate_limit_burst": 1000.0,
        "produce_timeout_s": 0.5,
        "retry_after_s": 7,
        "readiness_timeout_s": 0.2,
        "audit_key_id": "unit",
        "audit_key": AUDIT_KEY.decode(),
        "instance_id": "unit-1",
        "population_adapter_token": "unit-gateway-token",
        "replica_membership": False,  # no broker: REPLICAS holds (membership has its own tests)
    }
    return GatewaySettings(**(values | overrides))


class started:  # noqa: N801 - used like a function: `async with started(settings) as gw`
    """Build and start a gateway app with fakes; stop it on exit."""

    def __init__(self, settings: GatewaySettings) -> None:
        self.log: list[str] = []
        self.producer = FakeProducer(self.log)
        self.registry = MemoryRegistry(self.log)
        self.adapter = PopulationAdapter(self.log)
        self.keys = seed(self.registry)

        async def create_topics() -> None:
            self.log.append("topics")

        self.app = create_app(
            settings,
            producer=self.producer,
            registry=self.registry,
            population_client=self.adapter.client(),
            create_topics=create_topics,
        )
        self._lifespan = self.app.router.lifespan_context(self.app)
        self._http: httpx.AsyncClient | None = None

    async def __aenter__(self) -> Gateway:
        await self._lifespan.__aenter__()
        transport = httpx.ASGITransport(app=self.app)
        self._http = httpx.AsyncClient(transport=transport, base_url="http://gateway")
        return Gateway(
            self.app, self._http, self.producer, self.registry, self.adapter, self.keys, self.log
        )

    async def __aexit__(self, *exc: object) -> None:
        assert self._http is not None
        await self._http.aclose()
        await self._lifespan.__aexit__(None, None, None)
