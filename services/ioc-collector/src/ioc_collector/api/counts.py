"""GET /v1/streams/counts: what the collector has consumed, per topic and source."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel

from ioc_collector.api.deps import ViewDep

router = APIRouter(prefix="/v1", tags=["streams"])


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
