"""When a source last published, as far as Kafka tells: the guard of a source's delete.

The registry consumes no data topic, so it asks the broker: for each partition of the source's
topic, the first record at or after `since` (`offsets_for_times`), then reads from there (at
most the last `window` records of the partition) and keeps the newest whose `ce_source` header
names the source (`/sources/<id>`, as the gateway writes it). A source whose records in the
hour lie further back than `window` records of other sources' traffic goes unseen: the bound
keeps a delete quick on a busy shared topic. When the broker cannot say, `TrafficUnknown`.
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, datetime
from typing import Protocol

from aiokafka import AIOKafkaConsumer, TopicPartition

from lgsp_common.kafka import create_consumer
from lgsp_common.settings import KafkaSettings

SOURCE_PREFIX = "/sources/"


class TrafficUnknown(Exception):
    """The broker could not tell whether the source published recently."""


class TrafficProbe(Protocol):
    """Tells when a source last published on its topic, if at or after `since`."""

    async def last_event_at(self, topic: str, source_id: str, since: datetime) -> datetime | None:
        """Return the newest record time of the source since `since`, or None."""
        ...


class KafkaTraffic:
    """A `TrafficProbe` reading the data topic's recent records."""

    def __init__(self, kafka: KafkaSettings, timeout_s: float = 5.0, window: int = 2000) -> None:
        self._kafka = kafka
        self._timeout_s = timeout_s
        self._window = window

    async def last_event_at(self, topic: str, source_id: str, since: datetime) -> datetime | None:
        """Return the newest record time of the source since `since`, or None."""
        consumer = create_consumer(
            self._kafka,
            "lgsp-registry-traffic",
            None,
            request_timeout_ms=int(self._timeout_s * 1000),
        )
        try:
            async with asyncio.timeout(self._timeout_s):
                await consumer.start()
                return await self._newest(consumer, topic, source_id, since)
        except Exception as exc:  # any failure means we cannot tell
            raise TrafficUnknown(f"{type(exc).__name__} while reading {topic}") from exc
        finally:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(consumer.stop(), self._timeout_s)

    async def _newest(
        self, consumer: AIOKafkaConsumer, topic: str, source_id: str, since: datetime
    ) -> datetime | None:
        # What `topics()` fetches, kept: the consumer's own cache knows no unsubscribed topic.
        metadata = await consumer._client.fetch_all_metadata()
        partitions = metadata.partitions_for_topic(topic)
        if not partitions:
            return None
        tps = [TopicPartition(topic, p) for p in sorted(partitions)]
        consumer.assign(tps)
        since_ms = int(since.timestamp() * 1000)
        ends = await consumer.end_offsets(tps)
        found = await consumer.offsets_for_times(dict.fromkeys(tps, since_ms))
        wanted = (SOURCE_PREFIX + source_id).encode()
        newest = -1
        for tp in tps:
            hit = found.get(tp)
            if hit is None or ends[tp] <= hit.offset:
                continue
            consumer.seek(tp, max(hit.offset, ends[tp] - self._window))
            newest = max(newest, await self._scan(consumer, tp, ends[tp], wanted, since_ms))
        return datetime.fromtimestamp(newest / 1000, UTC) if newest >= 0 else None

    @staticmethod
    async def _scan(
        consumer: AIOKafkaConsumer, tp: TopicPartition, end: int, wanted: bytes, since_ms: int
    ) -> int:
        newest, empty = -1, 0
        while await consumer.position(tp) < end and empty < 2:
            batch = (await consumer.getmany(tp, timeout_ms=500, max_records=500)).get(tp, [])
            empty = 0 if batch else empty + 1
            for record in batch:
                if record.timestamp >= since_ms and (
                    dict(record.headers or ()).get("ce_source") == wanted
                ):
                    newest = max(newest, record.timestamp)
        return newest
