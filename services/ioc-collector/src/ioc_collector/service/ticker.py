"""The live side: a hub fanning KPI and health changes out to SSE clients, and the ticker.

Every tick the ticker advances the processing clock (closing quiet windows), re-reads what other
replicas committed, measures lag now and then, rebuilds the KPI catalogue and the health table,
offers both to the hub (which passes on only what changed) and publishes changed snapshots.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime

from pydantic import BaseModel

from ioc_collector.adapters.lag import LagProbe
from ioc_collector.adapters.snapshots import SnapshotPublisher
from ioc_collector.adapters.stream import StreamProcessor
from ioc_collector.adapters.view import CollectorView
from ioc_collector.reports import Reports

log = logging.getLogger(__name__)
Message = tuple[str, str]
QUEUE_SIZE = 64


class LiveHub:
    """Keeps the latest payload per event name and hands changes to every subscriber."""

    def __init__(self) -> None:
        self._subscribers: set[asyncio.Queue[Message]] = set()
        self._latest: dict[str, tuple[str, str]] = {}

    def offer(self, name: str, payload: BaseModel) -> bool:
        """Publish `payload` under `name` if it differs from the last one (time aside)."""
        fingerprint = payload.model_dump_json(exclude={"generated_at"})
        if name in self._latest and self._latest[name][0] == fingerprint:
            return False
        data = payload.model_dump_json()
        self._latest[name] = (fingerprint, data)
        for queue in self._subscribers:
            if queue.full():  # a slow client misses intermediate states, never the latest
                queue.get_nowait()
            queue.put_nowait((name, data))
        return True

    def current(self) -> list[Message]:
        """Return the latest payload of every event name."""
        return [(name, data) for name, (_, data) in self._latest.items()]

    @contextlib.contextmanager
    def subscribe(self) -> Iterator[asyncio.Queue[Message]]:
        """Register a subscriber queue for the duration of the block."""
        queue: asyncio.Queue[Message] = asyncio.Queue(QUEUE_SIZE)
        self._subscribers.add(queue)
        try:
            yield queue
        finally:
            self._subscribers.discard(queue)


class Ticker:
    """Runs the periodic work of the read side."""

    def __init__(
        self,
        processor: StreamProcessor,
        view: CollectorView,
        lag: LagProbe,
        reports: Reports,
        hub: LiveHub,
        publisher: SnapshotPublisher,
        topics: Sequence[str],
        tick_interval_s: float,
        lag_interval_s: float,
    ) -> None:
        self._processor = processor
        self._view = view
        self._lag = lag
        self._reports = reports
        self._hub = hub
        self._publisher = publisher
        self._topics = list(topics)
        self._tick_s = tick_interval_s
        self._lag_s = lag_interval_s
        self._last_lag = 0.0
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Run the ticker in the background."""
        self._task = asyncio.create_task(self._run(), name="collector-ticker")

    async def stop(self) -> None:
        """Stop the ticker."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        while True:
            try:
                await self.step()
            except Exception:  # one failed refresh must not end the live view
                log.exception("collector tick failed")
            await asyncio.sleep(self._tick_s)

    async def step(self) -> None:
        """Do one round of the periodic work."""
        await self._processor.tick()
        await self._view.refresh()
        if time.monotonic() - self._last_lag >= self._lag_s:
            self._last_lag = time.monotonic()
            positions = {key: view.position for key, view in self._view.partitions().items()}
            await self._lag.measure(self._topics, positions)
        now = datetime.now(UTC)
        self._hub.offer("kpis", self._reports.catalogue(now))
        self._hub.offer("health", self._reports.health(now))
        await self._publisher.publish(self._view.aggregation())
