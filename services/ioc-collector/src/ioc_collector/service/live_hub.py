"""The live stream's hub: the latest KPI and health payloads, and every change, to SSE clients."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator

from pydantic import BaseModel

Message = tuple[str, str]
QUEUE_SIZE = 64


class LiveHub:
    """Keeps the latest payload per event name and hands changes to every subscriber."""

    def __init__(self) -> None:
        self._subscribers: set[asyncio.Queue[Message]] = set()
        self._latest: dict[str, tuple[str, str]] = {}

    def offer(self, name: str, payload: BaseModel) -> bool:
        """Publish `payload` under `name` if it differs from the last one (time aside)."""
        fingerprint = payload.model_dump_json(exclude={"generated_at"})
        if name in self._latest and self._latest[name][0] == fingerprint:
            return False
        data = payload.model_dump_json()
        self._latest[name] = (fingerprint, data)
        for queue in self._subscribers:
            if queue.full():  # a slow client misses intermediate states, never the latest
                queue.get_nowait()
            queue.put_nowait((name, data))
        return True

    def current(self) -> list[Message]:
        """Return the latest payload of every event name."""
        return [(name, data) for name, (_, data) in self._latest.items()]

    @contextlib.contextmanager
    def subscribe(self) -> Iterator[asyncio.Queue[Message]]:
        """Register a subscriber queue for the duration of the block."""
        queue: asyncio.Queue[Message] = asyncio.Queue(QUEUE_SIZE)
        self._subscribers.add(queue)
        try:
            yield queue
        finally:
            self._subscribers.discard(queue)
