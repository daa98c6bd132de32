"""The stream loop: batches in, KPI state and positions committed together, seek on assignment.

Exactly-once effect without Kafka transactions. Each assigned topic-partition has its own
AggregationState and source activity in memory. A poll's records are applied in offset order;
at most every `commit_interval_ms` the changed partitions' states (only their windows and dedup
ids that changed, `domain/stored_parts.py`) and next offsets are written to the state store in
ONE transaction (`adapters/state_and_positions_store.py`). On
assignment (ConsumerRebalanceListener) the consumer seeks each partition to the position stored
next to its state, so a crash (kill -9) between two commits replays exactly the records whose
effect was lost, and a rebalance hands the new owner the state that matches the offset it
resumes from. Records below the stored position are skipped, so a stale fetch cannot apply a
record twice. Kafka's committed offsets are written too, after the store, for lag tooling
only; they are never read back.

A partition's records of a poll are applied as one batch (`apply_records.RecordApplier`). A
batch that fails (a bug: bad data is poison, counted and skipped) may have changed the state
halfway, so the partition reloads its committed row, seeks back to its position, and replays up
to the end of the failed batch one record at a time, where a failing record costs that record
only.

Why not Kafka transactions (consume-transform-produce with a changelog topic, as Kafka
Streams does): the collector's output is its queryable state, not a topic, so a changelog
would have to be restored into a local store anyway; and aiokafka's transactional producer has
open problems exactly where a crash test hits (upstream aiokafka issues #1004, #1098, #920:
fencing and `send_offsets_to_transaction` failures around rebalances, producers left unusable
after an aborted or timed-out transaction). One local transaction per batch is simple to reason
about and to test. `ioc.kpi` snapshots are keyed and compacted, so republishing after a replay
converges to the same values (an idempotent output).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition
from aiokafka.errors import KafkaError

from ioc_collector.adapters.state_and_positions_store import (
    PartitionRow,
    PartitionWrite,
    StateStore,
    StoreConflict,
    TopicPartitionKey,
)
from ioc_collector.domain.activity import PartitionActivity
from ioc_collector.domain.batch import BatchAggregator
from ioc_collector.domain.coverage import reconcile
from ioc_collector.domain.owned_partition import OwnedPartition
from ioc_collector.domain.state import AggregationState
from ioc_collector.domain.state_load import assemble
from ioc_collector.metrics import CollectorMetrics
from ioc_collector.stream.apply_records import RecordApplier

log = logging.getLogger(__name__)


class _Listener(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, processor: StreamProcessor) -> None:
        self._processor = processor

    async def on_partitions_revoked(self, revoked: list[TopicPartition]) -> None:
        await self._processor.on_revoked(revoked)

    async def on_partitions_assigned(self, assigned: list[TopicPartition]) -> None:
        await self._processor.on_assigned(assigned)


def _key(tp: TopicPartition) -> TopicPartitionKey:
    return (tp.topic, tp.partition)


def _from_row(row: PartitionRow | None) -> OwnedPartition:
    if row is None:
        return OwnedPartition(AggregationState(), PartitionActivity())
    activity = PartitionActivity.model_validate_json(row.activity)
    state, stored = assemble(row.aggregation, row.windows, row.chunks or {})
    return OwnedPartition(state, activity, row.position, row.revision, stored=stored)


class StreamProcessor:
    """Owns the consumer loop and the state of the partitions assigned to this replica."""

    def __init__(
        self,
        consumer: AIOKafkaConsumer,
        store: StateStore,
        aggregator: BatchAggregator,
        applier: RecordApplier,
        metrics: CollectorMetrics,
        *,
        max_batch: int,
        commit_interval_ms: int,
        poll_timeout_ms: int,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._consumer = consumer
        self._store = store
        self._aggregator = aggregator
        self._applier = applier
        self._metrics = metrics
        self._max_batch = max_batch
        self._commit_interval_s = commit_interval_ms / 1000
        self._poll_timeout_ms = poll_timeout_ms
        self._clock = clock
        self._lock = asyncio.Lock()
        self._last_commit = time.monotonic()
        self._task: asyncio.Task[None] | None = None
        self._flight: tuple[asyncio.Task[None], list[Any]] | None = None
        # Partitions to replay one record at a time up to this offset (after a failed batch).
        self._one_by_one_until: dict[TopicPartitionKey, int] = {}
        self.owned: dict[TopicPartitionKey, OwnedPartition] = {}
        self.version = 0
        self.listener = _Listener(self)

    @property
    def lock(self) -> asyncio.Lock:
        """Held while records are applied or committed; a backfill step takes it too."""
        return self._lock

    @property
    def aggregator(self) -> BatchAggregator:
        """The KPI catalogue the loop applies."""
        return self._aggregator

    def start(self) -> None:
        """Run the loop in the background."""
        self._task = asyncio.create_task(self._run(), name="collector-stream")

    async def stop(self) -> None:
        """Stop the loop and commit what was applied."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        async with self._lock:
            await self._commit()
            await self._settle()

    async def _run(self) -> None:
        while True:
            try:
                batches = await self._consumer.getmany(
                    timeout_ms=self._poll_timeout_ms, max_records=self._max_batch
                )
                async with self._lock:
                    failed = self._apply(batches) if batches else []
                    if failed:
                        await self._settle()  # the replay starts from what is stored
                        await self._reload(failed)
                    if time.monotonic() - self._last_commit >= self._commit_interval_s:
                        await self._commit()
            except KafkaError as exc:
                log.warning("consumer error; retrying", extra={"error": repr(exc)})
                await asyncio.sleep(1.0)
            except Exception:  # the store or a bug: keep the state, retry, never die
                log.exception("collector loop error; retrying")
                await asyncio.sleep(1.0)

    def _apply(self, batches: dict[TopicPartition, list[Any]]) -> list[TopicPartitionKey]:
        """Apply each partition's new records; return the partitions whose batch failed."""
        now = self._clock()
        failed: list[TopicPartitionKey] = []
        for tp, records in batches.items():
            key = _key(tp)
            owned = self.owned.get(key)
            if owned is None:  # revoked while these records were in flight
                continue
            fresh = records
            if records and records[0].offset < owned.position:  # some are in the stored state
                fresh = [record for record in records if record.offset >= owned.position]
            try:
                applied = self._apply_records(key, owned, fresh, now)
            except Exception:
                log.exception("a batch failed; its partition replays it one record at a time")
                self._one_by_one_until[key] = fresh[-1].offset + 1 if fresh else owned.position
                failed.append(key)
                continue
            if fresh:
                owned.position = fresh[-1].offset + 1
                owned.dirty = True
            owned.state.positions[f"{tp.topic}/{tp.partition}"] = owned.position
            if applied:
                self._metrics.events.labels(tp.topic).inc(applied)
        self.version += 1
        return failed

    def _apply_records(
        self, key: TopicPartitionKey, owned: OwnedPartition, records: list[Any], now: datetime
    ) -> int:
        until = self._one_by_one_until.get(key)
        if until is None:
            return self._applier.apply(owned, key[0], key[1], records, now)
        if not records or records[-1].offset + 1 >= until:
            del self._one_by_one_until[key]
        return self._applier.apply_one_by_one(owned, key[0], key[1], records, now)

    async def _commit(self) -> None:
        """Hand the changed partitions to the store as one transaction; the loop goes on.

        The changed rows are serialised here, in the loop, so they are a consistent snapshot of
        state and position; the database write (and its fsync) runs while the next records are
        applied. One write is in flight at most.
        """
        await self._settle()
        self._last_commit = time.monotonic()
        dirty = [(key, owned) for key, owned in self.owned.items() if owned.dirty]
        if not dirty:
            return
        writes = [
            PartitionWrite(
                key[0],
                key[1],
                owned.position,
                changes.head,
                owned.activity.model_dump_json().encode(),
                owned.revision,
                changes,
            )
            for key, owned in dirty
            for changes in [owned.stored.changes(owned.state)]
        ]
        entries = [(key, owned, owned.revision) for key, owned in dirty]
        for (_, owned), write in zip(dirty, writes, strict=True):
            owned.revision, owned.dirty = write.revision, False
        self._flight = (asyncio.create_task(self._write(writes)), entries)

    async def _write(self, writes: Sequence[PartitionWrite]) -> None:
        with self._metrics.commits.time():
            await self._store.commit(writes)
        offsets = {TopicPartition(w.topic, w.partition): w.position for w in writes}
        try:
            await self._consumer.commit(offsets)
        except (KafkaError, AssertionError) as exc:  # only lag tooling reads these offsets
            log.info("kafka offset commit skipped", extra={"error": repr(exc)})

    async def _settle(self) -> None:
        """Wait for the write in flight; if it failed, its partitions are dirty again."""
        flight, self._flight = self._flight, None
        if flight is None:
            return
        task, entries = flight
        try:
            await task
        except StoreConflict as conflict:
            self._metrics.conflicts.inc()
            log.warning("partitions moved on elsewhere; reloading", extra={"error": str(conflict)})
            self._undo(entries)
            await self._reload(conflict.partitions)
        except Exception:  # disk full, locked too long...: keep the state, retry later
            log.exception("state store write failed; retrying at the next commit")
            self._undo(entries)

    def _undo(
        self, entries: Sequence[tuple[TopicPartitionKey, OwnedPartition, int | None]]
    ) -> None:
        for key, owned, revision in entries:
            if self.owned.get(key) is owned:  # nothing of the batch was written: rewrite whole
                owned.revision, owned.dirty = revision, True
                owned.stored.invalidate()

    async def _reload(self, keys: Sequence[TopicPartitionKey]) -> None:
        rows = await self._store.load(keys)
        for key in keys:
            if key in self.owned:
                self.owned[key] = self._loaded(key, rows.get(key))
                await self._seek(TopicPartition(*key), self.owned[key])
        self.version += 1

    def _loaded(self, key: TopicPartitionKey, row: PartitionRow | None) -> OwnedPartition:
        owned = _from_row(row)
        self._fit(key, owned)
        return owned

    def _fit(self, key: TopicPartitionKey, owned: OwnedPartition) -> None:
        """Fit the partition's state to the catalogue: drop stale KPIs, start backfills."""
        fresh = owned.revision is None and owned.position == 0 and not owned.dirty
        wanted = self._aggregator.fingerprints(key[0])
        changed = reconcile(owned.state, wanted, fresh=fresh)
        if changed:
            log.info(
                "KPI catalogue fitted",
                extra={"partition": f"{key[0]}/{key[1]}", "dropped": changed.dropped,
                       "backfills": changed.started},
            )  # fmt: skip
            owned.dirty = True

    async def set_aggregator(self, aggregator: BatchAggregator) -> None:
        """Apply a new KPI catalogue from the next batch on, fitting every owned partition."""
        async with self._lock:
            self._aggregator = aggregator
            self._applier.aggregator = aggregator
            for key, owned in self.owned.items():
                self._fit(key, owned)
            self.version += 1

    def resubscribe(self, topics: Sequence[str]) -> None:
        """Follow a new set of topics; the group rebalances (the listener moves the state)."""
        self._consumer.subscribe(list(topics), listener=self.listener)

    async def _seek(self, tp: TopicPartition, owned: OwnedPartition) -> None:
        try:
            if owned.revision is None:
                await self._consumer.seek_to_beginning(tp)
            else:
                self._consumer.seek(tp, owned.position)
        except (KafkaError, AssertionError) as exc:  # no longer assigned: the next owner seeks
            log.info(
                "seek skipped",
                extra={"partition": f"{tp.topic}/{tp.partition}", "error": repr(exc)},
            )

    async def on_revoked(self, revoked: list[TopicPartition]) -> None:
        """Commit what was applied, then forget the revoked partitions."""
        async with self._lock:
            await self._commit()
            await self._settle()  # the next owner must find it in the store
            for tp in revoked:
                self.owned.pop(_key(tp), None)
            self.version += 1

    async def on_assigned(self, assigned: list[TopicPartition]) -> None:
        """Load each new partition's state and seek to the position stored with it."""
        async with self._lock:
            fresh = [tp for tp in assigned if _key(tp) not in self.owned]
            rows = await self._store.load([_key(tp) for tp in fresh])
            for tp in fresh:
                self.owned[_key(tp)] = self._loaded(_key(tp), rows.get(_key(tp)))
                await self._seek(tp, self.owned[_key(tp)])
            self.version += 1
            log.info(
                "partitions assigned",
                extra={"partitions": sorted(f"{t}/{p}" for t, p in self.owned)},
            )

    async def tick(self) -> None:
        """Advance the processing clock so quiet windows close on time."""
        now = self._clock()
        async with self._lock:
            closed = False
            for owned in self.owned.values():
                if self._aggregator.tick(owned.state, now):
                    owned.dirty = closed = True
            if closed:
                self.version += 1
                await self._commit()
