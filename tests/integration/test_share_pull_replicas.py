"""No sticky sessions: two gateway processes serve one reader's cursors, even when one dies.

A client alternates request by request between two gateway processes and reads the whole topic
with no gap and no duplicate; then one gateway is SIGKILLed while it serves a read, and the
client continues on the other from its last cursor, again with no gap and no duplicate.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaProducer
from share_env import Share, payload, share_setup

from lgsp_common.envelope import CloudEvent, to_kafka
from lgsp_common.settings import KafkaSettings
from lgsp_devkit.kafka_local import free_port
from lgsp_devkit.testing import TopicFactory

pytestmark = [pytest.mark.kafka, pytest.mark.slow]


@contextlib.asynccontextmanager
async def gateway_process(share: Share, name: str, logs: Path) -> AsyncIterator[Any]:
    """Run `python -m lgsp_gateway` on a free port until ready; yields (url, process)."""
    port = free_port()
    env = os.environ | share.env()
    env |= {"LGSP_GATEWAY_PORT": str(port), "LGSP_GATEWAY_INSTANCE_ID": name}
    with (logs / f"{name}.log").open("wb") as log:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "lgsp_gateway", env=env, stdout=log, stderr=log
        )
        url = f"http://127.0.0.1:{port}"
        try:
            async with httpx.AsyncClient(base_url=url) as http, asyncio.timeout(90):
                while True:
                    assert process.returncode is None, (logs / f"{name}.log").read_text()
                    with contextlib.suppress(httpx.TransportError):
                        if (await http.get("/readyz")).status_code == 200:
                            break
                    await asyncio.sleep(0.2)
            yield url, process
        finally:
            if process.returncode is None:
                process.terminate()
                await process.wait()


async def produce(kafka: KafkaSettings, topic: str, start: int, count: int) -> set[str]:
    """Put events on the topic as the gateway would (binary mode); return their ids."""
    producer = AIOKafkaProducer(bootstrap_servers=kafka.bootstrap_servers, acks="all")
    await producer.start()
    ids: set[str] = set()
    try:
        for i in range(start, start + count):
            event = CloudEvent(
                id=str(uuid.uuid4()), source="/sources/src-a", type="t.case", data=payload(i)
            )
            record = to_kafka(event, f"HS-{i:04d}")
            await producer.send(topic, record.value, key=record.key, headers=record.headers)
            ids.add(event.id)
        await producer.flush()
    finally:
        await producer.stop()
    return ids


async def polls_waiting(http: httpx.AsyncClient, url: str) -> bool:
    """Tell whether a long poll waits on the gateway at `url` (its own metric)."""
    text = (await http.get(f"{url}/metrics")).text
    name = "gateway_read_long_polls_waiting{"
    return any(
        float(line.rsplit(" ", 1)[1]) >= 1 for line in text.splitlines() if line.startswith(name)
    )


async def read_page(
    http: httpx.AsyncClient, url: str, share: Share, position: str, wait_ms: int = 1000
) -> Any:
    """One pull request of at most 7 records."""
    answer = await http.get(
        f"{url}/v1/topics/{share.topic}/records",
        params={"position": position, "max_records": 7, "wait_ms": wait_ms},
        headers={"x-api-key": share.keys["ok"]},
    )
    assert answer.status_code == 200, answer.text
    return answer.json()


async def test_alternating_replicas_and_a_killed_one_lose_and_repeat_nothing(
    kafka_settings: KafkaSettings, topic_factory: TopicFactory, tmp_path: Path
) -> None:
    share = await share_setup(kafka_settings, topic_factory)
    first = await produce(kafka_settings, share.topic, 0, 120)
    async with (
        gateway_process(share, "gw-a", tmp_path) as (url_a, _),
        gateway_process(share, "gw-b", tmp_path) as (url_b, process_b),
        httpx.AsyncClient(timeout=30) as http,
    ):
        seen: list[str] = []
        served = {url_a: 0, url_b: 0}
        position, turn = "earliest", 0
        async with asyncio.timeout(60):
            while len(seen) < len(first):
                url = (url_a, url_b)[turn % 2]
                page = await read_page(http, url, share, position)
                served[url] += bool(page["records"])
                seen += [r["id"] for r in page["records"]]
                position, turn = page["next"], turn + 1
        assert len(seen) == len(set(seen)), "a record was answered twice"
        assert set(seen) == first, "a record was skipped"
        assert min(served.values()) >= 5  # both replicas really served pages

        # gw-b is serving a long poll when the next events arrive, and is killed right then
        in_flight = asyncio.create_task(read_page(http, url_b, share, position, wait_ms=20_000))
        async with asyncio.timeout(20):
            while not await polls_waiting(http, url_b):
                assert not in_flight.done()
                await asyncio.sleep(0.02)
        second = await produce(kafka_settings, share.topic, 120, 60)
        process_b.send_signal(signal.SIGKILL)
        with contextlib.suppress(httpx.TransportError, AssertionError):
            await in_flight  # its answer never reaches the client (or does, before the kill)
        await process_b.wait()
        later: list[str] = []
        async with asyncio.timeout(60):
            while len(later) < len(second):
                page = await read_page(http, url_a, share, position)
                later += [r["id"] for r in page["records"]]
                position = page["next"]
        assert len(later) == len(set(later)), "a record was answered twice after the kill"
        assert set(later) == second, "a record was lost after the kill"
