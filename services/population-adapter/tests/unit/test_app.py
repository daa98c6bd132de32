"""The whole adapter app with fakes passed through the composition root: no broker needed."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
from population_fakes import CITIZENS, HEALTH, TOKEN, FakeProducer, FakeRegistry, national_database

from lgsp_common.kafka import KafkaSettings
from population_adapter.main import create_app
from population_adapter.settings import AdapterSettings

CALLER = {"x-lgsp-gateway-token": TOKEN, "x-lgsp-consumer": "syt-his", "x-lgsp-purpose": HEALTH}


class LoggedClient(httpx.AsyncClient):
    """The upstream HTTP client, noting when it is closed."""

    def __init__(self, lifecycle: list[str]) -> None:
        super().__init__(transport=national_database(), base_url="http://up")
        self.lifecycle = lifecycle

    async def __aexit__(self, *exc_info: Any) -> None:
        self.lifecycle.append("upstream closed")
        await super().__aexit__(*exc_info)


class Started:
    """An app started with fakes, and what its clients went through."""

    def __init__(self) -> None:
        self.lifecycle: list[str] = []
        self.producer = FakeProducer(self.lifecycle)
        self.upstream = LoggedClient(self.lifecycle)
        self.app = create_app(
            AdapterSettings(
                kafka=KafkaSettings(bootstrap_servers="127.0.0.1:9"),
                gateway_token=TOKEN,
                audit_topic="unit.audit",
                verification_topic="unit.verification",
            ),
            registry=FakeRegistry(),
            producer=self.producer,
            upstream_client=self.upstream,
            create_topics=self._create_topics,
        )

    async def _create_topics(self) -> None:
        self.lifecycle.append("topics created")

    @asynccontextmanager
    async def http(self) -> AsyncIterator[httpx.AsyncClient]:
        async with self.app.router.lifespan_context(self.app):
            transport = httpx.ASGITransport(app=self.app)
            async with httpx.AsyncClient(transport=transport, base_url="http://adapter") as http:
                yield http


def _identity() -> dict[str, str]:
    citizen = CITIZENS[0]
    return {
        "cccd": citizen.cccd,
        "full_name": citizen.full_name,
        "date_of_birth": citizen.date_of_birth.isoformat(),
    }


async def test_a_verification_is_answered_audited_and_published_through_the_app() -> None:
    started = Started()
    async with started.http() as http:
        answer = await http.post("/v1/verify", json=_identity(), headers=CALLER)
    assert answer.status_code == 200, answer.text
    assert answer.json()["outcome"] == "match"
    topics = ["unit.audit", "unit.audit.checkpoints", "unit.verification"]  # + final checkpoint
    assert sorted(set(started.producer.topics)) == topics
    [audit] = [
        r
        for r, t in zip(started.producer.records, started.producer.topics, strict=True)
        if t == "unit.audit"
    ]
    assert (audit["action"], audit["status_code"]) == ("population.verify", 200)


async def test_clients_open_in_order_and_close_in_reverse() -> None:
    started = Started()
    async with started.http() as http:
        assert started.lifecycle == ["topics created", "producer started"]
        assert (
            await http.post(
                "/v1/lookup", json={"cccd": CITIZENS[1].cccd, "purpose": HEALTH}, headers=CALLER
            )
        ).status_code == 200
        assert not started.upstream.is_closed
    assert started.lifecycle == [
        "topics created",
        "producer started",
        "upstream closed",
        "producer stopped",
    ]


async def test_an_unaudited_answer_is_withheld_through_the_app() -> None:
    started = Started()
    async with started.http() as http:
        started.producer.fail = True
        answer = await http.post(
            "/v1/lookup", json={"cccd": CITIZENS[1].cccd, "purpose": HEALTH}, headers=CALLER
        )
    assert answer.status_code == 503
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert CITIZENS[1].full_name not in answer.text


async def test_without_the_gateway_token_the_app_answers_401_problem_json() -> None:
    started = Started()
    async with started.http() as http:
        answer = await http.post("/v1/verify", json=_identity())
    assert answer.status_code == 401
    assert answer.headers["www-authenticate"].startswith("LGSP-Gateway")
    assert answer.json()["type"].endswith("gateway-token-required")


async def test_before_start_up_the_routes_answer_503() -> None:
    started = Started()
    transport = httpx.ASGITransport(app=started.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://adapter") as http:
        answer = await http.post("/v1/verify", json=_identity(), headers=CALLER)
    assert answer.status_code == 503
    assert started.lifecycle == []
