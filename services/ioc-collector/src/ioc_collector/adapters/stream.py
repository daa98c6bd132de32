"""The consuming loop: read committed records in batches, count them, commit offsets."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter as Tally
from dataclasses import dataclass, field

from aiokafka import AIOKafkaConsumer
from aiokafka.errors import KafkaError
from prometheus_client import CollectorRegistry, Counter

from lgsp_common.envelope import from_kafka

log = logging.getLogger(__name__)


@dataclass
class StreamCounts:
    """Events seen per (topic, source), and records that could not be decoded."""

    by_source: Tally[tuple[str, str]] = field(default_factory=Tally)
    undecodable: Tally[str] = field(default_factory=Tally)


class StreamConsumer:
    """Owns the consumer task; `counts` is what the API shows."""

    def __init__(self, consumer: AIOKafkaConsumer, registry: CollectorRegistry, batch: int):
        self._consumer = consumer
        self._batch = batch
        self._task: asyncio.Task[None] | None = None
        self.counts = StreamCounts()
        self._events = Counter(
            "collector_events", "Events consumed", ["topic", "source"], registry=registry
        )
        self._bad = Counter(
            "collector_records_undecodable",
            "Records that are not CloudEvents",
            ["topic"],
            registry=registry,
        )

    def start(self) -> None:
        """Run the loop in the background."""
        self._task = asyncio.create_task(self._run(), name="collector-stream")

    async def stop(self) -> None:
        """Stop the loop and commit what was processed."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        while True:
            try:
                batches = await self._consumer.getmany(timeout_ms=500, max_records=self._batch)
                for records in batches.values():
                    for record in records:
                        self._count(record.topic, record.value, record.headers)
                if batches:
                    await self._consumer.commit()
            except KafkaError as exc:
                log.warning("consumer error, retrying", extra={"error": repr(exc)})
                await asyncio.sleep(1)

    def _count(self, topic: str, value: bytes | None, headers: object) -> None:
        try:
            event = from_kafka(value, headers)  # type: ignore[arg-type]
        except ValueError:
            self.counts.undecodable[topic] += 1
            self._bad.labels(topic).inc()
            return
        self.counts.by_source[(topic, event.source)] += 1
        self._events.labels(topic, event.source).inc()
