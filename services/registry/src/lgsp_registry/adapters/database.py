"""The database: engine, migrations at start, and transactions that record change events.

SQLite (a file under the data directory) by default, PostgreSQL by URL; the same code runs on
both. Every write runs in `Store.write()`: one transaction that first takes the write lock, then
changes rows and appends the matching change events to the outbox, so a change and its event
commit together or not at all.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from lgsp_registry.adapters.tables import outbox, write_lock

log = logging.getLogger(__name__)
MIGRATIONS = Path(__file__).parent / "migrations"
# Any constant works: it names the lock that keeps two instances from migrating at once.
_MIGRATION_LOCK = 0x4C475350


def utcnow() -> datetime:
    """Return the current time in UTC."""
    return datetime.now(UTC)


def redacted(url: str) -> str:
    """Return a database URL fit for a log line (no password)."""
    return make_url(url).render_as_string(hide_password=True)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def create_engine(url: str) -> AsyncEngine:
    """Build the async engine for a URL; SQLite files get WAL, foreign keys and a busy wait."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(url, connect_args={"timeout": 30})
        sa.event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    return create_async_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=5)


def _upgrade(connection: Connection) -> None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    command.upgrade(config, "head")


async def migrate(engine: AsyncEngine) -> None:
    """Bring the schema to the newest revision (several instances may start at once)."""
    async with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            await conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": _MIGRATION_LOCK})
        await conn.run_sync(_upgrade)


def event_value(kind: str, entity_id: str, op: str, version: int, data: Any, at: datetime) -> str:
    """Render one change event as `lgsp.registry` carries it."""
    event = {
        "kind": kind,
        "id": entity_id,
        "op": op,
        "version": version,
        "changed_at": at.isoformat(),
        "data": data,
    }
    return orjson.dumps(event).decode("utf-8")


@dataclass
class Tx:
    """One write transaction: its connection, its timestamp, and the events it recorded."""

    conn: AsyncConnection
    now: datetime
    changes: list[tuple[str, str]] = field(default_factory=list)

    async def emit(self, kind: str, entity_id: str, version: int, data: Any) -> None:
        """Record an upsert of an entity (its full new state) in the outbox."""
        await self._append(
            f"{kind}:{entity_id}", event_value(kind, entity_id, "upsert", version, data, self.now)
        )
        self.changes.append((kind, "upsert"))

    async def emit_delete(self, kind: str, entity_id: str, version: int) -> None:
        """Record a delete, then a tombstone so compaction forgets the entity."""
        key = f"{kind}:{entity_id}"
        await self._append(key, event_value(kind, entity_id, "delete", version, None, self.now))
        await self._append(key, None)
        self.changes.append((kind, "delete"))

    async def _append(self, key: str, payload: str | None) -> None:
        await self.conn.execute(
            outbox.insert().values(record_key=key, payload=payload, created_at=self.now)
        )


class Store:
    """Opens read connections and write transactions; tells listeners after each commit."""

    def __init__(self, engine: AsyncEngine, clock: Callable[[], datetime] = utcnow) -> None:
        self.engine = engine
        self._clock = clock
        self._listeners: list[Callable[[list[tuple[str, str]]], None]] = []

    def on_commit(self, listener: Callable[[list[tuple[str, str]]], None]) -> None:
        """Call `listener(changes)` after each committed write that recorded events."""
        self._listeners.append(listener)

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncConnection]:
        """Open a connection for reads."""
        async with self.engine.connect() as conn:
            yield conn

    @asynccontextmanager
    async def write(self) -> AsyncIterator[Tx]:
        """Run a write transaction; it commits when the block ends without an exception."""
        async with self.engine.begin() as conn:
            await conn.execute(
                write_lock.update()
                .where(write_lock.c.id == 1)
                .values(counter=write_lock.c.counter + 1)
            )
            tx = Tx(conn, self._clock())
            yield tx
        if tx.changes:
            for listener in self._listeners:
                listener(tx.changes)

    async def ping(self) -> tuple[bool, str]:
        """Answer whether the database responds, for /readyz."""
        try:
            async with asyncio.timeout(2.0), self.engine.connect() as conn:
                await conn.execute(sa.text("SELECT 1"))
        except Exception as exc:  # any failure means not ready; the type is enough to say why
            return False, f"database unreachable: {type(exc).__name__}"
        return True, self.engine.dialect.name
