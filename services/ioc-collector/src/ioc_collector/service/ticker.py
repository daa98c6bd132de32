"""The read side's periodic work, once per tick.

Every tick the ticker advances the processing clock (closing quiet windows), re-reads what other
replicas committed, measures lag now and then, rebuilds the KPI catalogue and the health table,
offers both to the live hub (which passes on only what changed) and publishes changed snapshots.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from ioc_collector.adapters.lag import LagProbe
from ioc_collector.adapters.snapshots import SnapshotPublisher
from ioc_collector.service.live_hub import LiveHub
from ioc_collector.service.merged_view import CollectorView
from ioc_collector.service.reports import Reports
from ioc_collector.stream.exactly_once_loop import StreamProcessor

log = logging.getLogger(__name__)


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
        topics: Callable[[], Sequence[str]],
        tick_interval_s: float,
        lag_interval_s: float,
    ) -> None:
        self._processor = processor
        self._view = view
        self._lag = lag
        self._reports = reports
        self._hub = hub
        self._publisher = publisher
        self._topics = topics  # the topics followed now
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
            await self._lag.measure(self._topics(), positions)
        now = datetime.now(UTC)
        self._hub.offer("kpis", self._reports.catalogue(now))
        self._hub.offer("health", self._reports.health(now))
        await self._publisher.publish(self._view.aggregation())
