"""GET /v1/stream: server-sent events `kpis` and `health` whenever either changes."""

from __future__ import annotations

from collections.abc import AsyncIterator

from fastapi import APIRouter
from sse_starlette import EventSourceResponse, ServerSentEvent

from ioc_collector.api.deps import HubDep

router = APIRouter(prefix="/v1", tags=["live"])


@router.get("/stream", response_class=EventSourceResponse)
async def live_stream(hub: HubDep) -> EventSourceResponse:
    """Stream the KPI catalogue and the health table: the current ones first, then changes."""

    async def events() -> AsyncIterator[ServerSentEvent]:
        with hub.subscribe() as queue:
            for name, data in hub.current():
                yield ServerSentEvent(data=data, event=name)
            while True:
                name, data = await queue.get()
                yield ServerSentEvent(data=data, event=name)

    return EventSourceResponse(events(), ping=15)
