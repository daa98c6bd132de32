"""Pytest fixtures for the registry's tests: the database to run against, and its change log.

Import the fixtures into a test module (`from lgsp_devkit.registry_testing import ...`). Tests that
take `registry_database_url` run twice: on a SQLite file, and (marked `postgres`) on a fresh
database of a throwaway PostgreSQL server started once per session from Debian's binaries. When
those binaries are missing, the PostgreSQL runs fail with a message saying how to install them.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition

from lgsp_common.settings import KafkaSettings
from lgsp_devkit.postgres_local import LocalPostgres
from lgsp_devkit.testing import TopicFactory

OPERATOR_TOKEN = "test-operator-token-0123456789abcdef"  # noqa: S105 - a test fixture's token


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[LocalPostgres]:
    """Start one PostgreSQL server for the session."""
    server = LocalPostgres()
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def registry_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Return a fresh registry database URL: a SQLite file, then a PostgreSQL database."""
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'registry.sqlite3'}"
    server: LocalPostgres = request.getfixturevalue("postgres_server")
    return server.create_database(f"registry_{uuid.uuid4().hex[:12]}")


async def registry_topic(topic_factory: TopicFactory) -> str:
    """Create a registry change-log topic of the test's own (one partition, compacted)."""
    return await topic_factory("lgsp.registry", 1, **{"cleanup.policy": "compact"})


async def read_changes(
    kafka: KafkaSettings, topic: str, count: int, timeout_s: float = 30.0
) -> list[tuple[str, Any]]:
    """Read the first `count` records of a registry topic as (key, decoded value or None)."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=kafka.bootstrap_servers, group_id=None, isolation_level="read_committed"
    )
    await consumer.start()
    try:
        partition = TopicPartition(topic, 0)
        consumer.assign([partition])
        await consumer.seek_to_beginning(partition)
        found: list[tuple[str, Any]] = []
        deadline = asyncio.get_running_loop().time() + timeout_s
        while len(found) < count and asyncio.get_running_loop().time() < deadline:
            batches = await consumer.getmany(timeout_ms=500)
            for record in batches.get(partition, []):
                value = orjson.loads(record.value) if record.value is not None else None
                found.append((record.key.decode(), value))
        return found
    finally:
        await consumer.stop()
