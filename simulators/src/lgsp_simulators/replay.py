"""Replay a recorded stream (`lgsp simulate --record FILE`) as fast as the gateway accepts it.

The file holds one JSON object per line, `{"topic": ..., "event": <structured CloudEvent>}`.
Events go out in batches per topic, several batches in flight, read lazily so a stream of
millions of events needs little memory. Each event gets a fresh id unless asked to keep the
recorded ones (the collector counts an id once per window, so a second replay with the same
ids would move no KPI). The report gives events per second as the gateway acknowledged them.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from lgsp_cli.registry_client import RegistryClient
from lgsp_simulators.gateway import BATCH_MEDIA_TYPE
from lgsp_simulators.onboarding import Onboarded, Onboarding
from lgsp_simulators.scenario import DEPARTMENTS
from lgsp_simulators.session import Target


@dataclass
class ReplayReport:
    """What a replay achieved."""

    sent: int = 0
    accepted: int = 0
    refused: int = 0
    failed: int = 0
    started: float = field(default_factory=time.monotonic)
    finished: float | None = None

    @property
    def seconds(self) -> float:
        """Return the elapsed time."""
        return (self.finished or time.monotonic()) - self.started

    @property
    def per_second(self) -> float:
        """Return accepted events per second."""
        return self.accepted / self.seconds if self.seconds > 0 else 0.0


def read_stream(path: Path) -> Iterator[tuple[str, dict[str, Any]]]:
    """Yield (topic, CloudEvent) from a recorded stream, line by line."""
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                entry = json.loads(line)
                yield str(entry["topic"]), dict(entry["event"])
            except (ValueError, KeyError, TypeError) as exc:
                raise ValueError(f"{path}:{number}: not a recorded event ({exc})") from exc


def onboard_all(target: Target, say: Callable[[str], None]) -> Onboarded:
    """Onboard every simulated department and get one key per source."""
    client = RegistryClient(url=target.registry_url.rstrip("/"), token=target.token)
    return Onboarding(client, target.contracts_dir, target.seed_file, say).run(DEPARTMENTS, None)


class Replayer:
    """Publishes batches with a bounded number in flight."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        onboarded: Onboarded,
        *,
        batch_size: int,
        concurrency: int,
        keep_ids: bool,
    ) -> None:
        self._http = http
        self._onboarded = onboarded
        self._batch_size = batch_size
        self._slots = asyncio.Semaphore(concurrency)
        self._keep_ids = keep_ids
        self.report = ReplayReport()

    async def run(self, stream: Iterator[tuple[str, dict[str, Any]]]) -> ReplayReport:
        """Send the whole stream; returns the report."""
        buffers: dict[str, list[dict[str, Any]]] = {}
        tasks: set[asyncio.Task[None]] = set()
        self.report = ReplayReport()
        for topic, event in stream:
            if topic not in self._onboarded.keys:
                self.report.refused += 1
                continue
            batch = buffers.setdefault(topic, [])
            batch.append(self._prepared(topic, event))
            if len(batch) >= self._batch_size:
                await self._schedule(topic, buffers.pop(topic), tasks)
        for topic, batch in buffers.items():
            await self._schedule(topic, batch, tasks)
        await asyncio.gather(*tasks)
        self.report.finished = time.monotonic()
        return self.report

    def _prepared(self, topic: str, event: dict[str, Any]) -> dict[str, Any]:
        fresh = {**event, "source": f"/sources/{self._onboarded.sources[topic]}"}
        if not self._keep_ids:
            fresh["id"] = str(uuid.uuid4())
        return fresh

    async def _schedule(
        self, topic: str, batch: list[dict[str, Any]], tasks: set[asyncio.Task[None]]
    ) -> None:
        await self._slots.acquire()  # backpressure: read on only when a slot is free
        task = asyncio.create_task(self._send(topic, batch))
        tasks.add(task)
        task.add_done_callback(tasks.discard)

    async def _send(self, topic: str, batch: list[dict[str, Any]]) -> None:
        try:
            headers = {"content-type": BATCH_MEDIA_TYPE, "x-api-key": self._onboarded.keys[topic]}
            for attempt in range(30):
                try:
                    response = await self._http.post(
                        f"/v1/topics/{topic}/batches", json=batch, headers=headers
                    )
                except httpx.TransportError:
                    await asyncio.sleep(min(5.0, 0.2 * (1 << min(attempt, 8))))
                    continue
                if response.status_code in (401, 429, 503):
                    await asyncio.sleep(float(response.headers.get("retry-after", 0.5)))
                    continue
                self._count(response, len(batch))
                return
            self.report.sent += len(batch)
            self.report.failed += len(batch)
        finally:
            self._slots.release()

    def _count(self, response: httpx.Response, size: int) -> None:
        self.report.sent += size
        if response.status_code not in (202, 207):
            self.report.refused += size
            return
        items = response.json()["items"]
        accepted = sum(1 for item in items if item["status"] == 202)
        self.report.accepted += accepted
        self.report.refused += size - accepted
