"""Pooled Kafka readers per topic, and one tail per topic that wakes long polls.

A pull request never creates a Kafka client. Per topic this replica keeps (created on the
topic's first read, kept until shutdown):

- a small pool of readers (aiokafka consumers, manual `assign`, no group): a request borrows
  one, seeks every partition to its cursor and fetches once, then gives it back;
- one tail consumer that follows the topic's end. It learns each partition's high-water mark
  from the records it sees and wakes every long poll waiting on the topic, so a waiting request
  holds no reader. Every few seconds it refreshes the topic's partitions, so a partition added
  to the topic is read (the cursor, which lacks it, starts it at the earliest offset).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Mapping, Sequence
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import KafkaError

from lgsp_common.kafka import create_consumer
from lgsp_common.settings import KafkaSettings

log = logging.getLogger(__name__)
PARTITION_REFRESH_S = 3.0


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
        self._idle: asyncio.Queue[AIOKafkaConsumer] = asyncio.Queue()
        self._readers: list[AIOKafkaConsumer] = []
        self._tail: AIOKafkaConsumer | None = None
        self._task: asyncio.Task[None] | None = None
        self._high: dict[int, int] = {}
        self._changed = asyncio.Event()
        self.partitions: list[int] = []

    def _consumer(self) -> AIOKafkaConsumer:
        return create_consumer(
            self._kafka, self._client_id, None, fetch_max_wait_ms=100, metadata_max_age_ms=5000
        )

    async def start(self) -> None:
        """Start the tail at the topic's end, then the pooled readers."""
        tail = self._consumer()
        await tail.start()
        self._tail = tail
        self.partitions = await _partitions_of(tail, self.topic)
        if not self.partitions:
            raise LookupError(f"topic {self.topic} does not exist")
        await self._follow_partitions(tail, self.partitions)
        for _ in range(self._size):
            reader = self._consumer()
            await reader.start()
            self._readers.append(reader)
            self._idle.put_nowait(reader)
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

    async def fetch(
        self, positions: Mapping[int, int], max_records: int, timeout_ms: int
    ) -> dict[int, Sequence[Any]]:
        """Borrow a reader, read up to `max_records` from the positions, give it back."""
        reader = await self._idle.get()
        try:
            tps = [TopicPartition(self.topic, p) for p in sorted(positions)]
            if set(reader.assignment()) != set(tps):
                reader.assign(tps)
            for tp in tps:
                reader.seek(tp, positions[tp.partition])
            batches = await reader.getmany(*tps, timeout_ms=timeout_ms, max_records=max_records)
        finally:
            self._idle.put_nowait(reader)
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
