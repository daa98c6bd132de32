"""Who reads the province's figures (issue 13, finding 9), across real services and a real broker.

The registry issues people's tokens; the collector learns them from `lgsp.registry` and lets a
viewer read its KPIs, stream and dashboard, and nobody else; a revocation at the registry closes
the collector within seconds. The registry shows who reads whose data (consumers) only to the
operator, an auditor or the organisations concerned; what owners publish stays public.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import httpx
import pytest

from lgsp_common.settings import KafkaSettings
from lgsp_devkit.inprocess import in_process_platform
from lgsp_devkit.viewers import issue_viewer_token

pytestmark = [pytest.mark.kafka, pytest.mark.slow, pytest.mark.timeout(240)]
DATA = ("/v1/kpis", "/v1/scorecard", "/v1/sources/health", "/v1/streams/counts", "/v1/stream")


async def status_of(http: httpx.AsyncClient, path: str, token: str | None) -> int:
    """Return the answer's status (a stream's too, without reading it)."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with http.stream("GET", path, headers=headers) as answer:
        if answer.status_code >= 400:
            assert answer.headers["content-type"].startswith("application/problem+json")
        return answer.status_code


async def test_only_viewers_read_the_collector_and_a_revocation_closes_it_in_seconds(
    kafka_settings: KafkaSettings, tmp_path: Path
) -> None:
    async with (
        in_process_platform(kafka_settings, tmp_path, citizens=200) as platform,
        httpx.AsyncClient(base_url=platform.urls["collector"], timeout=30) as collector,
        httpx.AsyncClient(base_url=platform.urls["registry"], timeout=30) as registry,
    ):
        for path in DATA:
            assert await status_of(collector, path, None) == 401, path
            assert await status_of(collector, path, platform.viewer_token) == 200, path
        assert (await collector.get("/")).status_code == 303  # to the sign-in page

        made = await issue_viewer_token(platform.urls["registry"], platform.token, "Chủ tịch")
        deadline = time.monotonic() + 30
        while await status_of(collector, "/v1/kpis", made["token"]) != 200:
            assert time.monotonic() < deadline, "the new token never reached the collector"
            await asyncio.sleep(0.1)
        operator = {"Authorization": f"Bearer {platform.token}"}
        revoked = await registry.post(f"/v1/tokens/{made['id']}/revoke", headers=operator)
        assert revoked.status_code == 200, revoked.text
        started = time.monotonic()
        while await status_of(collector, "/v1/kpis", made["token"]) != 401:
            assert time.monotonic() - started < 30, "the revocation never reached the collector"
            await asyncio.sleep(0.1)
        assert time.monotonic() - started < 10  # within seconds, not minutes
        assert await status_of(collector, "/v1/kpis", platform.viewer_token) == 200

        assert (await registry.get("/v1/consumers")).status_code == 401
        viewer = {"Authorization": f"Bearer {platform.viewer_token}"}
        assert (await registry.get("/v1/consumers", headers=viewer)).status_code == 403
        assert (await registry.get("/v1/consumers", headers=operator)).status_code == 200
        assert (await registry.get("/v1/catalogue")).status_code == 200
