"""The read side: every partition's state, merged, whichever replica owns the partition.

This replica's own partitions are read live from memory; the others come from the shared state
store as their owners committed them (refreshed every tick, re-read only when their revision
changed). So any replica answers for all the KPIs, and two replicas give the same figures once
both have committed.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from ioc_collector.adapters.state_and_positions_store import (
    PartitionRow,
    StateStore,
    TopicPartitionKey,
)
from ioc_collector.domain.activity import PartitionActivity
from ioc_collector.domain.merge import merge_states
from ioc_collector.domain.state import AggregationState
from ioc_collector.domain.state_load import assemble
from ioc_collector.stream.exactly_once_loop import StreamProcessor


@dataclass(frozen=True, slots=True)
class PartitionView:
    """One partition as the read side sees it."""

    position: int
    state: AggregationState
    activity: PartitionActivity
    owned: bool


def _parse(rows: list[PartitionRow]) -> list[tuple[PartitionRow, PartitionView]]:
    return [
        (
            row,
            PartitionView(
                row.position,
                assemble(row.aggregation, row.windows)[0],
                PartitionActivity.model_validate_json(row.activity),
                owned=False,
            ),
        )
        for row in rows
    ]


class CollectorView:
    """Merges owned and foreign partition states; caches the merge per version."""

    def __init__(self, processor: StreamProcessor, store: StateStore) -> None:
        self._processor = processor
        self._store = store
        self._foreign: dict[TopicPartitionKey, tuple[int, PartitionView]] = {}
        self._foreign_version = 0
        self._cached: tuple[tuple[int, int], AggregationState] | None = None

    @property
    def version(self) -> tuple[int, int]:
        """Return a value that changes whenever the merged view may have changed."""
        return (self._processor.version, self._foreign_version)

    async def refresh(self) -> None:
        """Re-read the partitions other replicas committed since the last refresh."""
        revisions = await self._store.revisions()
        owned = self._processor.owned
        stale = [
            key
            for key, (revision, _) in revisions.items()
            if key not in owned and self._foreign.get(key, (None,))[0] != revision
        ]
        gone = [key for key in self._foreign if key not in revisions]
        for key in gone:
            del self._foreign[key]
        if stale:
            rows = await self._store.load(stale, ids=False)  # cells only: no dedup ids
            for row, view in await asyncio.to_thread(_parse, list(rows.values())):
                self._foreign[(row.topic, row.partition)] = (row.revision, view)
        if stale or gone:
            self._foreign_version += 1

    def partitions(self) -> dict[TopicPartitionKey, PartitionView]:
        """Return every known partition: owned ones live, others as last committed."""
        result = {key: view for key, (_, view) in self._foreign.items()}
        for key, owned in self._processor.owned.items():
            result[key] = PartitionView(owned.position, owned.state, owned.activity, owned=True)
        return result

    def aggregation(self) -> AggregationState:
        """Return the merged KPI state of all partitions."""
        version = self.version
        if self._cached is None or self._cached[0] != version:
            merged = merge_states(view.state for view in self.partitions().values())
            self._cached = (version, merged)
        return self._cached[1]
