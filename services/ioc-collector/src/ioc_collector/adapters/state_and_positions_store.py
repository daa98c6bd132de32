"""Each partition's KPI state and its position, committed together in one transaction.

Per (consumer group, topic, partition) the store holds a head row (the position, i.e. the next
offset to read, the revision, the state without its windows and dedup ids, and the source
activity), one row per window (its cells), and the dedup ids in chunks
(`domain/state_rows.py`). A commit writes each changed partition's head and only its windows
and id chunks that changed (`domain/stored_parts.py`), in ONE transaction with the positions,
so the state and the positions it came from can never disagree: after a crash the collector
resumes from the stored position with the stored state, whatever Kafka's committed offsets say.

Every head update is a compare-and-set on the revision the writer loaded: a replica that lost a
partition in a rebalance but has not noticed yet (a "zombie") cannot overwrite the newer state
of the partition's new owner; its transaction fails as a whole (`StoreConflict`, counted by the
loop) and it reloads. On PostgreSQL the head row's lock orders two writers of a partition: the
second one's update finds the revision moved on and writes nothing.

SQLite (embedded default, one machine: replicas may share the file, WAL) or PostgreSQL
(replicas on several machines), by URL (`store_database.py`). SQLite over a network file
system is unsafe.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from ioc_collector.adapters.store_database import (
    create_engine,
    heads,
    id_chunks,
    migrate,
    sqlite_url,
    windows,
)
from ioc_collector.domain.stored_parts import StateChanges

TopicPartitionKey = tuple[str, int]


class StoreConflict(Exception):
    """Another replica moved these partitions on since they were loaded; nothing was written."""

    def __init__(self, partitions: Sequence[TopicPartitionKey]) -> None:
        super().__init__(f"partitions moved on elsewhere: {sorted(partitions)}")
        self.partitions = list(partitions)


@dataclass(frozen=True, slots=True)
class PartitionRow:
    """One partition's committed rows: the head, its windows and (if read) its id chunks."""

    topic: str
    partition: int
    position: int
    revision: int
    aggregation: bytes
    activity: bytes
    committed_at: str
    windows: dict[str, bytes] = field(default_factory=dict)
    chunks: dict[str, list[tuple[int, bytes]]] | None = None


@dataclass(frozen=True, slots=True)
class PartitionWrite:
    """A new state for one partition, and the revision it was loaded at (None: no row yet).

    `aggregation` is the head; `changes` the window and id rows to write with it (None: none).
    """

    topic: str
    partition: int
    position: int
    aggregation: bytes
    activity: bytes
    expected_revision: int | None
    changes: StateChanges | None = None

    @property
    def revision(self) -> int:
        """Return the revision the row has once this write is committed."""
        return (self.expected_revision or 0) + 1


