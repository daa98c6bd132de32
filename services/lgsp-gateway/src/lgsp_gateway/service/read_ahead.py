"""Read-ahead: a backlog reader's next page, prepared while it digests the one it was given.

A consumer working through a backlog asks, page after page, for the records right after those it
was just answered. Once an answer is on its way and the topic holds records after its positions
(the tail knows the topic's end), `ReadAhead.prepare` fetches the next page with the pooled
reader standing there and renders it for the consumer's approved fields, in the background. The
next read by the same consumer from exactly those positions, with the same `max_records`, takes
the prepared page instead of fetching (waiting for it if it is still being prepared).

Nothing is disclosed or audited ahead of time: the read still authorises the consumer before and
after taking the page, renders it again if the approved fields changed meanwhile, and answers
only once its own audit record is acknowledged. A prepared page is an ordinary fetch result (the
records from those positions that were available when it was fetched); it is dropped after
`TTL_S`, or when `MAX_PAGES` newer ones wait.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from lgsp_common.minimise import FieldSelection
from lgsp_gateway.domain.read_batch import ReadBatch, batch_of, render_events

log = logging.getLogger(__name__)
MAX_PAGES = 64
TTL_S = 5.0
RENDER_SLICE = 100  # records rendered between two turns of the loop

Fetched = Mapping[int, Sequence[Any]]
Key = tuple[str, str, tuple[tuple[int, int], ...], int]


def page_key(consumer_id: str, topic: str, positions: Mapping[int, int], max_records: int) -> Key:
    """Return what a read must match to take a prepared page."""
    return consumer_id, topic, tuple(sorted(positions.items())), max_records


@dataclass(frozen=True)
class Prepared:
    """A fetched page: its records, and their events rendered for one selection (in chunks)."""

    start: dict[int, int]
    fetched: Fetched
    selection: FieldSelection
    batch: ReadBatch
    events: list[bytes]


async def render_slices(batch: ReadBatch, selection: FieldSelection) -> list[bytes]:
    """Render every event of the batch, one chunk per slice, yielding to the loop between."""
    chunks: list[bytes] = []
    for lo in range(0, batch.count, RENDER_SLICE):
        chunks.append(render_events(batch, selection, lo, lo + RENDER_SLICE))
        await asyncio.sleep(0)
    return chunks


class ReadAhead:
    """Pages being prepared or ready, by consumer, topic, positions and page size."""

    def __init__(self, max_pages: int = MAX_PAGES, ttl_s: float = TTL_S) -> None:
        self._max_pages = max_pages
        self._ttl_s = ttl_s
        self._pages: dict[Key, tuple[float, asyncio.Task[Prepared | None]]] = {}

    def __len__(self) -> int:
        return len(self._pages)

    def prepare(
        self,
        key: Key,
        fetch: Callable[[], Awaitable[Fetched]],
        start: Mapping[int, int],
        selection: FieldSelection,
    ) -> asyncio.Task[Prepared | None]:
        """Start preparing the page at `key` (once), dropping the oldest beyond `MAX_PAGES`;
        return the task preparing it (the one already under way, if any)."""
        self._drop_expired()
        found = self._pages.get(key)
        if found is not None:
            return found[1]
        while len(self._pages) >= self._max_pages:
            _, task = self._pages.pop(next(iter(self._pages)))
            task.cancel()
        task = asyncio.create_task(self._prepare(fetch, dict(start), selection))
        self._pages[key] = (time.monotonic(), task)
        return task

    async def take(self, key: Key) -> Prepared | None:
        """Return the page prepared at `key` (waiting for it if still under way), if any."""
        entry = self._pages.pop(key, None)
        if entry is None:
            return None
        made_at, task = entry
        if time.monotonic() - made_at > self._ttl_s:
            task.cancel()
            return None
        return await task

    async def stop(self) -> None:
        """Cancel every page still being prepared."""
        tasks = [task for _, task in self._pages.values()]
        self._pages.clear()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def _drop_expired(self) -> None:
        now = time.monotonic()
        for key in [k for k, (made, _) in self._pages.items() if now - made > self._ttl_s]:
            self._pages.pop(key)[1].cancel()

    @staticmethod
    async def _prepare(
        fetch: Callable[[], Awaitable[Fetched]], start: dict[int, int], selection: FieldSelection
    ) -> Prepared | None:
        try:
            fetched = await fetch()
        except Exception as exc:  # the read itself will fetch (and say what failed)
            log.info("read-ahead fetch failed: %s", type(exc).__name__)
            return None
        if not any(fetched.values()):
            return None
        batch = batch_of(start, fetched, selection)
        return Prepared(start, fetched, selection, batch, await render_slices(batch, selection))
