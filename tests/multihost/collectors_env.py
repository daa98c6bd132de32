"""Two collectors on two test hosts of the multi-host platform, sharing one PostgreSQL store.

| host | address     | runs                                                           |
|------|-------------|----------------------------------------------------------------|
| c1   | 10.251.0.31 | `python -m ioc_collector`, instance id `c1`                    |
| c2   | 10.251.0.32 | the same, instance id `c2`                                     |

Both are in one consumer group on the data topic (three partitions) and store their state in
the database `collector` on the pg host (`IOC_COLLECTOR_STORE_URL`), so either one answers for
every partition. Their catalogue is one count KPI, `mh-dossiers`, per hour of `submitted_at`:
each fault's load run gives its events an hour of their own (`window_of`), so a fault's ground
truth is the number of its acknowledged events. A viewer token is issued by the platform's
registry (the collectors learn it from the registry topic, as in production). The test process
reads the store directly (which replica last committed each partition, at which position),
each replica's `/metrics` (`collector_store_conflicts_total`: its writes the store refused) and
the data topic's end offsets (`TopicEnds`: what the store must have caught up with).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

import httpx
import sqlalchemy as sa
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import KafkaError
from hosts_env import DATA_TOPIC, Platform

from ioc_collector.adapters.store_database import create_engine, heads
from ioc_collector.settings import CollectorSettings
from lgsp_devkit.viewers import issue_viewer_token

COLLECTORS = {"c1": "10.251.0.31", "c2": "10.251.0.32"}
GROUP = "ioc-multihost"
KPI_ID = "mh-dossiers"
KPI = f"""id: {KPI_ID}
title_vi: Hồ sơ đã nộp (kiểm thử nhiều máy)
title_en: Dossiers submitted (multi-host test)
topic: {DATA_TOPIC}
measure: {{kind: count}}
time_field: submitted_at
window: hour
allowed_lateness: P3650D
idle_timeout: P3650D
unit: dossiers
"""
VN = timezone(timedelta(hours=7))
FIRST_DAY = datetime(2024, 10, 2, 8, 0, tzinfo=VN)  # the first fault's window; then a day each
SERIES = "from=2024-10-01&to=2024-10-31"
CONFLICTS = "collector_store_conflicts_total"


def window_of(index: int) -> datetime:
    """Return the hour window of the `index`-th fault's load run (they advance in time)."""
    return FIRST_DAY + timedelta(days=index)


