"""One subscription on one worker: poll its group's partitions, deliver in order, commit.

Each partition has its lane (`partition_lane`): its chunks are settled in order, one entity
key's records one after another, different keys concurrently; partitions never wait for each
other, and a partition whose lane is far behind is paused at the consumer. Every
`COMMIT_INTERVAL_S` the positions after the settled chunks are committed (with the replay id in
force); a worker killed before that commit loses nothing: the group's next owner delivers the
unacknowledged tail again, with the same `webhook-id`s, so the receiver can drop the
duplicates. Every settled chunk of a partition is audited on `lgsp.audit` (consumer, purpose,
topic, offsets, fields disclosed by name).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import KafkaError

from lgsp_common.audit import AuditTrail
from lgsp_common.kafka import create_consumer
from lgsp_common.minimise import FieldSelection
from lgsp_gateway.delivery.adapters.positions import ReplayOnAssign, commit_map
from lgsp_gateway.delivery.domain.cloudevent import envelope
from lgsp_gateway.delivery.domain.plan import Plan, group_of
from lgsp_gateway.delivery.service.deliver_record import Place, RecordDelivery, Stopped
from lgsp_gateway.delivery.service.partition_lane import Lane, settle_by_key
from lgsp_gateway.delivery.settings import WebhookSettings

log = logging.getLogger(__name__)
ACTION = "webhook.deliver"
COMMIT_INTERVAL_S = 0.5


@dataclass
class Tally:
    """What one partition's batch delivered, for its audit record."""

    first: int = -1
    last: int = -1
    count: int = 0
    delivered: int = 0
    disclosed: set[str] | None = None


