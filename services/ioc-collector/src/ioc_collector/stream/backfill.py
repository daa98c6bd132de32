"""Backfills: a KPI that appears at runtime, computed over its topic from the beginning.

When a KPI is added (or changes shape) while a partition already has a position, the stream
loop leaves that KPI out of the partition (`domain/coverage.py`) and a `Backfill` entry waits
in the partition's state. The runner reads the partition with its own consumer (outside the
group, assigned by hand) from the partition's beginning, aggregates the records into that KPI's
state only, with the records' own timestamps as the processing clock (so windows close as they
would have live), and stops at the live loop's position: there, under the loop's lock, the
backfilled state becomes the partition's live state of the KPI and the loop applies the KPI
from the next record on. The result is the state the KPI would have had from the start.

The other KPIs are not touched: the runner changes only the `Backfill` entry, in short steps
taken under the loop's lock. Its progress is part of the partition's state, so the loop commits
it with the partition's position in the same transaction; after a crash or a rebalance the
partition's owner resumes the backfill from the stored progress.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import KafkaError

from ioc_collector.adapters.decode import (
    ContractValidators,
    Poison,
    decode_batch,
    event_from_record,
)
from ioc_collector.adapters.state_and_positions_store import TopicPartitionKey
from ioc_collector.domain.batch import BatchAggregator
from ioc_collector.domain.coverage import hand_over
from ioc_collector.domain.owned_partition import OwnedPartition
from ioc_collector.domain.state import AggregationState, Backfill
from ioc_collector.metrics import CollectorMetrics
from ioc_collector.stream.exactly_once_loop import StreamProcessor
from lgsp_common.kafka import create_consumer
from lgsp_common.settings import KafkaSettings

log = logging.getLogger(__name__)
Job = tuple[TopicPartitionKey, str]


FETCH_BYTES = 4 * 1024 * 1024  # per partition and fetch: a backfill reads long runs


def backfill_consumer(kafka: KafkaSettings, client_id: str) -> AIOKafkaConsumer:
    """Build the consumer a backfill reads with (outside any group, assigned by hand)."""
    return create_consumer(kafka, client_id, None, max_partition_fetch_bytes=FETCH_BYTES)


class _Restart(Exception):
    """A backfill batch failed: the backfill starts again from its partition's beginning."""


