"""A zombie replica against the real broker and store: paused past its session timeout while
the other replica takes its partitions over, then woken up. Its writes carry the revisions it
loaded, so the store refuses them (counted in `collector_store_conflicts_total`), it reloads,
and both replicas serve the exact figures. On SQLite, then on PostgreSQL.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sqlite3
import time
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from collector_stream_support import (  # noqa: F401 - fixtures
    PARTITIONS,
    Collector,
    Setup,
    as_expected,
    collector_store_url,
    collectors,
    expected_kpis,
    known_stream,
    log_tail,
    postgres_server,
    produce,
    setup,
    wait_for_figures,
)

from ioc_collector.adapters.store_database import create_engine, heads
from lgsp_common.settings import KafkaSettings
from lgsp_devkit.viewers import VIEWER_HEADERS

pytestmark = [pytest.mark.kafka, pytest.mark.slow]


async def committers(env: Setup) -> dict[int, str]:
    """Return which replica last committed each partition of the test's topic, from the store."""
    engine = create_engine(env.store_url)
    try:
        async with engine.connect() as conn:
            if not await conn.run_sync(lambda c: sa.inspect(c).has_table("partition_state")):
                return {}  # no replica has migrated the store yet
            query = sa.select(heads.c.partition, heads.c.committed_by).where(
                heads.c.topic == env.topic
            )
            return {int(row[0]): str(row[1]) for row in await conn.execute(query)}
    finally:
        await engine.dispose()


async def conflicts(http: httpx.AsyncClient, collector: Collector) -> float:
    """Return the store conflicts (refused zombie writes) a collector's /metrics reports."""
    with contextlib.suppress(httpx.HTTPError):
        text = (await http.get(collector.url + "/metrics", timeout=2)).text
        for line in text.splitlines():
            if line.startswith("collector_store_conflicts_total"):
                return float(line.split()[-1])
    return 0.0


async def until(condition: Any, what: str, timeout_s: float = 60) -> None:
    """Wait until an async condition holds (a generous deadline, never a fixed sleep)."""
    deadline = time.monotonic() + timeout_s
    while not await condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.2)


def sqlite_writable(url: str) -> bool:
    """Say whether a SQLite store's write lock can be taken within a second."""
    db = sqlite3.connect(url.removeprefix("sqlite+aiosqlite:///"), timeout=1.0)
    try:
        db.execute("BEGIN IMMEDIATE")
        db.execute("ROLLBACK")
        return True
    except sqlite3.OperationalError:
        return False
    finally:
        db.close()


async def pause_outside_a_commit(env: Setup, collector: Collector) -> None:
    """SIGSTOP a collector, but not in the middle of a SQLite commit: a process stopped while
    it holds the file's write lock stops every replica on the machine (SQLite's limit; on
    PostgreSQL the server ends such a transaction after `IDLE_IN_TRANSACTION_MS`)."""
    for _ in range(50):
        collector.process.send_signal(signal.SIGSTOP)
        if not env.store_url.startswith("sqlite") or sqlite_writable(env.store_url):
            return
        collector.process.send_signal(signal.SIGCONT)
        await asyncio.sleep(0.05)  # let it finish that commit
    raise AssertionError("the collector always held the SQLite write lock")


async def test_a_paused_replica_is_a_zombie_whose_writes_are_refused(
    setup: Setup,  # noqa: F811 - the fixture
    kafka_settings: KafkaSettings,
) -> None:
    """SIGSTOP a replica past its session timeout: the other one takes its partitions over and
    commits them on; woken up, the paused one (a zombie) still holds its old revisions, so its
    writes are refused (counted), it reloads, and both serve the exact figures."""
    stream = known_stream(seed=31, count=3000)
    wanted = as_expected(expected_kpis(stream), stream)
    async with collectors(setup) as started, httpx.AsyncClient(headers=VIEWER_HEADERS) as http:
        a, b = Collector(setup, "a"), Collector(setup, "b")
        started += [a, b]
        producing = asyncio.create_task(produce(kafka_settings, setup.topic, stream, 50))

        async def shared() -> bool:
            found = await committers(setup)
            return len(found) == PARTITIONS and set(found.values()) == {"a", "b"}

        await until(shared, "both replicas committing their own partitions")
        await pause_outside_a_commit(setup, a)
        try:

            async def taken_over() -> bool:
                found = await committers(setup)
                return set(found.values()) == {"b"}

            await until(taken_over, "b committing every partition")
        finally:
            a.process.send_signal(signal.SIGCONT)

        async def refused() -> bool:
            return await conflicts(http, a) >= 1

        await until(refused, "the zombie's write refused")
        await producing
        try:
            await wait_for_figures(http, [a.url, b.url], wanted, timeout_s=90)
        except AssertionError as exc:
            raise AssertionError("\n".join([str(exc), *log_tail(started)])) from exc
