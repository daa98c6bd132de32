"""Committed positions of pull consumers, kept as Kafka consumer-group offsets.

A consumer's committed cursor is stored as the offsets of the group `lgsp.consumer.<id>`, so
standard Kafka lag tooling (`kafka-consumer-groups.sh --describe`, the collector's health view)
shows each consumer's lag. The gateway never joins that group: a consumer with the group id and
a manual assignment commits with the "simple" (generation -1) commit, which the broker accepts
as long as no member is active in the group. One committer per consumer id is kept (a bounded,
least-recently-used set), so a commit creates no Kafka client in the common case.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import OrderedDict
from collections.abc import Mapping

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.structs import OffsetAndMetadata

from lgsp_common.kafka import create_consumer
from lgsp_common.settings import KafkaSettings

GROUP_PREFIX = "lgsp.consumer."
MAX_COMMITTERS = 32


def group_of(consumer_id: str) -> str:
    """Return the Kafka consumer group that holds a pull consumer's committed positions."""
    return GROUP_PREFIX + consumer_id


class ConsumerOffsets:
    """Commits and reads the group offsets of pull consumers."""

    def __init__(self, kafka: KafkaSettings, client_id: str) -> None:
        self._kafka = kafka
        self._client_id = client_id
        self._committers: OrderedDict[str, AIOKafkaConsumer] = OrderedDict()
        self._lock = asyncio.Lock()

    async def _committer(self, consumer_id: str) -> AIOKafkaConsumer:
        # Called under the lock: one assignment at a time per committer.
        found = self._committers.get(consumer_id)
        if found is not None:
            self._committers.move_to_end(consumer_id)
            return found
        committer = create_consumer(self._kafka, self._client_id, group_of(consumer_id))
        await committer.start()
        self._committers[consumer_id] = committer
        if len(self._committers) > MAX_COMMITTERS:
            _, oldest = self._committers.popitem(last=False)
            await oldest.stop()
        return committer

    async def commit(self, consumer_id: str, topic: str, positions: Mapping[int, int]) -> None:
        """Store the positions (next offsets to read) as the consumer's group offsets."""
        tps = {TopicPartition(topic, p): offset for p, offset in positions.items()}
        async with self._lock:
            committer = await self._committer(consumer_id)
            committer.assign(list(tps))
            await committer.commit({tp: OffsetAndMetadata(o, "") for tp, o in tps.items()})

    async def committed(
        self, consumer_id: str, topic: str, partitions: list[int]
    ) -> dict[int, int | None]:
        """Return each partition's committed position (None where nothing was committed)."""
        tps = [TopicPartition(topic, p) for p in partitions]
        found: dict[int, int | None] = {}
        async with self._lock:
            committer = await self._committer(consumer_id)
            committer.assign(tps)
            for tp in tps:
                found[tp.partition] = await committer.committed(tp)
        return found

    async def stop(self) -> None:
        """Stop every committer."""
        for committer in self._committers.values():
            with contextlib.suppress(Exception):
                await committer.stop()
        self._committers.clear()
