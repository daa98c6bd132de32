"""Reads, and write transactions in which a change and its change event commit together.

Every write runs in `Store.write()`: one transaction that first takes the write lock (writes are
serialised), then changes rows and appends the matching change events to the outbox table, so a
change and its event commit together or not at all. `outbox_publisher` later moves the events
to Kafka.

Each change is also audited (issue 13): the entity events a transaction records become audit
records (`registry.<kind>.<create|update|delete>`, or the action a use case names with
`Tx.audit`), with the caller that `acting_as` set; the store's auditor appends them, signed and
chained, to `audit_outbox` in the same transaction just before it commits.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from lgsp_registry.adapters.tables import audit_outbox, outbox, write_lock

Actor = dict[str, str]
SYSTEM: Actor = {"kind": "service", "id": "lgsp-registry"}
_ACTOR: ContextVar[Actor | None] = ContextVar("registry_actor", default=None)
_STATUS = {"create": 201, "delete": 204}


def set_actor(actor: Actor) -> None:
    """Name who makes the current request's changes (called once the caller is known)."""
    _ACTOR.set(actor)


@contextmanager
def acting_as(actor: Actor) -> Iterator[None]:
    """Name who makes the changes inside the block (tests, scripts)."""
    token = _ACTOR.set(actor)
    try:
        yield
    finally:
        _ACTOR.reset(token)


@dataclass(frozen=True)
class AuditNote:
    """One change to audit: what was done, to which entity (its `lgsp.registry` key), by whom."""

    action: str
    entity: str
    actor: Actor
    status_code: int
    topic: str | None = None

    def fields(self) -> dict[str, Any]:
        """Return the audit record's fields (no payload, no secret)."""
        return {
            "action": self.action,
            "actor": self.actor,
            "result": "success",
            "status_code": self.status_code,
            "event_ids": [self.entity],
            "topic": self.topic,
        }


Auditor = Callable[["Tx", list[AuditNote]], Awaitable[None]]


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
    notes: list[AuditNote] = field(default_factory=list)
    audited: bool = False

    def audit(self, action: str, kind: str, entity_id: str, topic: str | None = None) -> None:
        """Audit this change under a named action (e.g. registry.source.restore)."""
        entity = f"{kind}:{entity_id}"
        self.notes = [n for n in self.notes if n.entity != entity]
        actor = _ACTOR.get() or SYSTEM
        status = _STATUS.get(action.rpartition(".")[2], 200)
        self.notes.append(AuditNote(action, entity, actor, status, topic))

    def _note(self, kind: str, entity_id: str, op: str, data: Any) -> None:
        entity = f"{kind}:{entity_id}"
        if any(n.entity == entity for n in self.notes):
            return  # the use case named the action, or an earlier event of it was noted
        topic = data.get("topic") if isinstance(data, dict) else None
        self.audit(f"registry.{kind}.{op}", kind, entity_id, topic if topic else None)

    async def append_audit(self, topic: str, key: bytes | None, value: bytes | None) -> None:
        """Append one signed audit record (or checkpoint) to the audit outbox."""
        self.audited = True
        await self.conn.execute(
            audit_outbox.insert().values(
                topic=topic,
                record_key=(key or b"").decode("utf-8"),
                payload=(value or b"").decode("utf-8"),
                created_at=self.now,
            )
        )

    async def emit(self, kind: str, entity_id: str, version: int, data: Any) -> None:
        """Record an upsert of an entity (its full new state) in the outbox."""
        await self._append(
            f"{kind}:{entity_id}", event_value(kind, entity_id, "upsert", version, data, self.now)
        )
        self.changes.append((kind, "upsert"))
        self._note(kind, entity_id, "create" if version == 1 else "update", data)

    async def emit_delete(self, kind: str, entity_id: str, version: int) -> None:
        """Record a delete, then a tombstone so compaction forgets the entity."""
        key = f"{kind}:{entity_id}"
        await self._append(key, event_value(kind, entity_id, "delete", version, None, self.now))
        await self._append(key, None)
        self.changes.append((kind, "delete"))
        self._note(kind, entity_id, "delete", None)

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
        self._auditor: Auditor | None = None

    def audit_with(self, auditor: Auditor) -> None:
        """Have `auditor(tx, notes)` write each transaction's audit records before it commits."""
        self._auditor = auditor

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
            if tx.notes and self._auditor is not None:
                await self._auditor(tx, tx.notes)
        if tx.changes or tx.audited:
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
