"""Bad input to the registry over HTTP: each gets a clear 4xx problem+json, nothing is written.

After every refusal, one good change is made; the registry topic must then hold exactly the
setup's events and that one, so no refused request left a row or an event behind.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from lgsp_common.settings import KafkaSettings
from lgsp_devkit.registry_testing import (  # noqa: F401 - fixtures
    OPERATOR_TOKEN,
    postgres_server,
    read_changes,
    registry_database_url,
    registry_topic,
)
from lgsp_devkit.testing import TopicFactory, serve
from lgsp_registry.main import create_app
from lgsp_registry.settings import RegistrySettings

pytestmark = pytest.mark.kafka
OPERATOR = {"Authorization": f"Bearer {OPERATOR_TOKEN}"}
JSON = {"content-type": "application/json"}


def schema(subject: str, **properties: Any) -> dict[str, Any]:
    """Return a closed object schema with the given properties."""
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "x-lgsp": {"topic": subject},
        "additionalProperties": False,
        "required": ["id"],
        "properties": {"id": {"type": "string"}, **properties},
    }


EXAMPLES = {"valid": [{"id": "a"}], "invalid": [{"id": 1}]}


def nested(depth: int) -> dict[str, Any]:
    """Return a schema whose properties nest `depth` objects deep."""
    node: dict[str, Any] = {"type": "string"}
    for _ in range(depth):
        node = {"type": "object", "properties": {"x": node}}
    return node


def cases(subject: str) -> list[tuple[str, str, dict[str, Any], int, str, str | None]]:
    """Return (method, path, request kwargs, status, problem type, pointer) per bad request."""
    versions = f"/v1/subjects/{subject}/versions"
    org = {"id": "so-y-te", "code": "000.00.18.H03", "name_vi": "Sở Y tế", "name_en": "Health"}
    remote = schema(subject, x={"$ref": "https://evil.example/schema.json"})
    huge = schema(subject, x={"enum": ["a" * 1000] * 10_500})
    return [
        (
            "POST",
            versions,
            {"content": b'{"schema": {', "headers": {**OPERATOR, **JSON}},
            400,
            "malformed-json",
            None,
        ),
        (
            "POST",
            versions,
            {
                "json": {"schema": schema(subject, x={"type": "strng"}), "examples": EXAMPLES},
                "headers": OPERATOR,
            },
            422,
            "invalid-schema",
            "/schema/properties/x/type",
        ),
        (
            "POST",
            versions,
            {"json": {"schema": remote, "examples": EXAMPLES}, "headers": OPERATOR},
            422,
            "invalid-schema",
            "/schema/properties/x/$ref",
        ),
        (
            "POST",
            versions,
            {"json": {"schema": huge, "examples": EXAMPLES}, "headers": OPERATOR},
            413,
            "body-too-large",
            None,
        ),
        (
            "POST",
            versions,
            {
                "json": {"schema": schema(subject, x=nested(40)), "examples": EXAMPLES},
                "headers": OPERATOR,
            },
            422,
            "too-deeply-nested",
            None,
        ),
        (
            "POST",
            versions,
            {"content": b"[" * 100_000 + b"]" * 100_000, "headers": {**OPERATOR, **JSON}},
            422,
            "too-deeply-nested",
            None,
        ),
        (
            "POST",
            versions,
            {
                "json": {"schema": schema(subject), "examples": EXAMPLES, "colour": "red"},
                "headers": OPERATOR,
            },
            422,
            "invalid-request",
            "/colour",
        ),
        (
            "POST",
            versions,
            {
                "json": {
                    "schema": schema(subject),
                    "examples": {"valid": [{"id": 1}], "invalid": [{"id": 2}]},
                },
                "headers": OPERATOR,
            },
            422,
            "invalid-examples",
            "/examples/valid/0",
        ),
        (
            "POST",
            versions,
            {"content": b"schema: {}", "headers": {**OPERATOR, "content-type": "text/yaml"}},
            415,
            "unsupported-media-type",
            None,
        ),
        (
            "POST",
            "/v1/organisations",
            {"json": {**org, "colour": "red"}, "headers": OPERATOR},
            422,
            "invalid-request",
            "/colour",
        ),
        ("POST", "/v1/organisations", {"json": org}, 401, "unauthorised", None),
        (
            "POST",
            "/v1/organisations",
            {"json": org, "headers": {"X-API-Key": "lgsp_00000000_" + "A" * 43}},
            401,
            "unauthorised",
            None,
        ),
        (
            "POST",
            "/v1/organisations",
            {"json": {**org, "code": "not a code"}, "headers": OPERATOR},
            422,
            "invalid-request",
            "/code",
        ),
    ]


async def test_bad_input_is_refused_and_nothing_is_written(
    kafka_settings: KafkaSettings,
    topic_factory: TopicFactory,
    registry_database_url: str,  # noqa: F811
    tmp_path: Path,
) -> None:
    topic = await registry_topic(topic_factory)
    subject = f"health.visit-{uuid.uuid4().hex[:8]}.v1"
    settings = RegistrySettings(
        kafka=kafka_settings,
        registry_topic=topic,
        database_url=registry_database_url,
        data_dir=tmp_path,
        operator_token=OPERATOR_TOKEN,
        publish_interval_s=0.1,
    )
    async with serve(create_app(settings)) as url, httpx.AsyncClient(base_url=url) as http:
        for method, path, kwargs, status, kind, pointer in cases(subject):
            response = await http.request(method, path, **kwargs)
            assert response.status_code == status, (kind, response.text[:500])
            assert response.headers["content-type"] == "application/problem+json"
            problem = response.json()
            assert problem["type"].endswith("/" + kind), problem
            assert problem["status"] == status and problem["title"]
            if pointer is not None:
                assert pointer in [e["pointer"] for e in problem["errors"]], problem
        assert (await http.get("/v1/organisations")).json() == []
        assert (await http.get("/v1/subjects")).json() == []
        good = {"id": "so-y-te", "code": "000.00.18.H03", "name_vi": "Sở Y tế", "name_en": "Health"}
        assert (
            await http.post("/v1/organisations", json=good, headers=OPERATOR)
        ).status_code == 201
        changes = await read_changes(kafka_settings, topic, 2, timeout_s=5)
    assert [key for key, _ in changes] == ["organisation:so-y-te"]
    assert changes[0][1]["data"]["name_vi"] == "Sở Y tế"
