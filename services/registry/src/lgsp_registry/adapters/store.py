"""Reads, and write transactions in which a change and its change event commit together.

Every write runs in `Store.write()`: one transaction that first takes the write lock (writes are
serialised), then changes rows and appends the matching change events to the outbox table, so a
change and its event commit together or not at all. `outbox_publisher` later moves the events
to Kafka.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from lgsp_registry.adapters.tables import outbox, write_lock


def utcnow() -> datetime:
    """Return the current time in UTC."""
    return datetime.now(UTC)


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