class BackfillRunner:
    """Runs the owned partitions' backfills one step at a time, one partition after another."""

    def __init__(
        self,
        processor: StreamProcessor,
        consumer: Callable[[], AIOKafkaConsumer],
        validators: ContractValidators,
        metrics: CollectorMetrics,
        *,
        max_batch: int,
        idle_s: float = 0.25,
    ) -> None:
        self._processor = processor
        self._new_consumer = consumer
        self._started: AIOKafkaConsumer | None = None  # started at the first backfill
        self._validators = validators
        self._metrics = metrics
        self._max_batch = max_batch
        self._idle_s = idle_s
        self._aggregators: dict[tuple[str, str], BatchAggregator] = {}
        self._careful: dict[Job, int] = {}  # one record at a time up to this offset
        self._assigned: TopicPartition | None = None
        self._next: int | None = None  # the offset the consumer fetches next, when known
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Run the backfills in the background."""
        self._task = asyncio.create_task(self._run(), name="collector-backfill")

    async def stop(self) -> None:
        """Stop (the progress made so far is committed by the loop)."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._started is not None:
            await self._started.stop()
            self._started = None

    async def _consumer(self) -> AIOKafkaConsumer:
        if self._started is None:
            consumer = self._new_consumer()
            await consumer.start()
            self._started = consumer
        return self._started

    async def _run(self) -> None:
        while True:
            job = self._next_job()
            try:
                if job is None:
                    await asyncio.sleep(self._idle_s)
                else:
                    await self.step(*job)
            except KafkaError as exc:
                log.warning("backfill fetch failed; retrying", extra={"error": repr(exc)})
                self._next = None
                await asyncio.sleep(1.0)
            except Exception:  # a bug: keep the live loop and retry the step later
                log.exception("backfill step failed; retrying")
                self._next = None
                await asyncio.sleep(1.0)

    def _next_job(self) -> Job | None:
        pending = [
            (key, kpi_id)
            for key, owned in self._processor.owned.items()
            for kpi_id in owned.state.backfills
        ]
        return min(pending) if pending else None

    def _current(self, key: TopicPartitionKey, kpi_id: str) -> tuple[OwnedPartition, Backfill]:
        owned = self._processor.owned.get(key)
        backfill = owned.state.backfills.get(kpi_id) if owned is not None else None
        if owned is None or backfill is None:
            raise LookupError(key)
        return owned, backfill

    async def step(self, key: TopicPartitionKey, kpi_id: str) -> None:
        """Read one batch of a partition's backfill, apply it, hand over once caught up."""
        tp = TopicPartition(*key)
        try:
            owned, backfill = self._current(key, kpi_id)
        except LookupError:
            return
        if backfill.position is None:
            begin = (await (await self._consumer()).beginning_offsets([tp]))[tp]
            async with self._processor.lock:
                if self._same(key, kpi_id, owned, backfill):
                    backfill.start = backfill.position = begin
                    owned.dirty = True
            return
        if backfill.position >= owned.position:  # caught up already: hand over now
            async with self._processor.lock:
                self._handed_over(key, kpi_id, owned, backfill)
            return
        start = backfill.position
        records, reached = await self._fetch(tp, start)
        async with self._processor.lock:
            if not self._same(key, kpi_id, owned, backfill) or backfill.position != start:
                self._next = None
                return
            limit = owned.position
            usable = [record for record in records if record.offset < limit]
            try:
                self._apply(kpi_id, key, owned, backfill, usable)
            except _Restart:
                backfill.position, self._next = backfill.start, None
                owned.dirty = True
                return
            backfill.position = max(start, min(reached, limit))
            owned.dirty = True
            if backfill.position != reached:
                self._next = None  # fetched past the live position: seek next time
            self._metrics.backfill_records.labels(kpi_id).inc(len(usable))
            self._handed_over(key, kpi_id, owned, backfill)

    def _same(
        self, key: TopicPartitionKey, kpi_id: str, owned: OwnedPartition, backfill: Backfill
    ) -> bool:
        """Tell whether the partition and its backfill are still the ones read before."""
        now = self._processor.owned.get(key)
        return now is owned and owned.state.backfills.get(kpi_id) is backfill

    def _handed_over(
        self, key: TopicPartitionKey, kpi_id: str, owned: OwnedPartition, backfill: Backfill
    ) -> bool:
        """Under the loop's lock: hand the KPI over if the backfill reached the live position."""
        if not self._same(key, kpi_id, owned, backfill):
            return True
        if backfill.position is None or backfill.position < owned.position:
            return False
        hand_over(owned.state, kpi_id)
        owned.dirty = True
        self._processor.version += 1
        log.info("backfill handed over", extra={"kpi": kpi_id, "partition": f"{key[0]}/{key[1]}"})
        return True

    async def _fetch(self, tp: TopicPartition, start: int) -> tuple[list[Any], int]:
        """Return the records from `start` (one fetch) and the offset the consumer reached."""
        consumer = await self._consumer()
        if self._assigned != tp:
            consumer.assign([tp])
            self._assigned, self._next = tp, None
        if self._next != start:
            consumer.seek(tp, start)
        batches = await consumer.getmany(tp, timeout_ms=500, max_records=self._max_batch)
        records = batches.get(tp, [])
        reached = await consumer.position(tp)
        self._next = reached
        return records, reached

    def _aggregator(self, kpi_id: str, fingerprint: str) -> BatchAggregator:
        found = self._aggregators.get((kpi_id, fingerprint))
        if found is None:
            kpi = self._processor.aggregator.kpis[kpi_id]
            found = self._aggregators[(kpi_id, fingerprint)] = BatchAggregator([kpi])
        return found

    def _apply(
        self, kpi_id: str, key: TopicPartitionKey, owned: OwnedPartition, backfill: Backfill,
        records: Sequence[Any],
    ) -> None:  # fmt: skip
        """Apply records to the backfilled KPI only, the records' times as the clock."""
        if not records:
            return
        aggregator = self._aggregator(kpi_id, backfill.fingerprint)
        kpis = {kpi_id: backfill.kpi} if backfill.kpi is not None else {}
        scope = owned.state.watermark_scope
        state = AggregationState(watermark_scope=scope, clock=backfill.clock, kpis=kpis)
        state.imports = backfill.imports  # its own import runs: it reads them from the start
        now = datetime.fromtimestamp(max(r.timestamp for r in records) / 1000, UTC)
        careful = self._careful.get((key, kpi_id))
        if careful is not None and records[0].offset < careful:
            self._one_by_one(aggregator, state, records, now)
        else:
            try:
                decoded = decode_batch(key[0], key[1], records, self._validators)
                aggregator.apply_batch(decoded.events, state, now)
            except Exception:
                # A bug may have changed the state halfway: start this backfill again, one
                # record at a time up to the end of the failed batch.
                log.exception("a backfill batch failed; it restarts one record at a time")
                self._careful[(key, kpi_id)] = records[-1].offset + 1
                backfill.kpi = backfill.clock = None
                backfill.imports = {}
                raise _Restart from None
        backfill.kpi, backfill.clock = state.kpis.get(kpi_id), state.clock
        backfill.imports = state.imports

    def _one_by_one(
        self, aggregator: BatchAggregator, state: AggregationState, records: Sequence[Any],
        now: datetime,
    ) -> None:  # fmt: skip
        aggregator.tick(state, now)
        for record in records:
            try:
                decoded = event_from_record(record, self._validators)
                if not isinstance(decoded, Poison):
                    aggregator.apply(decoded, state)
            except Exception:  # one record, counted by the live loop as it passed
                log.exception("cannot backfill an event", extra={"offset": record.offset})
