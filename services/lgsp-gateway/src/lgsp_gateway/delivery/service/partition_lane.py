"""One partition's pipeline inside a subscription runner: chunks settled in order, keys in parallel.

The poll loop feeds each partition's records to its lane as they are fetched, so a partition
that is retrying never holds up another. A lane settles its chunks one after another; inside a
chunk, records of different entity keys are delivered concurrently (up to `window` at once)
while each key's records wait for the one before them, so one entity's events still arrive in
order. A chunk counts as settled (and its position may be committed) only when all its records
are.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any

from aiokafka import TopicPartition

ChunkHandler = Callable[[TopicPartition, list[Any]], Awaitable[None]]
RecordHandler = Callable[[Any], Awaitable[None]]


async def settle_by_key(records: list[Any], settle: RecordHandler, window: int) -> None:
    """Settle records, each key in order, different keys concurrently (at most `window`)."""
    slots = asyncio.Semaphore(window)
    tails: dict[bytes | None, asyncio.Task[None]] = {}

    async def one(record: Any, before: asyncio.Task[None] | None) -> None:
        if before is not None:
            await before
        async with slots:
            await settle(record)

    async with asyncio.TaskGroup() as group:
        for record in records:
            tails[record.key] = group.create_task(one(record, tails.get(record.key)))


class Lane:
    """Feeds one partition's chunks, in order, to a handler running in its own task."""

    def __init__(self, tp: TopicPartition, handle: ChunkHandler) -> None:
        self.tp = tp
        self.backlog = 0
        self._handle = handle
        self._chunks: deque[list[Any]] = deque()
        self._wake = asyncio.Event()
        self._task = asyncio.create_task(self._run(), name=f"lane {tp.topic}/{tp.partition}")

    def feed(self, records: list[Any]) -> None:
        """Queue one fetched chunk."""
        self._chunks.append(records)
        self.backlog += len(records)
        self._wake.set()

    def error(self) -> BaseException | None:
        """Return the exception that ended the lane, if it ended."""
        if self._task.done() and not self._task.cancelled():
            return self._task.exception()
        return None

    async def _run(self) -> None:
        while True:
            while not self._chunks:
                self._wake.clear()
                await self._wake.wait()
            chunk = self._chunks[0]
            await self._handle(self.tp, chunk)
            self._chunks.popleft()
            self.backlog -= len(chunk)

    async def stop(self) -> None:
        """Abandon what is in flight (it was not committed, so it is delivered again)."""
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await self._task
