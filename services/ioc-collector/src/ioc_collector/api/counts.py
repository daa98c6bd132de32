"""GET /v1/streams/counts and GET /v1/imports: what the collector has consumed."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from fastapi import APIRouter
from pydantic import BaseModel, Field

from ioc_collector.api.deps import ViewDep
from ioc_collector.domain.imports import RunSummary, summarise_runs

router = APIRouter(prefix="/v1", tags=["streams"])  # GET /v1/imports too


class SourceCount(BaseModel):
    """Events consumed from one source on one topic."""

    topic: str
    source: str
    events: int


class StreamCountsView(BaseModel):
    """Counts of consumed events, and of records skipped as unusable per topic."""

    sources: list[SourceCount]
    undecodable: dict[str, int]


@router.get("/streams/counts", response_model=StreamCountsView)
async def stream_counts(view: ViewDep) -> StreamCountsView:
    """Return how many events were consumed per topic and source, over all partitions."""
    events: dict[tuple[str, str], int] = {}
    poison: dict[str, int] = {}
    for (topic, _), partition in view.partitions().items():
        for source, seen in partition.activity.sources.items():
            if seen.events:
                events[(topic, source)] = events.get((topic, source), 0) + seen.events
        skipped = sum(partition.activity.poison.values())
        if skipped:
            poison[topic] = poison.get(topic, 0) + skipped
    return StreamCountsView(
        sources=[SourceCount(topic=t, source=s, events=n) for (t, s), n in sorted(events.items())],
        undecodable=poison,
    )


class KpiImportView(BaseModel):
    """What an import run did to one KPI."""

    kpi_id: str
    applied: int = Field(description="Events applied to the KPI (history or live windows)")
    refused: int = Field(description="Events whose window had been live (or another run's)")
    windows: int = Field(description="Windows the run touched")
    first_window: str | None
    last_window: str | None


class ImportRunView(BaseModel):
    """One historical import run: its progress and what it filled, over every partition."""

    run_id: str
    source: str
    topics: list[str]
    status: Literal["importing", "complete"] = Field(
        description="complete once every partition has sealed the run (no record of it for "
        "the seal period): later records of the run count as duplicates"
    )
    events: int = Field(description="Records of the run read, duplicates included")
    applied: int = Field(description="Distinct events of the run applied")
    duplicates: int
    windows: int = Field(description="(KPI, window) pairs the run touched")
    first_event_time: datetime | None
    last_event_time: datetime | None
    last_read_at: datetime | None
    kpis: list[KpiImportView]


class ImportsView(BaseModel):
    """Every import run the collector has read, the latest first."""

    imports: list[ImportRunView]


def _run_view(run: RunSummary) -> ImportRunView:
    kpis = [
        KpiImportView(
            kpi_id=kpi_id, applied=found.applied, refused=found.refused,
            windows=len(found.windows), first_window=min(found.windows, default=None),
            last_window=max(found.windows, default=None),
        )
        for kpi_id, found in sorted(run.kpis.items())
    ]  # fmt: skip
    return ImportRunView(
        run_id=run.run_id, source=run.source, topics=sorted(run.topics),
        status="complete" if run.sealed else "importing", events=run.events,
        applied=run.applied, duplicates=run.duplicates, windows=sum(k.windows for k in kpis),
        first_event_time=run.first_time, last_event_time=run.last_time,
        last_read_at=run.last_read, kpis=kpis,
    )  # fmt: skip


@router.get("/imports", response_model=ImportsView)
async def imports(view: ViewDep) -> ImportsView:
    """Return the progress of every historical import run (CloudEvents extension lgspimport)."""
    states = ((topic, partition.state) for (topic, _), partition in view.partitions().items())
    return ImportsView(imports=[_run_view(run) for run in summarise_runs(states)])
