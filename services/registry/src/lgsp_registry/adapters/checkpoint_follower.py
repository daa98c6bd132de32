"""Follow the audit checkpoints topic and anchor every checkpoint in the registry's database.

The topic is compacted (only the newest checkpoint per chain survives), so the follower reads
it from the beginning at every start and stores each checkpoint once (append only, by digest):
the database keeps every checkpoint ever seen. Any failure (broker away, topic not created yet)
is logged and retried with a growing pause; a record that is not a checkpoint is skipped.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import datetime

from aiokafka import AIOKafkaConsumer, TopicPartition
from sqlalchemy.ext.asyncio import AsyncEngine

from lgsp_common.settings import KafkaSettings
from lgsp_registry.adapters.audit_rows import store_checkpoint
from lgsp_registry.adapters.store import utcnow

log = logging.getLogger(__name__)


class CheckpointFollower:
    """A background task copying `topic` into the audit_checkpoints table."""

    def __init__(
        self,
        kafka: KafkaSettings,
        topic: str,
        engine: AsyncEngine,
        clock: Callable[[], datetime] = utcnow,
        max_backoff_s: float = 30.0,
    ) -> None:
        self._kafka = kafka
        self._topic = topic
        self._engine = engine
        self._clock = clock
        self._max_backoff_s = max_backoff_s
        self._task: asyncio.Task[None] | None = None
        self.stored = 0

    def start(self) -> None:
        """Start following (idempotent)."""
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name=f"follow {self._topic}")

    async def stop(self) -> None:
        """Stop following."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            done, _ = await asyncio.wait({task}, timeout=5.0)  # a stuck connect must not hang
            for finished in done:
                with contextlib.suppress(asyncio.CancelledError):
                    finished.result()

    async def _run(self) -> None:
        backoff = 0.5
        while True:
            try:
                await self._follow()
            except Exception as exc:  # any failure: say so, wait, follow again
                log.warning(
                    "audit checkpoints not followed (%s: %s); retrying in %.1f s",
                    type(exc).__name__,
                    exc,
                    backoff,
                )
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, self._max_backoff_s)

    async def _follow(self) -> None:
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self._kafka.bootstrap_servers,
            group_id=None,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            client_id="lgsp-registry-audit-checkpoints",
        )
        await consumer.start()
        try:
            await consumer._client.force_metadata_update()
            found = consumer.partitions_for_topic(self._topic) or set()
            if not found:
                raise LookupError(f"topic {self._topic!r} does not exist (yet)")
            partitions = [TopicPartition(self._topic, p) for p in sorted(found)]
            consumer.assign(partitions)
            await consumer.seek_to_beginning(*partitions)
            while True:
                for records in (await consumer.getmany(timeout_ms=1000)).values():
                    for record in records:
                        await self._store(record.value)
        finally:
            await consumer.stop()

    async def _store(self, value: bytes | None) -> None:
        if not value:
            return
        try:
            if await store_checkpoint(self._engine, value, self._clock()):
                self.stored += 1
        except (ValueError, KeyError, TypeError) as exc:
            log.warning("skipped a record that is not an audit checkpoint: %s", exc)