@dataclass
class Collectors:
    """The two collector replicas of the platform: started, killed, restarted, read."""

    platform: Platform
    store_url: str = ""
    token: str = ""
    urls: dict[str, str] = field(default_factory=dict)

    @property
    def headers(self) -> dict[str, str]:
        """Return a viewer's request headers."""
        return {"Authorization": f"Bearer {self.token}"}

    def start(self, folder: Path) -> None:
        """Make the hosts, the store's database, the KPI catalogue; start both replicas."""
        assert self.platform.postgres is not None
        self.store_url = self.platform.postgres.create_database("collector")
        self.kpis = folder / "kpis"
        self.kpis.mkdir(parents=True)
        (self.kpis / f"{KPI_ID}.yaml").write_text(KPI, encoding="utf-8")
        issued = issue_viewer_token(self.platform.registry_url, self.platform.operator_token)
        self.token = str(asyncio.run(issued)["token"])
        for name, address in COLLECTORS.items():
            self.platform.network.add_host(name, address)
            self.launch(name)

    def launch(self, name: str) -> None:
        """Start the collector of host `name` (again, after it was killed)."""
        address = COLLECTORS[name]
        env = self.platform._environment("IOC_COLLECTOR_", address, CollectorSettings) | {
            "IOC_COLLECTOR_PORT": "8082",
            "IOC_COLLECTOR_INSTANCE_ID": name,
            "IOC_COLLECTOR_GROUP_ID": GROUP,
            "IOC_COLLECTOR_TOPICS": json.dumps([DATA_TOPIC]),
            "IOC_COLLECTOR_KPIS_DIR": str(self.kpis),
            "IOC_COLLECTOR_STORE_URL": self.store_url,
            "IOC_COLLECTOR_SESSION_TIMEOUT_MS": "6000",
            "IOC_COLLECTOR_HEARTBEAT_INTERVAL_MS": "1000",
            "IOC_COLLECTOR_TICK_INTERVAL_S": "0.5",
        }
        self.platform.host(name).run(
            [sys.executable, "-m", "ioc_collector"], env=env, log_path=self.platform.log_path(name)
        )
        self.urls[name] = f"http://{address}:8082"

    async def value(self, http: httpx.AsyncClient, name: str, window: datetime) -> float | None:
        """Return replica `name`'s figure of the KPI in `window` (None: no answer, or none)."""
        with contextlib.suppress(httpx.HTTPError, ValueError, KeyError):
            return (await self.series(http, name)).get(window, 0.0)
        return None

    async def series(self, http: httpx.AsyncClient, name: str) -> dict[datetime, float]:
        """Return every window of October 2024 that has a figure, from replica `name`."""
        answer = await http.get(
            f"{self.urls[name]}/v1/kpis/{KPI_ID}/series?{SERIES}", headers=self.headers, timeout=5
        )
        answer.raise_for_status()
        return {
            datetime.fromisoformat(p["window_start"]): float(p["value"])
            for p in answer.json()["points"]
            if p["value"] is not None
        }

    async def conflicts(self, http: httpx.AsyncClient, name: str) -> float | None:
        """Return the writes of replica `name` the store refused (its /metrics; None: no answer)."""
        with contextlib.suppress(httpx.HTTPError):
            text = (await http.get(f"{self.urls[name]}/metrics", timeout=5)).text
            for line in text.splitlines():
                if line.startswith(CONFLICTS):
                    return float(line.split()[-1])
            return 0.0
        return None

    async def owners(self) -> dict[int, str]:
        """Return which replica last committed each partition of the data topic (the store)."""
        return {partition: by for partition, (by, _) in (await self.heads()).items()}

    async def heads(self) -> dict[int, tuple[str, int]]:
        """Return each data partition's last committer and committed position, from the store."""
        engine = create_engine(self.store_url)
        try:
            async with engine.connect() as conn:
                query = sa.select(heads.c.partition, heads.c.committed_by, heads.c.position).where(
                    heads.c.group_id == GROUP, heads.c.topic == DATA_TOPIC
                )
                rows = await conn.execute(query)
                return {int(row[0]): (str(row[1]), int(row[2])) for row in rows}
        finally:
            await engine.dispose()


@dataclass
class TopicEnds:
    """The data topic's end offsets, sampled every `every_s` from the control host while used
    as an async context manager; `at(t)` is the last sample taken by `t` (monotonic)."""

    bootstrap: str
    every_s: float = 0.25
    samples: list[tuple[float, dict[int, int]]] = field(default_factory=list)
    _task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> TopicEnds:
        self._task = asyncio.create_task(self._sample())
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._task is not None
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task

    async def _sample(self) -> None:
        consumer = AIOKafkaConsumer(bootstrap_servers=self.bootstrap, request_timeout_ms=5000)
        await consumer.start()
        try:
            parts = [TopicPartition(DATA_TOPIC, p) for p in range(3)]
            while True:
                with contextlib.suppress(KafkaError):
                    ends = await consumer.end_offsets(parts)
                    # Stamped once the answer is in: every offset below was written by then.
                    self.samples.append(
                        (time.monotonic(), {tp.partition: e for tp, e in ends.items()})
                    )
                await asyncio.sleep(self.every_s)
        finally:
            await consumer.stop()

    def at(self, moment: float) -> dict[int, int] | None:
        """Return the end offsets of the last sample taken by `moment` (None: none yet)."""
        taken = [ends for at, ends in self.samples if at <= moment]
        return taken[-1] if taken else None
