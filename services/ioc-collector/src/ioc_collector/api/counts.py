"""GET /v1/streams/counts: what the collector has consumed, per topic and source."""

from __future__ import annotations

from fastapi import APIRouter, Request
from pydantic import BaseModel

from ioc_collector.adapters.stream import StreamConsumer

router = APIRouter(prefix="/v1", tags=["streams"])


class SourceCount(BaseModel):
    """Events consumed from one source on one topic."""

    topic: str
    source: str
    events: int


class StreamCountsView(BaseModel):
    """Counts of consumed events."""

    sources: list[SourceCount]
    undecodable: dict[str, int]


@router.get("/streams/counts", response_model=StreamCountsView)
async def stream_counts(request: Request) -> StreamCountsView:
    """Return how many events were consumed per topic and source."""
    stream: StreamConsumer = request.app.state.stream
    counts = stream.counts
    return StreamCountsView(
        sources=[
            SourceCount(topic=t, source=s, events=n)
            for (t, s), n in sorted(counts.by_source.items())
        ],
        undecodable=dict(counts.undecodable),
    )
