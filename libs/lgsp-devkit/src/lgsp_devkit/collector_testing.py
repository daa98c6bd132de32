"""Pytest fixtures for the collector's store tests: the state store database to run against.

Import the fixtures into a test module (`from lgsp_devkit.collector_testing import ...`). Tests
that take `collector_store_url` run twice: on a SQLite file, and (marked `postgres`) on a fresh
database of the session's throwaway PostgreSQL server (`registry_testing.postgres_server`).
"""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from lgsp_devkit.postgres_local import LocalPostgres
from lgsp_devkit.registry_testing import postgres_server

__all__ = ["collector_store_url", "postgres_server"]


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def collector_store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Return a fresh state store URL: a SQLite file, then a PostgreSQL database."""
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'collector.sqlite3'}"
    server: LocalPostgres = request.getfixturevalue("postgres_server")
    return server.create_database(f"collector_{uuid.uuid4().hex[:12]}")
