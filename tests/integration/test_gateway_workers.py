"""One gateway, several worker processes: the rate limit is per source, /metrics the whole group.

The gateway runs as its own process (`python -m lgsp_gateway`, `LGSP_GATEWAY_WORKERS=2`), and
every request comes on a fresh connection, so the kernel hands them to both workers (each
worker writes its own audit chain: the test checks that both answered). One source publishes
as fast as it can for a few seconds: the events accepted are the bucket's burst plus its rate
over that time, once, not once per worker. Then every scrape of `/metrics`, whichever worker
answers it, counts exactly the 202s and 429s the client saw.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from gateway_env import VALID, headers, read_all, registry_entities

from lgsp_common.settings import KafkaSettings
from lgsp_devkit.kafka_local import free_port
from lgsp_devkit.testing import TopicFactory, new_api_key, publish_registry_changes

pytestmark = [pytest.mark.kafka, pytest.mark.slow]

WORKERS, RATE, BURST, SECONDS = 2, 2.0, 6.0, 6.0


def allowed(seconds: float, buckets: int = 1) -> float:
    """Return how many events `buckets` token buckets let through in `seconds`."""
    return buckets * (BURST + RATE * seconds)


SHM = Path("/dev/shm")


def run_dirs() -> set[Path]:
    """Return the gateways' worker-group folders in /dev/shm (see lgsp_common.workers)."""
    return set(SHM.glob("lgsp-gateway-workers-*"))


def text_of(path: Path) -> str:
    """Return a log's text (for an assertion's message)."""
    return path.read_text(errors="replace")


@contextlib.asynccontextmanager
async def gateway_workers(env: dict[str, str], log: Path) -> AsyncIterator[str]:
    """Run `python -m lgsp_gateway` with these settings until it answers; yield its URL."""
    port = free_port()
    env = os.environ | env | {"LGSP_GATEWAY_PORT": str(port)}
    with log.open("wb") as out:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "lgsp_gateway", env=env, stdout=out, stderr=out
        )
        url = f"http://127.0.0.1:{port}"
        try:
            async with httpx.AsyncClient(base_url=url) as http, asyncio.timeout(120):
                while True:
                    assert process.returncode is None, text_of(log)
                    with contextlib.suppress(httpx.TransportError):
                        if (await http.get("/readyz")).status_code == 200:
                            break
                    await asyncio.sleep(0.2)
            yield url
        finally:
            if process.returncode is None:
                process.terminate()
                async with asyncio.timeout(90):
                    await process.wait()


async def publish_past_the_limit(url: str, topic: str, key: str) -> tuple[list[int], float]:
    """Publish from several tasks, each request on a new connection, for at least `SECONDS`
    and until the calls are well beyond what one bucket per worker would let through (a loaded
    box answers slowly); return the statuses and the time taken."""
    statuses: list[int] = []
    started = time.monotonic()

    def enough() -> bool:
        elapsed = time.monotonic() - started
        return elapsed >= SECONDS and len(statuses) >= allowed(elapsed, WORKERS) + 10

    async def publisher() -> None:
        while not enough():
            async with httpx.AsyncClient(base_url=url, timeout=30) as http:
                answer = await http.post(
                    f"/v1/topics/{topic}/events",
                    json=VALID,
                    headers=headers(key, connection="close"),
                )
            statuses.append(answer.status_code)

    async with asyncio.timeout(120), asyncio.TaskGroup() as group:
        for _ in range(6):
            group.create_task(publisher())
    return statuses, time.monotonic() - started


def sample(text: str, name: str, **labels: str) -> float:
    """Return the value of the one sample of `name` with these labels (0 when absent)."""
    found = 0.0
    for line in text.splitlines():
        match = re.fullmatch(rf"{name}\{{(.*)\}} (\S+)", line)
        if match and all(f'{k}="{v}"' in match.group(1) for k, v in labels.items()):
            found += float(match.group(2))
    return found


async def scrapes(url: str, count: int) -> list[str]:
    """Scrape /metrics `count` times, each on a new connection."""
    texts = []
    for _ in range(count):
        async with httpx.AsyncClient(base_url=url, timeout=30) as http:
            answer = await http.get("/metrics", headers={"connection": "close"})
        assert answer.status_code == 200
        texts.append(answer.text)
    return texts


@pytest.fixture
async def setting(kafka_settings: KafkaSettings, topic_factory: TopicFactory) -> dict[str, Any]:
    """Create the test's topics and registry (sources, contract, keys); return its settings."""
    registry = await topic_factory("registry", 1, **{"cleanup.policy": "compact"})
    topic, other = await topic_factory("tthc"), await topic_factory("other")
    dlq, audit = await topic_factory("dlq"), await topic_factory("audit")
    keys = {name: new_api_key()[1] for name in ("main", "other", "revoked")}
    await publish_registry_changes(kafka_settings, registry, registry_entities(topic, other, keys))
    env = {
        "KAFKA_BOOTSTRAP_SERVERS": kafka_settings.bootstrap_servers,
        "LGSP_GATEWAY_WORKERS": str(WORKERS),
        "LGSP_GATEWAY_REGISTRY_TOPIC": registry,
        "LGSP_GATEWAY_DLQ_TOPIC": dlq,
        "LGSP_GATEWAY_AUDIT_TOPIC": audit,
        "LGSP_GATEWAY_RATE_LIMIT_PER_SOURCE": str(RATE),
        "LGSP_GATEWAY_RATE_LIMIT_BURST": str(BURST),
        "LGSP_GATEWAY_LOG_LEVEL": "WARNING",
        "LGSP_GATEWAY_LOG_JSON": "false",
    }
    return {"env": env, "topic": topic, "audit": audit, "key": keys["main"]}


async def test_workers_share_one_bucket_per_source_and_report_one_set_of_metrics(
    setting: dict[str, Any], kafka_settings: KafkaSettings, tmp_path: Path
) -> None:
    before = run_dirs()
    async with gateway_workers(setting["env"], tmp_path / "gateway.log") as url:
        ours = run_dirs() - before
        statuses, elapsed = await publish_past_the_limit(url, setting["topic"], setting["key"])
        texts = await scrapes(url, 8)

    accepted, limited = statuses.count(202), statuses.count(429)
    assert accepted + limited == len(statuses), sorted(set(statuses))
    # One bucket: the burst at once, then the rate (a bucket per worker would let twice through).
    assert accepted <= allowed(elapsed) + 1, (accepted, elapsed, len(statuses))
    assert accepted >= allowed(elapsed - 3), (accepted, elapsed, len(statuses))

    # Every call is audited on its worker's own chain: both workers answered.
    records = await read_all(kafka_settings, setting["audit"], len(statuses))
    writers = {json.loads(r.value)["writer"] for r in records}
    assert len(writers) == WORKERS, writers

    # Whichever worker answered the scrape, it counts the whole group's calls.
    source = {"source": "dvc-portal", "topic": setting["topic"]}
    counted = [sample(t, "gateway_events_accepted_total", **source) for t in texts]
    refused = [
        sample(t, "gateway_events_rejected_total", reason="rate_limited", **source) for t in texts
    ]
    assert counted == [accepted] * len(texts), (counted, accepted)
    assert refused == [limited] * len(texts), (refused, limited)

    # The run's shared folder (metrics files, buckets) is gone once the gateway stopped.
    if os.access(SHM, os.W_OK):
        assert len(ours) == 1, ours
        assert not ours & run_dirs()
