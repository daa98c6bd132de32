"""A subscription's positions: Kafka consumer-group offsets, with the last replay applied.

Each subscription has its own consumer group (`lgsp.webhook.<id>`): workers share its partitions,
standard lag tooling shows how far behind each subscription is, and a replay is a reset of that
group's offsets. Every commit carries the id of the replay in force as the offset's metadata, so
when a partition is assigned (to any worker, after any restart) a replay not yet applied to it
is seen and applied exactly once: seek, then commit the new position with the new replay id.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition
from aiokafka.structs import OffsetAndMetadata

log = logging.getLogger(__name__)


class ReplayOnAssign(ConsumerRebalanceListener):  # type: ignore[misc]
    """Applies a pending replay to each partition as it is assigned."""

    def __init__(
        self,
        consumer: AIOKafkaConsumer,
        replay: Callable[[], tuple[str | None, Mapping[str, Any] | None]],
        on_revoked: Callable[[list[TopicPartition]], Any],
    ) -> None:
        self._consumer = consumer
        self._replay = replay
        self._on_revoked = on_revoked

    async def on_partitions_revoked(self, revoked: list[TopicPartition]) -> None:
        """Commit what was delivered on the partitions leaving this worker."""
        await self._on_revoked(list(revoked))

    async def on_partitions_assigned(self, assigned: list[TopicPartition]) -> None:
        """Seek to the replay's position where it has not been applied yet."""
        replay_id, replay = self._replay()
        if not assigned or replay_id is None or replay is None:
            return
        # aiokafka's public `committed()` drops the metadata; the coordinator's call keeps it.
        committed = await self._consumer._coordinator.fetch_committed_offsets(list(assigned))
        targets: dict[TopicPartition, int] = {}
        for tp in assigned:
            found = committed.get(tp)
            if found is not None and found.metadata == replay_id:
                continue
            target = await self._target(tp, replay)
            if target is not None:
                targets[tp] = target
        for tp, offset in targets.items():
            self._consumer.seek(tp, offset)
        if targets:
            await self._consumer.commit(
                {tp: OffsetAndMetadata(o, replay_id) for tp, o in targets.items()}
            )
            log.info("replay %s applied to %d partition(s)", replay_id, len(targets))

    async def _target(self, tp: TopicPartition, replay: Mapping[str, Any]) -> int | None:
        position = replay.get("position")
        if position == "earliest":
            return int((await self._consumer.beginning_offsets([tp]))[tp])
        if position == "latest":
            return int((await self._consumer.end_offsets([tp]))[tp])
        offsets = replay.get("offsets") or {}
        return int(offsets[str(tp.partition)]) if str(tp.partition) in offsets else None


def commit_map(done: Mapping[TopicPartition, int], replay_id: str | None) -> dict[Any, Any]:
    """Return offsets to commit, each tagged with the replay in force."""
    return {tp: OffsetAndMetadata(offset, replay_id or "") for tp, offset in done.items()}
