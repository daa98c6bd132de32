"""The adapter against a slow, failing or absent upstream process: 503 fast, breaker, cache TTL.

Each test gets its own upstream process, so faults and outages never leak between tests; the
adapter runs with short timeouts, a small breaker threshold and a TTL of about a second.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from lgsp_common.settings import KafkaSettings
from lgsp_devkit.testing import TopicFactory, publish_registry_changes, serve
from lgsp_simulators.national_population.generator import generate_citizens
from lgsp_simulators.national_population.process import UpstreamProcess
from lgsp_simulators.national_population.store import build_database
from lgsp_vn.citizen import Citizen
from population_adapter.main import create_app
from population_adapter.settings import AdapterSettings

pytestmark = pytest.mark.kafka
CITIZENS = list(generate_citizens(6, 30))
TOKEN = "faults-gateway-token"
HEALTH = "health_insurance_check"
TTL_S = 1.5
BREAKER_RESET_S = 1.0
REGISTRY = [
    ("organisation", "org-syt", {"id": "org-syt", "code": "000.00.17.H03"}),
    (
        "consumer",
        "syt-his",
        {
            "id": "syt-his",
            "organisation_id": "org-syt",
            "topic": "population.citizen.v1",
            "purpose": HEALTH,
            "fields": ["/full_name", "/date_of_birth"],
            "status": "approved",
        },
    ),
]


@dataclass
class Stack:
    """The adapter, its own upstream process, and a client."""

    url: str
    http: httpx.AsyncClient
    upstream: UpstreamProcess

    async def verify(self, citizen: Citizen) -> httpx.Response:
        """Verify a citizen's true identity through the adapter, as the gateway would."""
        body = {
            "cccd": citizen.cccd,
            "full_name": citizen.full_name,
            "date_of_birth": citizen.date_of_birth.isoformat(),
        }
        headers = {
            "X-LGSP-Gateway-Token": TOKEN,
            "X-LGSP-Consumer": "syt-his",
            "X-LGSP-Purpose": HEALTH,
        }
        return await self.http.post(f"{self.url}/v1/verify", json=body, headers=headers)

    async def metric(self, name: str) -> float:
        """Return one sample of the adapter's /metrics."""
        text = (await self.http.get(f"{self.url}/metrics")).text
        found = re.search(rf"^{re.escape(name)} (\S+)$", text, re.MULTILINE)
        assert found, f"{name} not exported"
        return float(found.group(1))


@pytest.fixture(scope="module")
def population_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Build a small population once for the module."""
    path = tmp_path_factory.mktemp("population") / "citizens.sqlite"
    build_database(path, 1_000, 6)
    return path


@pytest.fixture
def upstream(population_db: Path, tmp_path: Path) -> Iterator[UpstreamProcess]:
    """Run an upstream process of the test's own."""
    with UpstreamProcess(population_db, tmp_path / "upstream.log") as process:
        yield process


@pytest.fixture
async def stack(
    kafka_settings: KafkaSettings, topic_factory: TopicFactory, upstream: UpstreamProcess
) -> AsyncIterator[Stack]:
    """Serve an adapter with short timeouts, a quick breaker and a short cache TTL."""
    registry = await topic_factory("registry", 1, **{"cleanup.policy": "compact"})
    await publish_registry_changes(kafka_settings, registry, REGISTRY)
    settings = AdapterSettings(
        kafka=kafka_settings,
        upstream_url=upstream.url,
        registry_topic=registry,
        audit_topic=await topic_factory("audit", 1),
        verification_topic=await topic_factory("verif", 1),
        gateway_token=TOKEN,
        upstream_timeout_s=0.3,
        upstream_deadline_s=1.0,
        upstream_attempts=2,
        retry_backoff_s=0.01,
        retry_backoff_max_s=0.02,
        breaker_failure_threshold=3,
        breaker_reset_s=BREAKER_RESET_S,
        cache_ttl_s=TTL_S,
    )
    async with serve(create_app(settings)) as url, httpx.AsyncClient(timeout=10) as http:
        yield Stack(url, http, upstream)


async def timed(call: Any) -> tuple[httpx.Response, float]:
    """Await a call and return its answer and how long it took."""
    started = time.perf_counter()
    answer = await call
    return answer, time.perf_counter() - started


async def test_latency_beyond_the_timeout_gives_503_quickly(stack: Stack) -> None:
    stack.upstream.set_faults(latency_ms=2_500)
    answer, seconds = await timed(stack.verify(CITIZENS[0]))
    assert answer.status_code == 503
    assert answer.json()["type"].endswith("upstream-unavailable")
    assert int(answer.headers["Retry-After"]) >= 1
    assert seconds < 1.6  # the 1 s deadline, not the upstream's 2.5 s
    stack.upstream.set_faults()
    assert (await stack.verify(CITIZENS[1])).json()["outcome"] == "match"


async def test_failing_upstream_opens_the_breaker_which_fails_fast_then_recovers(
    stack: Stack,
) -> None:
    stack.upstream.set_faults(failure_rate=1.0)
    for citizen in CITIZENS[:2]:  # 2 requests x 2 attempts >= the threshold of 3
        assert (await stack.verify(citizen)).status_code == 503
    assert await stack.metric("population_upstream_breaker_state") == 1
    reached = stack.upstream.fault_report()["requests"]
    for citizen in CITIZENS[2:6]:
        answer, seconds = await timed(stack.verify(citizen))
        assert answer.status_code == 503
        assert seconds < 0.25  # fails fast: no upstream round trip, no retry
        assert 1 <= int(answer.headers["Retry-After"]) <= BREAKER_RESET_S + 1
    assert stack.upstream.fault_report()["requests"] == reached
    stack.upstream.set_faults()  # the upstream recovers...
    await asyncio.sleep(BREAKER_RESET_S + 0.1)
    assert (await stack.verify(CITIZENS[6])).json()["outcome"] == "match"  # ...the probe passes
    assert await stack.metric("population_upstream_breaker_state") == 0
    for state in ("open", "half_open", "closed"):
        name = f'population_upstream_breaker_transitions_total{{state="{state}"}}'
        assert await stack.metric(name) == 1
    assert await stack.metric("population_upstream_retries_total") >= 2


async def test_upstream_down_serves_cached_records_within_ttl_never_after(stack: Stack) -> None:
    cached, other = CITIZENS[7], CITIZENS[8]
    first = await stack.verify(cached)
    assert first.json()["outcome"] == "match"
    fetched_at = time.monotonic()
    stack.upstream.stop()  # the national database is gone entirely
    again = await stack.verify(cached)
    assert time.monotonic() - fetched_at < TTL_S
    assert again.json()["outcome"] == "match"
    assert (await stack.verify(other)).status_code == 503  # never cached: nothing to serve
    await asyncio.sleep(max(0.0, fetched_at + TTL_S + 0.1 - time.monotonic()))
    expired = await stack.verify(cached)
    assert expired.status_code == 503  # past the TTL the record is never served
    assert await stack.metric("population_cache_hits_total") == 1
    stack.upstream.start()
    await asyncio.sleep(BREAKER_RESET_S + 0.1)
    assert (await stack.verify(cached)).json()["outcome"] == "match"
