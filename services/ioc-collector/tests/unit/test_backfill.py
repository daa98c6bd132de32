"""Runtime KPIs: which KPIs a partition covers, and a backfill that hands over exactly.

The backfill runner runs on a fake consumer over an in-memory partition; the result is compared
byte for byte with the state of applying every record from the start.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

from aiokafka import TopicPartition
from prometheus_client import CollectorRegistry

from ioc_collector.adapters.decode import ContractValidators, decode_batch
from ioc_collector.domain.activity import PartitionActivity
from ioc_collector.domain.batch import BatchAggregator
from ioc_collector.domain.coverage import hand_over, progress, reconcile
from ioc_collector.domain.definitions import KpiDefinition
from ioc_collector.domain.owned_partition import OwnedPartition
from ioc_collector.domain.state import AggregationState, Backfill, KpiState, dump_state
from ioc_collector.metrics import CollectorMetrics
from ioc_collector.stream.backfill import BackfillRunner
from ioc_collector.stream.exactly_once_loop import StreamProcessor
from lgsp_common.envelope import CloudEvent, to_kafka

ROOT = Path(__file__).resolve().parents[4]
TOPIC = "tthc.dossier.v1"
VALID = json.loads(
    (ROOT / f"contracts/topics/{TOPIC}/examples/valid/online-submitted-province.json").read_text()
)
BY_DISTRICT = KpiDefinition.model_validate({
    "id": "by-district", "title_vi": "Hồ sơ", "title_en": "Dossiers", "topic": TOPIC,
    "measure": {"kind": "count"}, "dimensions": ["district_code"], "time_field": "submitted_at",
    "window": "day", "idle_timeout": "P3650D", "unit": "dossiers",
})  # fmt: skip
OTHER = BY_DISTRICT.model_copy(update={"id": "other", "dimensions": ()})


@dataclass(frozen=True)
class Rec:
    topic: str
    partition: int
    offset: int
    timestamp: int
    key: bytes | None
    value: bytes | None
    headers: list[tuple[str, bytes]]


def records(count: int) -> list[Rec]:
    found = []
    for n in range(count):
        data = {**VALID, "dossier_id": f"H-{n}", "district_code": ["747", "748", "750"][n % 3],
                "submitted_at": f"2024-09-{1 + n // 10:02d}T08:00:00+07:00"}  # fmt: skip
        encoded = to_kafka(CloudEvent(id=f"e{n - n % 2}", source="/s/x", type="t", data=data),
                           "k", carrier={})  # fmt: skip
        found.append(Rec(TOPIC, 0, n, 1_727_000_000_000 + n * 1000, encoded.key, encoded.value,
                         list(encoded.headers)))  # fmt: skip
    return found


def validators() -> ContractValidators:
    return ContractValidators(lambda topic: None, ROOT / "contracts")


def from_start(kpis: list[KpiDefinition], log: list[Rec], batch: int) -> AggregationState:
    """The state of applying the records from the start, `batch` at a time, records' clocks."""
    aggregator, state = BatchAggregator(kpis), AggregationState()
    from datetime import UTC, datetime  # noqa: PLC0415

    for start in range(0, len(log), batch):
        chunk = log[start : start + batch]
        now = datetime.fromtimestamp(chunk[-1].timestamp / 1000, UTC)
        aggregator.apply_batch(decode_batch(TOPIC, 0, chunk, validators()).events, state, now)
    return state


def test_reconcile_starts_backfills_only_for_partitions_that_consumed_something() -> None:
    wanted = {"a": "fa", "b": "fb"}
    fresh = AggregationState()
    assert reconcile(fresh, wanted, fresh=True).started == []
    assert fresh.applied == wanted and fresh.backfills == {}
    old = AggregationState(kpis={"a": KpiState(fingerprint="fa"), "c": KpiState(fingerprint="x")})
    changed = reconcile(old, wanted, fresh=False)
    assert (changed.dropped, changed.started) == (["c"], ["b"])
    assert old.applied == {"a": "fa"} and set(old.backfills) == {"b"}
    old.backfills["b"].start, old.backfills["b"].position = 0, 4
    assert progress(old.backfills["b"], 10).done == 4
    assert reconcile(old, {"a": "fa", "b": "changed"}, fresh=False).started == ["b"]
    assert old.backfills["b"].position is None  # a new shape starts again
    old.backfills["b"].kpi = KpiState(fingerprint="changed")
    hand_over(old, "b")
    assert old.applied == {"a": "fa", "b": "changed"} and "b" in old.kpis
    assert reconcile(old, {"a": "fa"}, fresh=False).dropped == ["b"]
    assert "b" not in old.kpis and "b" not in old.applied


@dataclass
class FakeConsumer:
    log: list[Rec]
    at: int = 0
    fetches: int = 0

    def assign(self, partitions: list[TopicPartition]) -> None:
        pass

    def seek(self, tp: TopicPartition, offset: int) -> None:
        self.at = offset

    async def start(self) -> None:
        pass

    async def stop(self) -> None:
        pass

    async def beginning_offsets(self, tps: list[TopicPartition]) -> dict[TopicPartition, int]:
        return dict.fromkeys(tps, 0)

    async def getmany(self, tp: TopicPartition, timeout_ms: int, max_records: int) -> Any:
        self.fetches += 1
        found = self.log[self.at : self.at + max_records]
        self.at += len(found)
        return {tp: found}

    async def position(self, tp: TopicPartition) -> int:
        return self.at


@dataclass
class FakeProcessor:
    aggregator: BatchAggregator
    owned: dict[tuple[str, int], OwnedPartition] = field(default_factory=dict)
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    version: int = 0


async def test_a_backfill_hands_over_the_state_the_kpi_would_have_had_from_the_start() -> None:
    log = records(30)
    live = from_start([OTHER], log[:20], batch=20)  # the live loop, before the KPI existed
    owned = OwnedPartition(live, PartitionActivity(), position=20, revision=3)
    both = BatchAggregator([OTHER, BY_DISTRICT])
    reconcile(owned.state, both.fingerprints(TOPIC), fresh=False)
    assert set(owned.state.backfills) == {"by-district"}
    processor = FakeProcessor(both, {(TOPIC, 0): owned})
    consumer = FakeConsumer(log)
    metrics = CollectorMetrics(CollectorRegistry())
    runner = BackfillRunner(cast(StreamProcessor, processor), lambda: cast(Any, consumer),
                            validators(), metrics, max_batch=7)  # fmt: skip
    for _ in range(20):
        if not owned.state.backfills:
            break
        await runner.step((TOPIC, 0), "by-district")
    assert owned.state.backfills == {} and owned.dirty
    assert owned.state.applied is not None and "by-district" in owned.state.applied
    # The live loop goes on with both KPIs from its position.
    now = from_start([OTHER], log[:1], 1).clock
    assert now is not None
    rest = decode_batch(TOPIC, 0, log[20:], validators()).events
    both.apply_batch(rest, owned.state, now)
    reference = from_start([BY_DISTRICT], log, batch=7)
    ours = AggregationState(kpis={"by-district": owned.state.kpis["by-district"]})
    theirs = AggregationState(kpis={"by-district": reference.kpis["by-district"]})
    assert dump_state(ours) == dump_state(theirs)
    assert owned.state.kpis["by-district"].duplicate_events == 15  # every other event is a re-send


def test_backfill_progress_is_part_of_the_stored_state() -> None:
    state = AggregationState(backfills={"k": Backfill(fingerprint="f", start=2, position=5)})
    again = AggregationState.model_validate_json(dump_state(state))
    assert again.backfills["k"].position == 5 and progress(again.backfills["k"], 12).total == 10
