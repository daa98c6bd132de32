"""Builds what the API and the live stream show: KPI catalogue, series and source health."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from ioc_collector.adapters.lag import LagProbe
from ioc_collector.api.models import (
    BackfillView,
    HealthReport,
    KpiCatalogue,
    KpiSeries,
    KpiTile,
    SkippedKpi,
    SourceHealth,
    TargetView,
    TopicHealth,
    WindowValue,
)
from ioc_collector.domain.activity import (
    SourceActivity,
    events_per_minute,
    health_state,
    merge_sources,
    received_at,
)
from ioc_collector.domain.coverage import Progress, progress
from ioc_collector.domain.definitions import KpiDefinition
from ioc_collector.domain.events import parse_time
from ioc_collector.domain.periods import Period
from ioc_collector.domain.queries import KpiValue, series
from ioc_collector.domain.summary import (
    HISTORY,
    current_unit_values,
    dimension_values,
    latest_window,
    previous_window,
    summarise,
    typed_dims,
)
from ioc_collector.service.merged_view import CollectorView, PartitionView
from ioc_collector.service.period_reports import period_status
from ioc_collector.service.registry_follower import LiveCatalogue
from ioc_collector.settings import CollectorSettings
from lgsp_common.registry_copy import RegistryCopy

MAX_POINTS = 1000
SOURCE_PREFIX = "/sources/"


class UnknownKpi(LookupError):
    """No KPI has this id."""


def _point(value: KpiValue) -> WindowValue:
    return WindowValue(
        window_start=value.window.start,
        window_end=value.window.end,
        value=value.value,
        closed=value.closed,
        status=value.status,
    )


def _target(kpi: KpiDefinition) -> TargetView | None:
    if kpi.target is None:
        return None
    return TargetView(
        value=kpi.target.value, direction=kpi.target.direction, source=kpi.target.source
    )


class Reports:
    """Reads the merged view, the registry copy and the lag probe."""

    def __init__(
        self,
        live: LiveCatalogue,
        view: CollectorView,
        registry: RegistryCopy,
        lag: LagProbe,
        settings: CollectorSettings,
    ) -> None:
        self._live = live
        self._view = view
        self._registry = registry
        self._lag = lag
        self._settings = settings

    @property
    def _kpis(self) -> dict[str, KpiDefinition]:
        return {kpi.id: kpi for kpi in self._live.kpis}

    def definitions(self) -> list[KpiDefinition]:
        """Return the KPIs computed now (seed files and registry)."""
        return list(self._kpis.values())

    def catalogue(self, now: datetime, period: Period | None = None) -> KpiCatalogue:
        """Return every KPI with its latest value, and its target's status over a period."""
        state = self._view.aggregation()
        backfills = backfill_views(self._view.partitions())
        tiles = []
        for kpi in self._kpis.values():
            found = summarise(state, kpi, now)
            over = period_status(state, kpi, now, period)
            tiles.append(
                KpiTile(
                    id=kpi.id,
                    title_vi=kpi.title_vi,
                    title_en=kpi.title_en,
                    topic=kpi.topic,
                    unit=kpi.unit,
                    window=kpi.window,
                    dimensions=list(kpi.dimensions),
                    target=_target(kpi),
                    current=_point(found.latest),
                    previous=_point(found.previous) if found.previous else None,
                    trend=found.trend,
                    history=[_point(v) for v in found.history],
                    status=over.status,
                    period=over,
                    group=kpi.target.group if kpi.target else None,
                    late_events=found.late_events,
                    duplicate_events=found.duplicate_events,
                    invalid_events=found.invalid_events,
                    backfill=backfills.get(kpi.id),
                )
            )
        skipped = [SkippedKpi(id=k, reason=r) for k, r in sorted(self._live.invalid.items())]
        return KpiCatalogue(generated_at=now, kpis=tiles, skipped=skipped)

    def series(
        self,
        kpi_id: str,
        now: datetime,
        start: str | None,
        end: str | None,
        dims: Mapping[str, str],
    ) -> KpiSeries:
        """Return a KPI's values per window between `start` and `end` (ValueError if invalid)."""
        kpi = self._kpis.get(kpi_id)
        if kpi is None:
            raise UnknownKpi(kpi_id)
        state = self._view.aggregation()
        last = latest_window(state, kpi, now)
        first = last
        for _ in range(HISTORY - 1):
            first = previous_window(first, kpi.window)
        since = _when(start, "from") or first.start
        until = _when(end, "to") or last.end
        if until <= since:
            raise ValueError("'to' must be after 'from'")
        wanted = typed_dims(state, kpi, dims)
        points = series(state, kpi, since, until, wanted)
        if len(points) > MAX_POINTS:
            raise ValueError(f"at most {MAX_POINTS} windows per request")
        return KpiSeries(
            kpi_id=kpi.id,
            title_vi=kpi.title_vi,
            title_en=kpi.title_en,
            window=kpi.window,
            unit=kpi.unit,
            dims=wanted,
            dimension_values=dimension_values(state, kpi),
            current_units=current_unit_values(state, kpi),
            target=_target(kpi),
            points=[_point(p) for p in points],
        )

    def health(self, now: datetime) -> HealthReport:
        """Return every source's freshness, volume, rejections and lag, and every topic's."""
        partitions = self._view.partitions()
        seen = merge_sources(view.activity.sources for view in partitions.values())
        topics = self._topic_health(partitions)
        lag_by_topic = {t.topic: t for t in topics}
        # Followed, and the group has assigned its partitions (their rows are in the store).
        consumed = set(self._live.topics) & {topic for topic, _ in partitions}
        rows = []
        registered: set[str] = set()
        for source in sorted(self._registry.items("source"), key=lambda s: str(s.get("id"))):
            ce_source = SOURCE_PREFIX + str(source.get("id"))
            registered.add(ce_source)
            row = _Row(ce_source, source, seen.get(ce_source), consumed)
            rows.append(self._source_row(row, lag_by_topic, now))
        for ce_source in sorted(set(seen) - registered):
            row = _Row(ce_source, None, seen[ce_source], consumed)
            rows.append(self._source_row(row, lag_by_topic, now))
        return HealthReport(generated_at=now, sources=rows, topics=topics)

    def _topic_health(
        self, partitions: Mapping[tuple[str, int], PartitionView]
    ) -> list[TopicHealth]:
        result = []
        for topic in [*self._live.topics, self._settings.dlq_topic]:
            lags = [lag for (t, _), lag in self._lag.latest.items() if t == topic]
            poison: dict[str, int] = {}
            for (t, _), view in partitions.items():
                if t == topic:
                    for reason, count in view.activity.poison.items():
                        poison[reason] = poison.get(reason, 0) + count
            result.append(
                TopicHealth(
                    topic=topic,
                    partitions=max(len(lags), sum(1 for t, _ in partitions if t == topic)),
                    lag_records=sum(lag.records for lag in lags),
                    lag_seconds=max((lag.seconds for lag in lags), default=0.0),
                    poison=poison,
                )
            )
        return result

    def _source_row(
        self, row: _Row, lag_by_topic: Mapping[str, TopicHealth], now: datetime
    ) -> SourceHealth:
        ce_source, source, seen = row.ce_source, row.source, row.seen
        cadence = _text(source, "cadence")
        limits = self._settings.thresholds(cadence)
        topic = _text(source, "topic")
        lag = lag_by_topic.get(topic) if topic else None
        last = received_at(seen)
        return SourceHealth(
            id=ce_source.removeprefix(SOURCE_PREFIX),
            source=ce_source,
            name=_text(source, "name"),
            organisation_id=_text(source, "organisation_id"),
            topic=topic,
            cadence=cadence,
            registered=source is not None,
            source_status=_text(source, "status"),
            status=health_state(
                expected=source is not None and _text(source, "status") in (None, "active"),
                consumed=topic in row.consumed if topic else True,
                last_seen=last,
                registered_at=_created(source),
                now=now,
                limits=limits,
            ),
            last_event_at=last,
            last_event_time=seen.last_event_time if seen else None,
            events_total=seen.events if seen else 0,
            events_per_minute=events_per_minute(seen, now) if seen else 0.0,
            rejected=seen.rejected if seen else 0,
            lag_records=lag.lag_records if lag else None,
            lag_seconds=lag.lag_seconds if lag else None,
            late_after_s=limits.late.total_seconds(),
            silent_after_s=limits.silent.total_seconds(),
        )


