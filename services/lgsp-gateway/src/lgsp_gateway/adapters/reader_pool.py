"""Pooled Kafka readers per topic, and one tail per topic that wakes long polls.

A pull request never creates a Kafka client. Per topic this replica keeps (created on the
topic's first read, kept until shutdown):

- a small pool of readers (aiokafka consumers, manual `assign`, no group): a request borrows
  one, seeks every partition to its cursor and fetches once, then gives it back. A reader
  already standing where the cursor points (the previous page of the same reader) is preferred
  and not sought again, so the records it prefetched serve the next page at once;
- one tail consumer that follows the topic's end. It learns each partition's high-water mark
  from the records it sees and wakes every long poll waiting on the topic, so a waiting request
  holds no reader. It keeps the last `TAIL_CACHE` records of each partition: a reader that is
  caught up (the usual long poll) is answered from them, without a fetch. Every few seconds it
  refreshes the topic's partitions, so a partition added to the topic is read (the cursor,
  which lacks it, starts it at the earliest offset).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Mapping, Sequence
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import KafkaError

from lgsp_common.kafka import create_consumer
from lgsp_common.settings import KafkaSettings

log = logging.getLogger(__name__)
PARTITION_REFRESH_S = 3.0
TAIL_CACHE = 2000


async def _partitions_of(consumer: AIOKafkaConsumer, topic: str) -> list[int]:
    # `topics()` does not store fresh metadata in the client's cluster view, which
    # `partitions_for_topic` reads; force that refresh (no public API for it).
    await consumer._client.force_metadata_update()
    return sorted(consumer.partitions_for_topic(topic) or ())


class TopicFeed:
    """One topic on this replica: its pooled readers and its tail."""

    def __init__(self, kafka: KafkaSettings, topic: str, size: int, client_id: str) -> None:
        self.topic = topic
        self._kafka = kafka
        self._size = size
        self._client_id = client_id
        self._idle: list[AIOKafkaConsumer] = []
        self._free = asyncio.Semaphore(size)
        self._at: dict[int, dict[int, int]] = {}  # id(reader) -> where it stands
        self._readers: list[AIOKafkaConsumer] = []
        self._tail: AIOKafkaConsumer | None = None
        self._task: asyncio.Task[None] | None = None
        self._high: dict[int, int] = {}
        self._recent: dict[int, deque[Any]] = {}
        self._changed = asyncio.Event()
        self.partitions: list[int] = []

    def _consumer(self) -> AIOKafkaConsumer:
        return create_consumer(
            self._kafka, self._client_id, None, fetch_max_wait_ms=100, metadata_max_age_ms=5000
        )

    async def start(self) -> None:
        """Start the tail and the pooled readers together, then place the tail at the end."""
        tail = self._tail = self._consumer()
        self._readers = [self._consumer() for _ in range(self._size)]
        # Together: the first read of a topic waits for one client start-up, not 1 + size.
        started = await asyncio.gather(
            tail.start(), *(reader.start() for reader in self._readers), return_exceptions=True
        )
        for outcome in started:
            if isinstance(outcome, BaseException):
                raise outcome  # `ReaderPool.feed` stops every client of the feed
        self.partitions = await _partitions_of(tail, self.topic)
        if not self.partitions:
            raise LookupError(f"topic {self.topic} does not exist")
        await self._follow_partitions(tail, self.partitions)
        self._idle = list(self._readers)
        self._task = asyncio.create_task(self._run(tail), name=f"tail {self.topic}")

    async def _follow_partitions(self, tail: AIOKafkaConsumer, partitions: list[int]) -> None:
        tps = [TopicPartition(self.topic, p) for p in partitions]
        tail.assign(tps)
        ends = await tail.end_offsets(tps)
        for tp in tps:
            self._high[tp.partition] = max(self._high.get(tp.partition, 0), ends[tp])
            tail.seek(tp, self._high[tp.partition])

    async def _run(self, tail: AIOKafkaConsumer) -> None:
        refreshed = time.monotonic()
        while True:
            try:
                batches = await tail.getmany(timeout_ms=500)
                for tp, records in batches.items():
                    if records:
                        self._high[tp.partition] = records[-1].offset + 1
                        recent = self._recent.setdefault(tp.partition, deque(maxlen=TAIL_CACHE))
                        recent.extend(records)
                if batches:
                    self._wake()
                if time.monotonic() - refreshed > PARTITION_REFRESH_S:
                    refreshed = time.monotonic()
                    found = await _partitions_of(tail, self.topic)
                    if found and found != self.partitions:
                        await self._follow_partitions(tail, found)
                        self.partitions = found
                        self._wake()
            except KafkaError as exc:  # the client reconnects by itself; keep following
                log.warning("tail of %s: %s; retrying", self.topic, type(exc).__name__)
                await asyncio.sleep(0.5)

    def _wake(self) -> None:
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()

    def changed(self) -> asyncio.Event:
        """Return the event set at the next change of the topic (take it before checking)."""
        return self._changed

    @property
    def idle_readers(self) -> int:
        """Return how many pooled readers are free right now."""
        return len(self._idle)

    def has_data(self, positions: Mapping[int, int]) -> bool:
        """Tell whether some partition has records at or after the given position."""
        return any(self._high.get(p, 1) > positions.get(p, 0) for p in self.partitions)

    def lag(self, positions: Mapping[int, int]) -> int:
        """Return how many records lie between the positions and the known end."""
        return sum(max(0, self._high.get(p, 0) - positions.get(p, 0)) for p in self.partitions)

    async def bounds(self, which: str) -> dict[int, int]:
        """Return every partition's earliest (`earliest`) or end (`latest`) offset."""
        assert self._tail is not None
        tps = [TopicPartition(self.topic, p) for p in self.partitions]
        if which == "earliest":
            found = await self._tail.beginning_offsets(tps)
        else:
            found = await self._tail.end_offsets(tps)
        return {tp.partition: offset for tp, offset in found.items()}

    def _borrow(self, positions: Mapping[int, int]) -> AIOKafkaConsumer:
        for index, reader in enumerate(self._idle):
            if self._at.get(id(reader)) == positions:
                return self._idle.pop(index)
        return self._idle.pop()  # the most recently used: its connections are warm

    async def _place(self, reader: AIOKafkaConsumer, positions: Mapping[int, int]) -> None:
        tps = [TopicPartition(self.topic, p) for p in sorted(positions)]
        standing = self._at.pop(id(reader), None)
        if set(reader.assignment()) != set(tps):
            reader.assign(tps)
            standing = None
        for tp in tps:
            wanted = positions[tp.partition]
            stands = standing is not None and standing.get(tp.partition) == wanted
            # Where it stands, confirm it (local state) so the position is exact, never assumed.
            if not stands or await reader.position(tp) != wanted:
                reader.seek(tp, wanted)

    def _from_tail(self, positions: Mapping[int, int], max_records: int) -> dict[int, list[Any]]:
        """Return the records after the positions if the tail still holds all of them, else {}."""
        found: dict[int, list[Any]] = {}
        for p in sorted(positions):
            wanted = positions[p]
            if self._high.get(p, 0) <= wanted:
                continue
            recent = self._recent.get(p)
            if not recent or recent[0].offset > wanted:
                return {}  # older than what the tail holds: a reader fetches it
            picked = []
            for record in reversed(recent):
                if record.offset < wanted:
                    break
                picked.append(record)
            found[p] = picked[::-1]
        budget, trimmed = max_records, {}
        for p, records in found.items():
            if budget > 0 and records:
                trimmed[p] = records[:budget]
                budget -= len(trimmed[p])
        return trimmed

    async def fetch(
        self, positions: Mapping[int, int], max_records: int, timeout_ms: int
    ) -> dict[int, Sequence[Any]]:
        """Read up to `max_records` from the positions: from the tail, or with a pooled reader."""
        cached = self._from_tail(positions, max_records)
        if cached:
            return dict(cached)
        async with self._free:
            reader = self._borrow(positions)
            try:
                await self._place(reader, positions)
                tps = [TopicPartition(self.topic, p) for p in sorted(positions)]
                batches = await reader.getmany(*tps, timeout_ms=timeout_ms, max_records=max_records)
                after = dict(positions)
                for tp, records in batches.items():
                    if records:
                        after[tp.partition] = records[-1].offset + 1
                self._at[id(reader)] = after
            finally:
                self._idle.append(reader)
        return {tp.partition: records for tp, records in batches.items()}

    async def stop(self) -> None:
        """Stop the tail and every reader."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        for consumer in [*self._readers, *([self._tail] if self._tail else [])]:
            with contextlib.suppress(Exception):
                await consumer.stop()


class ReaderPool:
    """The topic feeds of this replica, created on first use and stopped at shutdown."""

    def __init__(self, kafka: KafkaSettings, size: int, client_id: str) -> None:
        self._kafka = kafka
        self._size = size
        self._client_id = client_id
        self._feeds: dict[str, TopicFeed] = {}
        self._lock = asyncio.Lock()

    async def feed(self, topic: str) -> TopicFeed:
        """Return the topic's feed, starting it on the topic's first read."""
        found = self._feeds.get(topic)
        if found is not None:
            return found
        async with self._lock:
            found = self._feeds.get(topic)
            if found is None:
                found = TopicFeed(self._kafka, topic, self._size, self._client_id)
                try:
                    await found.start()
                except BaseException:
                    await found.stop()
                    raise
                self._feeds[topic] = found
        return found

    async def stop(self) -> None:
        """Stop every feed."""
        for feed in self._feeds.values():
            await feed.stop()
        self._feeds.clear()
