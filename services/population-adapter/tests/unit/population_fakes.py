"""Fakes of the adapter's clients: registry copy, Kafka producer, national database over HTTP.

The same fakes serve the use-case tests (`test_service.py`) and the whole-app tests that pass
them through the composition root (`test_app.py`); none needs a broker or a network.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx

from lgsp_simulators.national_population.generator import generate_citizens

CITIZENS = list(generate_citizens(6, 5))
TOKEN = "gateway-secret"
HEALTH = "health_insurance_check"


class FakeRegistry:
    """A registry copy from a dictionary: one organisation and its approved consumer."""

    caught_up = True

    def __init__(self) -> None:
        self.entities: dict[tuple[str, str], dict[str, Any]] = {
            ("organisation", "org-syt"): {"id": "org-syt", "code": "000.00.17.H03"},
            ("consumer", "syt-his"): {
                "id": "syt-his",
                "organisation_id": "org-syt",
                "topic": "population.citizen.v1",
                "purpose": HEALTH,
                "fields": ["/full_name", "/date_of_birth", "/health_insurance_number"],
                "status": "approved",
            },
        }

    def get(self, kind: str, entity_id: str) -> dict[str, Any] | None:
        return self.entities.get((kind, entity_id))


class FakeProducer:
    """Stores what it is sent, by topic; `fail` makes the broker refuse; logs its lifecycle."""

    def __init__(self, lifecycle: list[str] | None = None) -> None:
        self.records: list[dict[str, Any]] = []
        self.topics: list[str] = []
        self.fail = False
        self.lifecycle = lifecycle if lifecycle is not None else []

    async def start(self) -> None:
        self.lifecycle.append("producer started")

    async def stop(self) -> None:
        self.lifecycle.append("producer stopped")

    async def send(self, topic: str, value: bytes | None = None, **_: Any) -> asyncio.Future[None]:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if self.fail:
            future.set_exception(RuntimeError("not stored"))
        else:
            self.records.append(json.loads(value or b"null"))
            self.topics.append(topic)
            future.set_result(None)
        return future


def national_database(citizens: list[Any] = CITIZENS) -> httpx.MockTransport:
    """Answer `POST /citizens/lookup` like the simulated national database."""
    by_id = {c.cccd: c for c in citizens}

    def answer(request: httpx.Request) -> httpx.Response:
        citizen = by_id.get(json.loads(request.content)["cccd"])
        if citizen is None:
            return httpx.Response(404, json={"title": "No such citizen"})
        return httpx.Response(200, content=citizen.model_dump_json())

    return httpx.MockTransport(answer)
