"""The fast lane answers exactly as the FastAPI routes do: same statuses, headers and bodies."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from population_fakes import CITIZENS, HEALTH, TOKEN, FakeProducer, FakeRegistry, national_database

from lgsp_common.kafka import KafkaSettings
from population_adapter.main import create_app
from population_adapter.settings import AdapterSettings

CALLER = {"x-lgsp-gateway-token": TOKEN, "x-lgsp-consumer": "syt-his", "x-lgsp-purpose": HEALTH}
CITIZEN = CITIZENS[0]
IDENTITY = {
    "cccd": CITIZEN.cccd,
    "full_name": CITIZEN.full_name,
    "date_of_birth": CITIZEN.date_of_birth.isoformat(),
}
CALLS: list[tuple[str, str, Any, dict[str, str]]] = [
    ("verify ok", "/v1/verify", IDENTITY, CALLER),
    ("verify no_match", "/v1/verify", {**IDENTITY, "full_name": "Nguyễn Văn Khác"}, CALLER),
    ("no gateway token", "/v1/verify", IDENTITY, {}),
    ("unknown consumer", "/v1/verify", IDENTITY, {**CALLER, "x-lgsp-consumer": "nobody"}),
    ("bad body", "/v1/verify", {"cccd": "12"}, CALLER),
    ("not json", "/v1/verify", "not json", CALLER),
    ("body too large", "/v1/verify", {"cccd": "1" * 20_000}, CALLER),
    ("lookup ok", "/v1/lookup", {"cccd": CITIZENS[1].cccd, "purpose": HEALTH}, CALLER),
    ("lookup refused field", "/v1/lookup",
     {"cccd": CITIZENS[1].cccd, "purpose": HEALTH, "fields": ["/address"]}, CALLER),
]  # fmt: skip
VARYING = {"verification_id", "verified_at"}  # new for every call


@asynccontextmanager
async def adapter(fast_lane: bool, producer: FakeProducer) -> AsyncIterator[httpx.AsyncClient]:
    """Start the app with fakes, on the fast lane or on FastAPI's routes."""
    settings = AdapterSettings(
        kafka=KafkaSettings(bootstrap_servers="127.0.0.1:9"),
        gateway_token=TOKEN,
        audit_topic="unit.audit",
        verification_topic="unit.verification",
        fast_lane=fast_lane,
    )
    app = create_app(
        settings,
        registry=FakeRegistry(),
        producer=producer,
        upstream_client=httpx.AsyncClient(transport=national_database(), base_url="http://up"),
        create_topics=_no_topics,
    )
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://adapter") as http:
            yield http


async def _no_topics() -> None:
    return None


async def _call(fast_lane: bool, path: str, body: Any, headers: dict[str, str]) -> Any:
    producer = FakeProducer()
    async with adapter(fast_lane, producer) as http:
        if isinstance(body, str):
            answer = await http.post(path, content=body, headers=headers)
        else:
            answer = await http.post(path, json=body, headers=headers)
    content = answer.json()
    if isinstance(content, dict):
        content = {k: v for k, v in content.items() if k not in VARYING}
    kept = {k: answer.headers.get(k) for k in ("content-type", "retry-after", "www-authenticate")}
    audited = [(r.get("action"), r.get("status_code")) for r in producer.records if "seq" in r]
    return answer.status_code, kept, content, audited


@pytest.mark.parametrize(("name", "path", "body", "headers"), CALLS, ids=[c[0] for c in CALLS])
async def test_the_fast_lane_answers_and_audits_as_the_route_does(
    name: str, path: str, body: Any, headers: dict[str, str]
) -> None:
    assert await _call(True, path, body, headers) == await _call(False, path, body, headers)


async def test_an_unaudited_call_answers_503_on_both_paths() -> None:
    for fast_lane in (True, False):
        producer = FakeProducer()
        producer.fail = True
        async with adapter(fast_lane, producer) as http:
            answer = await http.post("/v1/verify", json=IDENTITY, headers=CALLER)
        assert answer.status_code == 503
        assert answer.headers["retry-after"] == "5"
        assert answer.headers["content-type"] == "application/problem+json"
        assert "verification_id" not in answer.json()
