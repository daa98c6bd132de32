"""The aggregation state, its canonical JSON form, and turning partial aggregates into values.

The state is committed together with the Kafka offsets, so it must round-trip exactly: sums are
Decimals (written as strings), sets are written sorted, object keys are written sorted, and
times are written in local time. Replaying the same events in the same order therefore gives
byte-identical JSON.
"""

from __future__ import annotations

import json
from datetime import datetime
from decimal import Decimal
from typing import Any, Literal

import orjson
from pydantic import BaseModel, ConfigDict, Field, field_serializer

from ioc_collector.domain.definitions import (
    AverageMeasure,
    CountMeasure,
    DistinctCountMeasure,
    KpiDefinition,
    RatioMeasure,
    ReferenceTerm,
    SumMeasure,
)
from ioc_collector.domain.events import LOCAL_TZ
from ioc_collector.domain.windows import WatermarkScope

_HUNDRED = Decimal(100)


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=False)


class Part(_Model):
    """Partial aggregate of one measure (or one ratio term) over one cell."""

    count: int = 0
    total: Decimal = Decimal(0)
    distinct: set[str] = Field(default_factory=set)

    @field_serializer("distinct")
    def _sorted(self, values: set[str]) -> list[str]:
        return sorted(values)

    def merge(self, other: Part) -> None:
        """Add another partial aggregate into this one (roll-up across dimensions)."""
        self.count += other.count
        self.total += other.total
        self.distinct |= other.distinct


class Cell(_Model):
    """Aggregates for one (KPI, window, dimension values): `main`, or a ratio's two terms."""

    main: Part | None = None
    numerator: Part | None = None
    denominator: Part | None = None


class OpenWindow(_Model):
    """A window still accepting events: its cells and the event ids already applied to it."""

    cells: dict[str, Cell] = Field(default_factory=dict)
    seen_ids: set[str] = Field(default_factory=set)

    @field_serializer("seen_ids")
    def _sorted(self, values: set[str]) -> list[str]:
        return sorted(values)


class ClosedWindow(_Model):
    """A final window: its cells only (the dedup ids are evicted once lateness has passed)."""

    cells: dict[str, Cell] = Field(default_factory=dict)


class KpiImport(_Model):
    """What one import run did to one KPI: events applied, refused, windows touched."""

    applied: int = 0
    refused: int = 0  # their window had been live (or another run's): not applied
    windows: set[str] = Field(default_factory=set)

    @field_serializer("windows")
    def _sorted(self, values: set[str]) -> list[str]:
        return sorted(values)


class ImportRun(_Model):
    """An import run as one partition read it; its ids are kept only until it is sealed.

    `seen_ids` are the run's (source, id) pairs applied so far, so a re-sent run applies
    nothing twice; once no record of the run came for the seal period (processing clock),
    the run is sealed: the ids are dropped and every later record of it counts as a duplicate.
    """

    run_id: str
    source: str
    events: int = 0  # records of the run read
    applied: int = 0  # first occurrences, offered to the KPIs
    duplicates: int = 0  # read before in the run, or after its seal
    first_time: datetime | None = None  # event times (ce_time)
    last_time: datetime | None = None
    last_read: datetime | None = None  # the processing clock when its last record was read
    sealed: bool = False
    seen_ids: set[str] = Field(default_factory=set)

    @field_serializer("seen_ids")
    def _sorted(self, values: set[str]) -> list[str]:
        return sorted(values)


class KpiState(_Model):
    """Everything one KPI accumulates: windows, watermarks and skip counters.

    `history` names the closed windows that import runs filled without their ever being live
    (window key -> the run that fills it); `imports` what each run did to this KPI.
    """

    fingerprint: str = ""
    open_windows: dict[str, OpenWindow] = Field(default_factory=dict)
    closed_windows: dict[str, ClosedWindow] = Field(default_factory=dict)
    history: dict[str, str] = Field(default_factory=dict)
    imports: dict[str, KpiImport] = Field(default_factory=dict)
    watermarks: dict[str, datetime] = Field(default_factory=dict)
    watermark: datetime | None = None
    late_events: int = 0
    duplicate_events: int = 0
    invalid_events: int = 0


class Backfill(_Model):
    """A KPI added to a partition that already had a position: its state built from the start.

    `position` is the next offset the backfill reads (None: not started, read from the
    partition's beginning, `start`); `clock` its processing clock (the records' own times).
    Once `position` reaches the live loop's position, `kpi` becomes the partition's live state
    of that KPI. Stored inside the partition's row, so it moves and resumes with the partition.
    """

    fingerprint: str
    start: int | None = None
    position: int | None = None
    clock: datetime | None = None
    kpi: KpiState | None = None
    imports: dict[str, ImportRun] = Field(default_factory=dict)


