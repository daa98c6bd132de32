"""Publishes KPI snapshots to the compacted `ioc.kpi` topic for other consumers.

Key: `<kpi id>|<window start>|<dimension values as canonical JSON, or * for the roll-up>`; value:
the snapshot JSON. Each replica publishes a key when its merged view of that key differs from
what it last published, so after a replay, a rebalance or another replica's commit the topic
converges to the merged figures; compaction keeps the latest per key.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

import orjson
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

from ioc_collector.domain.definitions import KpiDefinition
from ioc_collector.domain.state import AggregationState
from ioc_collector.domain.summary import snapshot_body, snapshots
from ioc_collector.metrics import CollectorMetrics

log = logging.getLogger(__name__)


class SnapshotPublisher:
    """Sends the changed KPI snapshots; remembers what it sent."""

    def __init__(
        self,
        producer: AIOKafkaProducer,
        topic: str,
        catalogue: Callable[[], Sequence[KpiDefinition]],
        metrics: CollectorMetrics,
    ) -> None:
        self._producer = producer
        self._topic = topic
        self._catalogue = catalogue  # the KPIs in force, read at each publication
        self._sent: dict[str, tuple[float | None, bool]] = {}
        self._published = metrics.snapshots

    async def publish(self, state: AggregationState) -> int:
        """Publish every snapshot whose value or closed flag changed; returns how many."""
        pending = []
        for kpi in self._catalogue():
            for snap in snapshots(state, kpi):
                if self._sent.get(snap.key) != (snap.value, snap.closed):
                    pending.append((snap.key, (snap.value, snap.closed), snapshot_body(snap, kpi)))
        if not pending:
            return 0
        now = datetime.now(UTC).isoformat()
        try:
            futures = [
                await self._producer.send(
                    self._topic,
                    orjson.dumps({**body, "published_at": now}),
                    key=key.encode(),
                    headers=[("content-type", b"application/json")],
                )
                for key, _, body in pending
            ]
            await asyncio.gather(*futures)
        except KafkaError as exc:  # the next tick tries again: nothing was marked as sent
            log.warning("KPI snapshots not published", extra={"error": repr(exc)})
            return 0
        for key, sent, _ in pending:
            self._sent[key] = sent
        self._published.inc(len(pending))
        return len(pending)
