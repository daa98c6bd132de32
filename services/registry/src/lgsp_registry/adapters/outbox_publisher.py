"""Drains the outbox to `lgsp.registry`: in commit order, deleted only once Kafka acknowledged.

If Kafka is down, events wait in the database and go out when it is back; nothing is lost, and a
crash between the ack and the delete only repeats events, which readers ignore by `version`.
With PostgreSQL several registry instances may run: a session-level advisory lock lets only one
of them publish at a time, so the order on the topic stays the commit order. Contract events
also make sure the data topic of their subject exists, so a source can publish the same day.
The registry's own audit records wait in `audit_outbox` and go out the same way, each to the
topic its row names, after the change events of the same drain.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any

import sqlalchemy as sa
from aiokafka import AIOKafkaProducer
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from lgsp_common.settings import KafkaSettings
from lgsp_common.topics import REGISTRY_TOPIC, TopicSpec, ensure_topics, platform_topics
from lgsp_registry.adapters.tables import audit_outbox, contracts, outbox
from lgsp_registry.metrics import OutboxMetrics

log = logging.getLogger(__name__)
_PUBLISHER_LOCK = 0x4C475351
BATCH = 500
TopicMaker = Callable[[list[TopicSpec]], Awaitable[object]]


class OutboxPublisher:
    """A background task that moves outbox rows onto the registry topic."""

    def __init__(
        self,
        engine: AsyncEngine,
        kafka: KafkaSettings,
        topic: str,
        metrics: OutboxMetrics,
        *,
        producer_factory: Callable[[], AIOKafkaProducer],
        interval_s: float,
        timeout_s: float,
        make_topics: TopicMaker | None = None,
        audit_topics: Sequence[TopicSpec] = (),
    ) -> None:
        self._engine = engine
        self._kafka = kafka
        self._topic = topic
        self._metrics = metrics
        self._producer_factory = producer_factory
        self._interval_s = interval_s
        self._timeout_s = timeout_s
        self._wake = asyncio.Event()
        self._producer: AIOKafkaProducer | None = None
        self._topics_ready: set[str] = set()
        self._make_topics = make_topics or (lambda specs: ensure_topics(kafka, specs))
        self._task: asyncio.Task[None] | None = None
        self._audit_topics = list(audit_topics)

    def start(self) -> None:
        """Run the publisher as a background task (writes never wait for Kafka)."""
        self._task = asyncio.create_task(self.run(), name="registry outbox publisher")

    async def stop(self, drain_timeout_s: float = 5.0) -> None:
        """Stop the task, try a last drain, stop the producer; the rest waits in the outbox."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._producer is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.drain(), drain_timeout_s)
        await self._close_producer()

    def wake(self) -> None:
        """Ask for a drain now (called after each commit)."""
        self._wake.set()

    async def run(self) -> None:
        """Publish until cancelled, retrying with back-off while Kafka or the database fail."""
        delay = 0.2
        while True:
            try:
                async with self._leadership():
                    await self._prepare()
                    delay = 0.2
                    while True:
                        if await self.drain() == 0:
                            await self._sleep()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # keep going: the outbox holds everything not yet acked
                self._metrics.failures.inc()
                log.warning("registry publisher: %s; retrying in %.1fs", type(exc).__name__, delay)
                await self._close_producer()
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)

    async def _sleep(self) -> None:
        # asyncio.timeout, not wait_for: on Python 3.11 wait_for may swallow a cancellation that
        # lands as the wake-up does, and stop() would then wait for ever.
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(self._interval_s):
                await self._wake.wait()
        self._wake.clear()

    @contextlib.asynccontextmanager
    async def _leadership(self) -> AsyncIterator[None]:
        if self._engine.dialect.name != "postgresql":
            yield  # one SQLite file has one registry process
            return
        async with self._engine.connect() as conn:
            while not await conn.scalar(
                sa.text("SELECT pg_try_advisory_lock(:k)"), {"k": _PUBLISHER_LOCK}
            ):
                await conn.rollback()
                await asyncio.sleep(self._interval_s)
            await conn.commit()
            try:
                yield
            finally:
                with contextlib.suppress(Exception):
                    await conn.execute(sa.text("SELECT pg_advisory_unlock_all()"))

    async def _prepare(self) -> None:
        if self._topic not in self._topics_ready:
            spec = next(s for s in platform_topics() if s.name == REGISTRY_TOPIC)
            await self._make_topics([TopicSpec(self._topic, 1, config=spec.config)])
            self._topics_ready.add(self._topic)
        missing = [t for t in self._audit_topics if t.name not in self._topics_ready]
        if missing:
            await self._make_topics(missing)
            self._topics_ready |= {t.name for t in missing}
        if self._producer is None:
            producer = self._producer_factory()
            try:
                await producer.start()
            except BaseException:
                await producer.stop()
                raise
            self._producer = producer

    async def drain(self) -> int:
        """Publish one batch of pending events, then of audit records; returns how many."""
        return await self._drain_events() + await self._drain_audit()

    async def _drain_audit(self) -> int:
        async with self._engine.connect() as conn:
            rows = (
                await conn.execute(
                    sa.select(audit_outbox).order_by(audit_outbox.c.seq).limit(BATCH)
                )
            ).all()
            await conn.rollback()
        if not rows:
            return 0
        await asyncio.wait_for(self._send(rows), self._timeout_s)
        async with self._engine.begin() as conn:
            await conn.execute(audit_outbox.delete().where(audit_outbox.c.seq <= rows[-1].seq))
        return len(rows)

    async def _drain_events(self) -> int:
        async with self._engine.connect() as conn:
            rows = (
                await conn.execute(
                    sa.select(outbox.c.seq, outbox.c.record_key, outbox.c.payload)
                    .order_by(outbox.c.seq)
                    .limit(BATCH)
                )
            ).all()
            await conn.rollback()
        if not rows:
            self._metrics.pending.set(0)
            return 0
        await self._ensure_data_topics([str(row.record_key) for row in rows])
        await asyncio.wait_for(self._send(rows), self._timeout_s)
        async with self._engine.begin() as conn:
            await conn.execute(outbox.delete().where(outbox.c.seq <= rows[-1].seq))
            self._metrics.pending.set(await self._pending(conn))
        self._metrics.published.inc(len(rows))
        return len(rows)

    async def _send(self, rows: Sequence[Any]) -> None:
        assert self._producer is not None
        headers = [("content-type", b"application/json")]
        acks = []
        for row in rows:
            value = row.payload.encode("utf-8") if row.payload is not None else None
            acks.append(
                await self._producer.send(
                    getattr(row, "topic", None) or self._topic,
                    value=value,
                    key=row.record_key.encode("utf-8"),
                    headers=headers if value is not None else None,
                )
            )
        await asyncio.gather(*acks)

    async def _ensure_data_topics(self, keys: list[str]) -> None:
        # A contract's record key is "contract:<id>"; its subject is the topic to provision.
        if not any(key.startswith("contract:") for key in keys):
            return
        async with self._engine.connect() as conn:
            ids = [key.partition(":")[2] for key in keys if key.startswith("contract:")]
            found = await conn.execute(
                sa.select(contracts.c.subject).where(contracts.c.id.in_(ids)).distinct()
            )
            wanted = {str(row[0]) for row in found} - self._topics_ready
        if wanted:
            specs = [TopicSpec(t, self._kafka.default_partitions) for t in sorted(wanted)]
            await self._make_topics(specs)
            self._topics_ready |= wanted

    @staticmethod
    async def _pending(conn: AsyncConnection) -> int:
        return int(await conn.scalar(sa.select(sa.func.count()).select_from(outbox)) or 0)

    async def _close_producer(self) -> None:
        if self._producer is not None:
            with contextlib.suppress(Exception):
                await self._producer.stop()
            self._producer = None