@dataclass(frozen=True, slots=True)
class _Row:
    """A source to report: its CloudEvents source, registry entity, activity seen."""

    ce_source: str
    source: Mapping[str, object] | None
    seen: SourceActivity | None
    consumed: set[str]


def backfill_views(partitions: Mapping[tuple[str, int], PartitionView]) -> dict[str, BackfillView]:
    """Return each backfilling KPI's progress over the partitions still building it."""
    found: dict[str, list[Progress]] = {}
    for view in partitions.values():
        for kpi_id, backfill in view.state.backfills.items():
            found.setdefault(kpi_id, []).append(progress(backfill, view.position))
    result = {}
    for kpi_id, parts in found.items():
        done, total = sum(p.done for p in parts), sum(p.total for p in parts)
        result[kpi_id] = BackfillView(
            records_done=done, records_total=total, partitions_pending=len(parts),
            progress=round(done / total, 4) if total else 0.0,
        )  # fmt: skip
    return result


def _text(source: Mapping[str, object] | None, name: str) -> str | None:
    value = source.get(name) if source else None
    return str(value) if value not in (None, "") else None


def _created(source: Mapping[str, object] | None) -> datetime | None:
    value = source.get("created_at") if source else None
    return parse_time(value) if isinstance(value, str) else None


def _when(text: str | None, name: str) -> datetime | None:
    if text is None or text == "":
        return None
    parsed = parse_time(text)
    if parsed is None:
        raise ValueError(f"'{name}' must be an RFC 3339 date-time, a date or a YYYY-MM month")
    return parsed