class AggregationState(_Model):
    """The whole collector state: per-KPI state, Kafka positions and the processing clock.

    `applied` names the KPIs (and their fingerprints) this partition's state covers from the
    partition's beginning (None: a row written before KPIs could change at runtime);
    `backfills` the KPIs whose state is still being built from the beginning; `imports` the
    import runs read on this partition (a backfill keeps its own, as it reads from the start).
    """

    version: Literal[1] = 1
    watermark_scope: WatermarkScope = "partition"
    clock: datetime | None = None
    positions: dict[str, int] = Field(default_factory=dict)
    kpis: dict[str, KpiState] = Field(default_factory=dict)
    applied: dict[str, str] | None = None
    backfills: dict[str, Backfill] = Field(default_factory=dict)
    imports: dict[str, ImportRun] = Field(default_factory=dict)  # key: "<source> <run id>"


def _local_times(value: Any) -> Any:
    # Offsets are normalised so a state loaded back serialises to the same bytes.
    if isinstance(value, dict):
        return {k: _local_times(v) for k, v in value.items()}
    if isinstance(value, datetime):
        return value.astimezone(LOCAL_TZ)
    return value


def dump_state(state: AggregationState) -> bytes:
    """Serialise the state to canonical JSON bytes (same state, same bytes)."""
    data = state.model_dump(mode="json")
    try:  # orjson writes the same bytes as json.dumps below, several times faster
        return orjson.dumps(data, option=orjson.OPT_SORT_KEYS)
    except (orjson.JSONEncodeError, TypeError):  # an integer beyond 64 bits, a lone surrogate
        return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def load_state(data: bytes | str) -> AggregationState:
    """Parse and validate a state written by `dump_state`."""
    state = AggregationState.model_validate_json(data)
    state.clock = state.clock.astimezone(LOCAL_TZ) if state.clock else None
    kpis = list(state.kpis.values())
    runs = list(state.imports.values())
    for backfill in state.backfills.values():
        backfill.clock = backfill.clock.astimezone(LOCAL_TZ) if backfill.clock else None
        kpis += [backfill.kpi] if backfill.kpi is not None else []
        runs += backfill.imports.values()
    for run in runs:
        for name in ("first_time", "last_time", "last_read"):
            value = getattr(run, name)
            setattr(run, name, value.astimezone(LOCAL_TZ) if value else None)
    for kpi in kpis:
        kpi.watermarks = _local_times(kpi.watermarks)
        kpi.watermark = kpi.watermark.astimezone(LOCAL_TZ) if kpi.watermark else None
    return state


def merged(cells: list[Cell]) -> Cell:
    """Return one cell adding up several (exact for counts, sums, averages, distinct sets)."""
    result = Cell()
    for cell in cells:
        for name in ("main", "numerator", "denominator"):
            part: Part | None = getattr(cell, name)
            if part is None:
                continue
            into: Part | None = getattr(result, name)
            if into is None:
                into = Part()
                setattr(result, name, into)
            into.merge(part)
    return result


def _part_value(measure: object, part: Part | None) -> Decimal | None:
    if part is None:
        part = Part()
    if isinstance(measure, CountMeasure):
        return Decimal(part.count)
    if isinstance(measure, SumMeasure):
        return part.total
    if isinstance(measure, DistinctCountMeasure):
        return Decimal(len(part.distinct))
    if isinstance(measure, AverageMeasure):
        return part.total / part.count if part.count else None
    raise TypeError(f"not a simple measure: {measure!r}")


def cell_value(kpi: KpiDefinition, cell: Cell) -> float | None:
    """Return a cell's KPI value (a ratio as a percentage); None when undefined (no data)."""
    measure = kpi.measure
    if not isinstance(measure, RatioMeasure):
        if cell.main is None:
            return None
        value = _part_value(measure, cell.main)
        return None if value is None else float(value)
    if cell.numerator is None and cell.denominator is None:
        return None
    numerator = _part_value(measure.numerator, cell.numerator)
    if isinstance(measure.denominator, ReferenceTerm):
        assert kpi.reference is not None  # guaranteed by KpiDefinition's validation
        denominator: Decimal | None = Decimal(repr(kpi.reference.value))
    else:
        denominator = _part_value(measure.denominator, cell.denominator)
    if numerator is None or not denominator:
        return None
    return float(numerator * _HUNDRED / denominator)
