"""Pytest plugin: one real Kafka per test session, unique topics per test, apps over real HTTP.

Loaded by the repository's root `conftest.py`. With KAFKA_BOOTSTRAP_SERVERS set, the tests use
that cluster and start nothing; then they own only what they create (`topic_guard`): their
topics carry a per-run prefix, are deleted at the end of the session, and no other topic is ever
deleted or emptied.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path

import pytest
import uvicorn
from fastapi import FastAPI

from lgsp_common.audit import checkpoint_topic_for
from lgsp_common.settings import KafkaSettings
from lgsp_common.topics import TopicSpec
from lgsp_devkit.kafka_local import LocalKafka, free_port
from lgsp_devkit.topic_guard import TopicJanitor, mark_started

TopicFactory = Callable[..., Awaitable[str]]


@pytest.fixture(scope="session")
def kafka_bootstrap(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Return the bootstrap servers of the session's broker, starting one if needed."""
    existing = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    if existing:
        yield existing
        return
    cluster = LocalKafka(tmp_path_factory.mktemp("kafka"))
    bootstrap = cluster.start()
    mark_started(bootstrap)  # every topic on it is the run's own
    try:
        yield bootstrap
    finally:
        cluster.stop()


@pytest.fixture
def kafka_settings(kafka_bootstrap: str) -> KafkaSettings:
    """Return settings pointing at the session's broker."""
    return KafkaSettings(bootstrap_servers=kafka_bootstrap)


@pytest.fixture(scope="session")
def topic_janitor(kafka_bootstrap: str) -> Iterator[TopicJanitor]:
    """Record the session's topics; on a cluster it did not start, delete them at the end."""
    janitor = TopicJanitor.for_cluster(KafkaSettings(bootstrap_servers=kafka_bootstrap))
    yield janitor
    asyncio.run(janitor.cleanup())


@pytest.fixture
def topic_factory(
    kafka_settings: KafkaSettings, topic_janitor: TopicJanitor, request: pytest.FixtureRequest
) -> TopicFactory:
    """Create topics unique to the calling test, so tests never see each other's records."""
    slug = re.sub(r"[^a-z0-9]+", "-", request.node.name.lower()).strip("-")[:40]

    async def create(prefix: str = "t", partitions: int = 3, **config: str) -> str:
        name = topic_janitor.name(f"{prefix}.{slug}-{uuid.uuid4().hex[:8]}")
        specs = [TopicSpec(name, partitions, config=config)]
        if prefix == "audit":  # an audit topic's trails checkpoint beside it
            compact = {"cleanup.policy": "compact"}
            specs.append(TopicSpec(checkpoint_topic_for(name), 1, config=compact))
        await topic_janitor.create(specs)
        return name

    return create


@contextlib.asynccontextmanager
async def serve(app: FastAPI, port: int | None = None) -> AsyncIterator[str]:
    """Serve an app over real HTTP on loopback for the block; yields its base URL."""
    port = port or free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
            raise RuntimeError("server stopped during start-up")
        await asyncio.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


def repo_path(*parts: str) -> Path:
    """Return a path inside the repository."""
    return Path(__file__).resolve().parents[4].joinpath(*parts)


def new_api_key() -> tuple[str, str]:
    """Return (key id, full key) in the registry's key format."""
    import secrets  # noqa: PLC0415

    prefix = secrets.token_hex(4)
    return f"k_{prefix}", f"lgsp_{prefix}_{secrets.token_urlsafe(32)}"


async def publish_registry_changes(
    kafka: KafkaSettings, topic: str, changes: list[tuple[str, str, dict[str, object] | None]]
) -> None:
    """Write (kind, id, data) changes onto a registry topic as the registry would (tests only)."""
    import json  # noqa: PLC0415
    from datetime import UTC, datetime  # noqa: PLC0415

    from aiokafka import AIOKafkaProducer  # noqa: PLC0415

    producer = AIOKafkaProducer(bootstrap_servers=kafka.bootstrap_servers, acks="all")
    await producer.start()
    try:
        for kind, entity_id, data in changes:
            _versions[(topic, kind, entity_id)] = _versions.get((topic, kind, entity_id), 0) + 1
            event = {
                "kind": kind,
                "id": entity_id,
                "op": "upsert" if data is not None else "delete",
                "version": _versions[(topic, kind, entity_id)],
                "changed_at": datetime.now(UTC).isoformat(),
                "data": data,
            }
            await producer.send_and_wait(
                topic, json.dumps(event).encode(), key=f"{kind}:{entity_id}".encode()
            )
    finally:
        await producer.stop()


_versions: dict[tuple[str, str, str], int] = {}


async def register_source(
    kafka: KafkaSettings,
    registry_topic: str,
    source_id: str,
    topic: str,
    schema: dict[str, object],
    version: int = 1,
) -> str:
    """Put a source, its topic's contract and a new API key on a registry topic; return the key."""
    from lgsp_common.api_keys import hash_api_key  # noqa: PLC0415

    key_id, key = new_api_key()
    contract_id = f"c-{topic}-v{version}"
    await publish_registry_changes(
        kafka,
        registry_topic,
        [
            ("source", source_id, {"id": source_id, "topic": topic, "status": "active"}),
            (
                "contract",
                contract_id,
                {"id": contract_id, "subject": topic, "version": version, "schema": schema},
            ),
            (
                "api_key",
                key_id,
                {"id": key_id, "source_id": source_id, "key_hash": hash_api_key(key)},
            ),
        ],
    )
    return key
