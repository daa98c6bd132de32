"""Applying one partition's fetched records to its state: as a batch, or one by one.

The batch path (decode to columns, `BatchAggregator.apply_batch`, `record_events`) is the one
the loop takes; it leaves the state that applying the records one by one leaves, in a fraction
of the time. The one-by-one path is the reference, and the fallback: if a batch fails (a bug,
never bad data: bad data is poison), the loop reloads the partition's committed state and
replays the failed range one by one, where a failing record costs that record only.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime

from ioc_collector.adapters.decode import (
    ContractValidators,
    Poison,
    Record,
    decode_batch,
    event_from_record,
    rejected_source,
)
from ioc_collector.adapters.tracing import RecordSpans
from ioc_collector.domain.activity import (
    PartitionActivity,
    record_event,
    record_events,
    record_poison,
    record_rejection,
)
from ioc_collector.domain.batch import BatchAggregator
from ioc_collector.domain.events import EventBatch
from ioc_collector.domain.owned_partition import OwnedPartition
from ioc_collector.metrics import CollectorMetrics

log = logging.getLogger(__name__)


class RecordApplier:
    """Applies a partition's records (those at or past its position) to its state."""

    def __init__(
        self,
        aggregator: BatchAggregator,
        validators: ContractValidators,
        metrics: CollectorMetrics,
        spans: RecordSpans,
        dlq_topic: str,
    ) -> None:
        self.aggregator = aggregator
        self._validators = validators
        self._metrics = metrics
        self._spans = spans
        self._dlq_topic = dlq_topic

    def apply(
        self, owned: OwnedPartition, topic: str, partition: int, records: Sequence[Record],
        now: datetime,
    ) -> int:  # fmt: skip
        """Apply the records as one batch; return how many were events applied to the KPIs."""
        if topic == self._dlq_topic:
            return self.apply_one_by_one(owned, topic, partition, records, now)
        spans = self._spans.start(topic, partition, records)
        failed: dict[int, str] = {}
        try:
            decoded = decode_batch(topic, partition, records, self._validators)
            self.aggregator.apply_batch(decoded.events, owned.state, now)
            _count_events(owned.activity, decoded.events)
            for record, poison in decoded.poison:
                failed[record.offset] = poison.reason
                record_poison(owned.activity, poison.reason, record.timestamp)
                self._metrics.poison.labels(topic, poison.reason).inc()
        except Exception:
            failed = {record.offset: "error" for record in records}
            raise
        finally:
            self._spans.end(spans, records, failed)
        return len(decoded.events)

    def apply_one_by_one(
        self, owned: OwnedPartition, topic: str, partition: int, records: Sequence[Record],
        now: datetime,
    ) -> int:  # fmt: skip
        """Apply the records one at a time (the reference path; never raises for a record)."""
        self.aggregator.tick(owned.state, now)
        spans = [] if topic == self._dlq_topic else self._spans.start(topic, partition, records)
        failed: dict[int, str] = {}
        applied = 0
        for record in records:
            reason = self._apply_record(owned, record)
            if reason is None:
                applied += record.topic != self._dlq_topic
            else:
                failed[record.offset] = reason
        self._spans.end(spans, records, failed)
        return applied

    def _apply_record(self, owned: OwnedPartition, record: Record) -> str | None:
        """Apply one record; return why it was not an event applied to the KPIs, if so."""
        if record.topic == self._dlq_topic:
            source = rejected_source(record)
            if source is None:
                record_poison(owned.activity, "not_json", record.timestamp)
                return "not_json"
            record_rejection(owned.activity, source, record.timestamp)
            return None
        try:
            decoded = event_from_record(record, self._validators)
            if isinstance(decoded, Poison):
                self._metrics.poison.labels(record.topic, decoded.reason).inc()
                record_poison(owned.activity, decoded.reason, record.timestamp)
                return decoded.reason
            self.aggregator.apply(decoded, owned.state)
            event_time = decoded.time.isoformat()
            record_event(owned.activity, decoded.source, record.timestamp, event_time)
        except Exception:  # a bug must cost one record, not the stream
            log.exception("cannot apply an event", extra={"topic": record.topic})
            record_poison(owned.activity, "error", record.timestamp)
            return "error"
        return None


def _count_events(activity: PartitionActivity, events: EventBatch) -> None:
    def event_time(index: int) -> str:
        return events.time(index).isoformat()

    record_events(activity, events.sources, events.received_ms, event_time)