class SubscriptionRunner:
    """Delivers one subscription's records from the partitions this worker is given."""

    def __init__(
        self,
        settings: WebhookSettings,
        plan: Plan,
        current: Callable[[], Plan | None],
        delivery: RecordDelivery,
        trail: AuditTrail,
    ) -> None:
        self.plan = plan
        self._settings = settings
        self._current = current
        self._delivery = delivery
        self._trail = trail
        self._done: dict[TopicPartition, int] = {}
        self._consumer: AIOKafkaConsumer | None = None
        self._task: asyncio.Task[None] | None = None
        self._selections: dict[tuple[str, ...], FieldSelection] = {}
        self._lanes: dict[TopicPartition, Lane] = {}
        self._paused: set[TopicPartition] = set()
        self._committed_at = 0.0

    @property
    def failed(self) -> bool:
        """Tell whether the loop ended by itself (an error): the supervisor restarts it."""
        return self._task is not None and self._task.done()

    async def start(self) -> None:
        """Join the subscription's group and start delivering."""
        consumer = create_consumer(
            self._settings.kafka,
            f"lgsp-webhooks-{self._settings.instance_id}",
            group_of(self.plan.id),
            auto_offset_reset=self._settings.start_from,
            max_poll_interval_ms=3_600_000,
            session_timeout_ms=int(self._settings.session_timeout_s * 1000),
            heartbeat_interval_ms=1_000,
        )
        listener = ReplayOnAssign(consumer, self._replay, self._commit_partitions)
        consumer.subscribe([self.plan.topic], listener=listener)
        await consumer.start()
        self._consumer = consumer
        self._task = asyncio.create_task(self._loop(consumer), name=f"webhook {self.plan.id}")

    async def stop(self) -> None:
        """Stop delivering (an attempt in flight is abandoned), commit what was settled, leave."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
        await asyncio.gather(*(lane.stop() for lane in self._lanes.values()))
        self._lanes.clear()
        if self._consumer is not None:
            bound = self._settings.produce_timeout_s  # Kafka down: stop anyway, in bounded time
            try:
                await asyncio.wait_for(self._commit(), bound)
            except (KafkaError, TimeoutError) as exc:
                log.warning(
                    "webhook %s: last positions not committed (%r); the records after "
                    "the previous commit will be delivered again",
                    self.plan.id,
                    exc,
                )
            with contextlib.suppress(KafkaError, TimeoutError):
                await asyncio.wait_for(self._consumer.stop(), bound)
            self._consumer = None

    def _replay(self) -> tuple[str | None, Any]:
        # The replay this runner was started for: a newer one restarts the runner, and must not
        # be marked as applied by this runner's last commits.
        return self.plan.replay_id, self.plan.replay

    def _selection(self, plan: Plan) -> FieldSelection:
        found = self._selections.get(plan.fields)
        if found is None:
            found = self._selections[plan.fields] = FieldSelection(plan.fields)
        return found

    async def _loop(self, consumer: AIOKafkaConsumer) -> None:
        limit = self._settings.max_batch
        while True:
            for lane in self._lanes.values():
                if (error := lane.error()) is not None:
                    raise error
            batches = await consumer.getmany(timeout_ms=100, max_records=limit)
            for tp, records in batches.items():
                if tp not in self._lanes:
                    self._lanes[tp] = Lane(tp, self._partition)
                lane = self._lanes[tp]
                lane.feed(records)
                if lane.backlog >= 2 * limit:
                    consumer.pause(tp)
                    self._paused.add(tp)
            for tp in list(self._paused):
                behind = self._lanes.get(tp)
                if behind is None or behind.backlog < limit:
                    self._paused.discard(tp)
                    if tp in consumer.assignment():
                        consumer.resume(tp)
            if time.monotonic() - self._committed_at >= COMMIT_INTERVAL_S:
                await self._commit()

    async def _partition(self, tp: TopicPartition, records: list[Any]) -> None:
        tally = Tally(first=records[0].offset, last=records[-1].offset, disclosed=set())

        async def settle(record: Any) -> None:
            await self._settle(tp, record, tally)

        try:
            await settle_by_key(records, settle, self._settings.concurrency_per_partition)
        finally:
            if tally.count:
                await self._audit(tp, tally)
        self._done[tp] = records[-1].offset + 1

    async def _settle(self, tp: TopicPartition, record: Any, tally: Tally) -> None:
        plan = self._current()
        if plan is None:
            raise Stopped(tp)
        place = Place(tp.topic, tp.partition, record.offset)
        try:
            event = envelope(
                tp.partition, record.offset, record.value, record.headers, self._selection(plan)
            )
        except ValueError as exc:
            await self._delivery.refuse(plan, place, f"undecodable: {exc}")
            tally.count += 1
            return
        tally.count += 1
        if await self._delivery.settle(self._current, place, event):
            tally.delivered += 1
            assert tally.disclosed is not None
            tally.disclosed.update(event.disclosed)

    async def _audit(self, tp: TopicPartition, tally: Tally) -> None:
        plan = self._current() or self.plan
        fields: dict[str, Any] = {
            "actor": {"kind": "consumer", "id": plan.consumer_id},
            "action": ACTION,
            "topic": tp.topic,
            "purpose": plan.purpose or None,
            "result": "success" if tally.delivered == tally.count else "error",
            "status_code": 200 if tally.delivered == tally.count else 502,
            "event_ids": [],
            "record_count": tally.delivered,
            "offsets": [
                {
                    "partition": tp.partition,
                    "first_offset": tally.first,
                    "last_offset": tally.last,
                    "count": tally.count,
                }
            ],
            "disclosed_fields": sorted(tally.disclosed or ()),
        }
        try:
            await asyncio.wait_for(self._trail.record(**fields), self._settings.produce_timeout_s)
        except Exception:  # the delivery happened; the missing record shows as a chain gap
            log.exception("webhook audit record not acknowledged")

    async def _commit_partitions(self, partitions: list[TopicPartition]) -> None:
        """On revocation: abandon those lanes, commit what they settled."""
        lanes = [self._lanes.pop(tp) for tp in partitions if tp in self._lanes]
        await asyncio.gather(*(lane.stop() for lane in lanes))
        self._paused.difference_update(partitions)
        await self._commit({tp: self._done[tp] for tp in partitions if tp in self._done})

    async def _commit(self, done: dict[TopicPartition, int] | None = None) -> None:
        pending = dict(self._done) if done is None else done
        if not pending or self._consumer is None:
            return
        self._committed_at = time.monotonic()
        replay_id, _ = self._replay()
        try:
            await self._consumer.commit(commit_map(pending, replay_id))
        except KafkaError as exc:  # rebalanced away: the new owner redelivers the tail
            log.warning("webhook commit failed (%s); the tail is delivered again", exc)
        for tp, offset in pending.items():
            if self._done.get(tp) == offset:
                del self._done[tp]
