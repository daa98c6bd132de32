"""Each partition's KPI state and its position, committed together in one SQLite transaction.

One SQLite row per (consumer group, topic, partition) holds the partition's position (the next
offset to read), its aggregation state and its source activity. A batch is committed in one
transaction, so the state and the positions it came from can never disagree: after a crash the
collector resumes from the stored position with the stored state, whatever Kafka's committed
offsets say. Every update is a compare-and-set on the row's revision as the writer loaded it:
a replica that lost a partition in a rebalance but has not noticed yet (a "zombie") cannot
overwrite the newer state of the partition's new owner; its transaction fails as a whole and it
reloads.

Replicas on one machine share the file (WAL mode: readers never block the one writer). Across
machines the same table would live in PostgreSQL; SQLite over a network file system is unsafe.
All calls run in one worker thread so the event loop never waits on disk.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")
TopicPartitionKey = tuple[str, int]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS partition_state (
    group_id     TEXT    NOT NULL,
    topic        TEXT    NOT NULL,
    partition    INTEGER NOT NULL,
    position     INTEGER NOT NULL,
    revision     INTEGER NOT NULL,
    aggregation  BLOB    NOT NULL,
    activity     BLOB    NOT NULL,
    committed_at TEXT    NOT NULL,
    committed_by TEXT    NOT NULL,
    PRIMARY KEY (group_id, topic, partition)
)
"""


class StoreConflict(Exception):
    """Another replica moved these partitions on since they were loaded; nothing was written."""

    def __init__(self, partitions: Sequence[TopicPartitionKey]) -> None:
        super().__init__(f"partitions moved on elsewhere: {sorted(partitions)}")
        self.partitions = list(partitions)


@dataclass(frozen=True, slots=True)
class PartitionRow:
    """One partition's committed state."""

    topic: str
    partition: int
    position: int
    revision: int
    aggregation: bytes
    activity: bytes
    committed_at: str


@dataclass(frozen=True, slots=True)
class PartitionWrite:
    """A new state for one partition, and the revision it was loaded at (None: no row yet)."""

    topic: str
    partition: int
    position: int
    aggregation: bytes
    activity: bytes
    expected_revision: int | None

    @property
    def revision(self) -> int:
        """Return the revision the row has once this write is committed."""
        return (self.expected_revision or 0) + 1


class StateStore:
    """SQLite-backed, partition-scoped state with atomic batch commits."""

    def __init__(self, path: Path, group_id: str, writer: str) -> None:
        self._path = path
        self._group = group_id
        self._writer = writer
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="collector-store")
        self._connection: sqlite3.Connection | None = None

    async def _run(self, work: Callable[[sqlite3.Connection], T]) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, lambda: work(self._connect()))

    def _connect(self) -> sqlite3.Connection:
        if self._connection is None:
            self._path.parent.mkdir(parents=True, exist_ok=True)
            connection = sqlite3.connect(self._path, timeout=30.0, isolation_level=None)
            connection.execute("PRAGMA journal_mode=WAL")
            # FULL: a committed batch survives a power cut, not only a process kill.
            connection.execute("PRAGMA synchronous=FULL")
            connection.execute(_SCHEMA)
            self._connection = connection
        return self._connection

    async def open(self) -> None:
        """Create the file and table if needed."""
        await self._run(lambda _: None)

    async def close(self) -> None:
        """Close the connection and the worker thread."""

        def close(connection: sqlite3.Connection) -> None:
            connection.close()
            self._connection = None

        if self._connection is not None:
            await self._run(close)
        self._executor.shutdown(wait=True)

    async def load(
        self, partitions: Sequence[TopicPartitionKey]
    ) -> dict[TopicPartitionKey, PartitionRow]:
        """Return the committed rows of the given partitions (absent ones are left out)."""
        wanted = set(partitions)
        rows = await self._run(self._select_all)
        return {key: row for key, row in rows.items() if key in wanted}

    async def load_all(self) -> dict[TopicPartitionKey, PartitionRow]:
        """Return every committed row of the group."""
        return await self._run(self._select_all)

    async def revisions(self) -> dict[TopicPartitionKey, tuple[int, int]]:
        """Return (revision, position) per partition: cheap change detection."""

        def select(connection: sqlite3.Connection) -> dict[TopicPartitionKey, tuple[int, int]]:
            cursor = connection.execute(
                "SELECT topic, partition, revision, position FROM partition_state "
                "WHERE group_id = ?",
                (self._group,),
            )
            return {(t, p): (rev, pos) for t, p, rev, pos in cursor}

        return await self._run(select)

    def _select_all(self, connection: sqlite3.Connection) -> dict[TopicPartitionKey, PartitionRow]:
        cursor = connection.execute(
            "SELECT topic, partition, position, revision, aggregation, activity, committed_at "
            "FROM partition_state WHERE group_id = ?",
            (self._group,),
        )
        return {(row[0], row[1]): PartitionRow(*row) for row in cursor}

    async def commit(
        self, build: Callable[[], Sequence[PartitionWrite]]
    ) -> Sequence[PartitionWrite]:
        """Build the writes (serialising off the event loop) and commit them all, or none."""

        def work(connection: sqlite3.Connection) -> Sequence[PartitionWrite]:
            writes = build()
            if writes:
                self._commit(connection, writes)
            return writes

        return await self._run(work)

    def _commit(self, connection: sqlite3.Connection, writes: Sequence[PartitionWrite]) -> None:
        now = datetime.now(UTC).isoformat()
        conflicts: list[TopicPartitionKey] = []
        connection.execute("BEGIN IMMEDIATE")
        try:
            for write in writes:
                if not self._write(connection, write, now):
                    conflicts.append((write.topic, write.partition))
            if conflicts:
                raise StoreConflict(conflicts)
            connection.execute("COMMIT")
        except BaseException:
            connection.execute("ROLLBACK")
            raise

    def _write(self, connection: sqlite3.Connection, write: PartitionWrite, now: str) -> bool:
        values = (
            write.position,
            write.revision,
            write.aggregation,
            write.activity,
            now,
            self._writer,
        )
        key = (self._group, write.topic, write.partition)
        if write.expected_revision is None:
            cursor = connection.execute(
                "INSERT INTO partition_state (position, revision, aggregation, activity, "
                "committed_at, committed_by, group_id, topic, partition) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                (*values, *key),
            )
        else:
            cursor = connection.execute(
                "UPDATE partition_state SET position = ?, revision = ?, aggregation = ?, "
                "activity = ?, committed_at = ?, committed_by = ? "
                "WHERE group_id = ? AND topic = ? AND partition = ? AND revision = ?",
                (*values, *key, write.expected_revision),
            )
        return cursor.rowcount == 1