class StateStore:
    """Partition-scoped state in SQLite or PostgreSQL, with atomic batch commits."""

    def __init__(self, url: str | Path, group_id: str, writer: str) -> None:
        self._url = sqlite_url(url) if isinstance(url, Path) else url
        self._group = group_id
        self._writer = writer
        self._engine: AsyncEngine | None = None

    @property
    def engine(self) -> AsyncEngine:
        """Return the engine (`open` first)."""
        if self._engine is None:
            raise RuntimeError("the state store is not open")
        return self._engine

    async def open(self) -> None:
        """Connect and bring the schema up to date."""
        if self._engine is None:
            engine = create_engine(self._url)
            await migrate(engine)
            self._engine = engine

    async def close(self) -> None:
        """Close every connection."""
        if self._engine is not None:
            await self._engine.dispose()
            self._engine = None

    def _of(self, table: sa.Table, key: TopicPartitionKey) -> sa.ColumnElement[bool]:
        return sa.and_(
            table.c.group_id == self._group,
            table.c.topic == key[0],
            table.c.partition == key[1],
        )

    async def load(
        self, partitions: Sequence[TopicPartitionKey], *, ids: bool = True
    ) -> dict[TopicPartitionKey, PartitionRow]:
        """Return the committed rows of the given partitions (absent ones are left out);
        `ids=False` leaves the dedup ids out (a read-only view needs only the cells)."""
        found: dict[TopicPartitionKey, PartitionRow] = {}
        async with self.engine.connect() as conn:
            for key in dict.fromkeys(partitions):
                row = await self._load_one(conn, key, ids)
                if row is not None:
                    found[key] = row
        return found

    async def load_all(self, *, ids: bool = True) -> dict[TopicPartitionKey, PartitionRow]:
        """Return every committed partition of the group."""
        return await self.load(list(await self.revisions()), ids=ids)

    async def _load_one(
        self, conn: AsyncConnection, key: TopicPartitionKey, ids: bool
    ) -> PartitionRow | None:
        columns = [heads.c[n] for n in ("position", "revision", "aggregation", "activity")]
        head = (
            await conn.execute(
                sa.select(*columns, heads.c.committed_at).where(self._of(heads, key))
            )
        ).first()
        if head is None:
            return None
        cells = await conn.execute(
            sa.select(windows.c.path, windows.c.cells).where(self._of(windows, key))
        )
        chunks: dict[str, list[tuple[int, bytes]]] | None = None
        if ids:
            chunks = {}
            result = await conn.execute(
                sa.select(id_chunks.c.path, id_chunks.c.chunk, id_chunks.c.ids).where(
                    self._of(id_chunks, key)
                )
            )
            for path, chunk, blob in result:
                chunks.setdefault(path, []).append((chunk, bytes(blob)))
        return PartitionRow(
            key[0], key[1], head.position, head.revision, _bytes(head.aggregation),
            _bytes(head.activity), head.committed_at,
            {path: bytes(blob) for path, blob in cells}, chunks,
        )  # fmt: skip

    async def revisions(self) -> dict[TopicPartitionKey, tuple[int, int]]:
        """Return (revision, position) per partition: cheap change detection."""
        query = sa.select(heads.c.topic, heads.c.partition, heads.c.revision, heads.c.position)
        async with self.engine.connect() as conn:
            rows = await conn.execute(query.where(heads.c.group_id == self._group))
            return {(t, p): (rev, pos) for t, p, rev, pos in rows}

    async def commit(self, writes: Sequence[PartitionWrite]) -> None:
        """Commit every write, or none of them (StoreConflict names the partitions refused)."""
        if not writes:
            return
        now = datetime.now(UTC).isoformat()
        conflicts: list[TopicPartitionKey] = []
        async with self.engine.begin() as conn:
            for write in writes:
                if not await self._write_head(conn, write, now):
                    conflicts.append((write.topic, write.partition))
                elif write.changes is not None:
                    await self._write_parts(conn, (write.topic, write.partition), write.changes)
            if conflicts:
                raise StoreConflict(conflicts)  # leaving the block rolls everything back

    async def _write_head(self, conn: AsyncConnection, write: PartitionWrite, now: str) -> bool:
        values = {
            "position": write.position, "revision": write.revision,
            "aggregation": write.aggregation, "activity": write.activity,
            "committed_at": now, "committed_by": self._writer,
        }  # fmt: skip
        key = (write.topic, write.partition)
        if write.expected_revision is None:
            insert = _insert(conn, heads).values(
                group_id=self._group, topic=write.topic, partition=write.partition, **values
            )
            result = await conn.execute(insert.on_conflict_do_nothing())
        else:
            update = heads.update().where(
                self._of(heads, key), heads.c.revision == write.expected_revision
            )
            result = await conn.execute(update.values(**values))
        return result.rowcount == 1

    async def _write_parts(
        self, conn: AsyncConnection, key: TopicPartitionKey, changes: StateChanges
    ) -> None:
        if changes.replace:
            await conn.execute(windows.delete().where(self._of(windows, key)))
            await conn.execute(id_chunks.delete().where(self._of(id_chunks, key)))
        if changes.dropped_windows:
            paths = windows.c.path.in_(changes.dropped_windows)
            await conn.execute(windows.delete().where(self._of(windows, key), paths))
        if changes.dropped_id_sets:
            paths = id_chunks.c.path.in_(changes.dropped_id_sets)
            await conn.execute(id_chunks.delete().where(self._of(id_chunks, key), paths))
        if changes.dropped_chunks:
            drop = id_chunks.delete().where(
                self._of(id_chunks, key),
                id_chunks.c.path == sa.bindparam("b_path"),
                id_chunks.c.chunk == sa.bindparam("b_chunk"),
            )
            rows = [{"b_path": p, "b_chunk": c} for p, c in changes.dropped_chunks]
            await conn.execute(drop, rows)
        owner = {"group_id": self._group, "topic": key[0], "partition": key[1]}
        if changes.windows:
            rows = [{**owner, "path": p, "cells": blob} for p, blob in changes.windows]
            await _upsert(conn, windows, rows, "cells")
        if changes.chunks:
            rows = [{**owner, "path": p, "chunk": c, "ids": blob} for p, c, blob in changes.chunks]
            await _upsert(conn, id_chunks, rows, "ids")


def _bytes(value: bytes | str) -> bytes:
    # A SQLite column holds what was written: text from a hand-made or older row, bytes else.
    return value.encode() if isinstance(value, str) else bytes(value)


def _insert(conn: AsyncConnection, table: sa.Table) -> Any:
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    return dialect.insert(table)


async def _upsert(
    conn: AsyncConnection, table: sa.Table, rows: list[dict[str, Any]], column: str
) -> None:
    insert = _insert(conn, table)
    keys = [c.name for c in table.primary_key.columns]
    statement = insert.on_conflict_do_update(
        index_elements=keys, set_={column: getattr(insert.excluded, column)}
    )
    await conn.execute(statement, rows)
