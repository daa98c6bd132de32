"""The registry end to end over HTTP, with its change events read back from Kafka in order.

Organisation → source → contract v1 → consumer request → approval → a v2 that breaks the
consumer is refused naming it → a v2 that does not is accepted; every change is on the registry
topic in commit order, readable by RegistryCopy, and no secret is in a response after creation,
in an event or in a log line.
"""

from __future__ import annotations

import copy
import json
import logging
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from jsonschema import Draft202012Validator

from lgsp_common.registry_copy import RegistryCopy
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
ROOT = Path(__file__).resolve().parents[2]
CHANGE_SCHEMA = json.loads(
    (ROOT / "contracts/platform/lgsp.registry/v1.schema.json").read_text(encoding="utf-8")
)
OPERATOR = {"Authorization": f"Bearer {OPERATOR_TOKEN}"}


def dossier_schema(subject: str) -> dict[str, Any]:
    """Return a small closed contract in the style of tthc.dossier.v1."""
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "x-lgsp": {"topic": subject, "entityKey": "dossier_id"},
        "required": ["dossier_id", "status", "channel"],
        "additionalProperties": False,
        "properties": {
            "dossier_id": {"type": "string", "minLength": 1},
            "status": {"enum": ["submitted", "processed", "returned"]},
            "channel": {"enum": ["online", "paper"]},
        },
    }


EXAMPLES = {
    "valid": [{"dossier_id": "H03-1", "status": "submitted", "channel": "online"}],
    "invalid": [{"dossier_id": "H03-1", "status": "lost", "channel": "online"}],
}


def settings_for(
    kafka: KafkaSettings, topic: str, database_url: str, data_dir: Path
) -> RegistrySettings:
    """Return registry settings for one test: its own topic, database and data folder."""
    return RegistrySettings(
        kafka=kafka,
        registry_topic=topic,
        database_url=database_url,
        data_dir=data_dir,
        operator_token=OPERATOR_TOKEN,
        publish_interval_s=0.1,
    )


def secret_part(key: str) -> str:
    """Return the secret of a key (`lgsp_<prefix>_<secret>`), or a token as it is."""
    return key.split("_", 2)[2] if key.startswith("lgsp_") else key


def bearer(key: str) -> dict[str, str]:
    """Return the header that presents a key."""
    return {"Authorization": f"Bearer {key}"}


async def created(response: httpx.Response) -> dict[str, Any]:
    """Assert a 201 and return its body."""
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def register_owner(http: httpx.AsyncClient, subject: str, suffix: str) -> dict[str, str]:
    """Register the owning organisation, its key, its source and the source's key."""
    org = f"so-noi-vu-{suffix}"
    await created(
        await http.post(
            "/v1/organisations",
            json={
                "id": org,
                "code": f"000.00.{suffix[:2].upper()}.H03",
                "name_vi": "Văn phòng UBND tỉnh",
                "name_en": "Provincial Office",
            },
            headers=OPERATOR,
        )
    )
    org_key = await created(await http.post(f"/v1/organisations/{org}/keys", headers=OPERATOR))
    source = {
        "id": f"dvc-{suffix}",
        "organisation_id": org,
        "topic": subject,
        "name": "Cổng dịch vụ công",
        "cadence": "realtime",
    }
    await created(await http.post("/v1/sources", json=source, headers=bearer(org_key["key"])))
    source_key = await created(
        await http.post(f"/v1/sources/{source['id']}/keys", headers=bearer(org_key["key"]))
    )
    return {
        "org": org,
        "org_key": org_key["key"],
        "source": source["id"],
        "source_key": source_key["key"],
        "source_key_id": source_key["id"],
    }


async def register_consumer(http: httpx.AsyncClient, subject: str, suffix: str) -> dict[str, str]:
    """Register the IOC organisation and its pending request to read /status and /channel."""
    org = f"ioc-{suffix}"
    await created(
        await http.post(
            "/v1/organisations",
            json={
                "id": org,
                "code": f"000.00.{suffix[2:4].upper()}.H99",
                "name_vi": "Trung tâm IOC",
                "name_en": "Operations centre",
            },
            headers=OPERATOR,
        )
    )
    org_key = await created(await http.post(f"/v1/organisations/{org}/keys", headers=OPERATOR))
    request = {
        "id": f"ioc-kpi-{suffix}",
        "organisation_id": org,
        "topic": subject,
        "purpose": "ioc-kpi",
        "fields": ["/status", "/channel"],
        "name": "IOC dossier KPIs",
    }
    consumer = await created(
        await http.post("/v1/consumers", json=request, headers=bearer(org_key["key"]))
    )
    assert consumer["status"] == "pending"
    return {"org": org, "org_key": org_key["key"], "consumer": consumer["id"]}


async def test_registry_flow_end_to_end(
    kafka_settings: KafkaSettings,
    topic_factory: TopicFactory,
    registry_database_url: str,  # noqa: F811
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    topic = await registry_topic(topic_factory)
    suffix = uuid.uuid4().hex[:8]
    subject = f"tthc.dossier-{suffix}.v1"
    app = create_app(settings_for(kafka_settings, topic, registry_database_url, tmp_path))
    async with serve(app) as url, httpx.AsyncClient(base_url=url) as http:
        owner = await register_owner(http, subject, suffix)
        v1 = {"schema": dossier_schema(subject), "examples": EXAMPLES}
        contract_v1 = await created(
            await http.post(
                f"/v1/subjects/{subject}/versions", json=v1, headers=bearer(owner["source_key"])
            )
        )
        assert contract_v1["version"] == 1
        reader = await register_consumer(http, subject, suffix)
        consumer_id = reader["consumer"]

        refused = await http.post(
            f"/v1/consumers/{consumer_id}/approve", headers=bearer(reader["org_key"])
        )
        assert refused.status_code == 403, refused.text
        approved = await http.post(
            f"/v1/consumers/{consumer_id}/approve", headers=bearer(owner["org_key"])
        )
        assert approved.status_code == 200, approved.text
        assert approved.json()["status"] == "approved"
        assert approved.json()["decided_by"] == f"organisation:{owner['org']}"

        await check_breaking_v2_is_refused(http, subject, owner, consumer_id)
        contract_v2 = await check_compatible_v2_is_accepted(http, subject, owner)
        await check_no_secret_in_reads(http, owner)

    changes = await read_changes(kafka_settings, topic, 8)
    assert [(key, value["version"], value["op"]) for key, value in changes] == [
        (f"organisation:{owner['org']}", 1, "upsert"),
        (f"source:{owner['source']}", 1, "upsert"),
        (f"api_key:{owner['source_key_id']}", 1, "upsert"),
        (f"contract:{contract_v1['id']}", 1, "upsert"),
        (f"organisation:{reader['org']}", 1, "upsert"),
        (f"consumer:{consumer_id}", 1, "upsert"),
        (f"consumer:{consumer_id}", 2, "upsert"),
        (f"contract:{contract_v2['id']}", 1, "upsert"),
    ]
    validator = Draft202012Validator(CHANGE_SCHEMA)
    for _, value in changes:
        validator.validate(value)
    assert changes[6][1]["data"]["status"] == "approved"
    key_event = changes[2][1]["data"]
    assert key_event["source_id"] == owner["source"]
    assert key_event["key_hash"].startswith("sha256:")
    secrets = [owner["source_key"], owner["org_key"], reader["org_key"], OPERATOR_TOKEN]
    published = json.dumps([value for _, value in changes])
    assert not [s for s in secrets if s in published]
    assert not [s for s in secrets if secret_part(s) in caplog.text]
    await check_registry_copy(kafka_settings, topic, subject, owner, consumer_id)


async def check_breaking_v2_is_refused(
    http: httpx.AsyncClient, subject: str, owner: dict[str, str], consumer_id: str
) -> None:
    """A v2 that makes /channel optional is backward compatible but breaks the consumer."""
    schema = dossier_schema(subject)
    schema["required"] = ["dossier_id", "status"]
    body = {"schema": schema, "examples": EXAMPLES}
    url = f"/v1/subjects/{subject}/versions"
    refused = await http.post(url, json=body, headers=bearer(owner["source_key"]))
    assert refused.status_code == 409, refused.text
    assert refused.headers["content-type"] == "application/problem+json"
    problem = refused.json()
    assert consumer_id in problem["detail"]
    assert [(r["consumer_id"], r["rule"], r["data_path"]) for r in problem["reasons"]] == [
        (consumer_id, "CONSUMER_FIELD_OPTIONAL", "/channel")
    ]
    assert "IOC dossier KPIs" in problem["reasons"][0]["message"]
    dry_run = await http.post(f"/v1/subjects/{subject}/compatibility", json=body)
    assert dry_run.status_code == 200, dry_run.text
    assert dry_run.json()["compatible"] is False
    assert dry_run.json()["reasons"] == problem["reasons"]
    versions = (await http.get(f"/v1/subjects/{subject}/versions")).json()
    assert [v["version"] for v in versions] == [1]


async def check_compatible_v2_is_accepted(
    http: httpx.AsyncClient, subject: str, owner: dict[str, str]
) -> dict[str, Any]:
    """Adding an optional property to the closed model keeps every reader working."""
    schema = copy.deepcopy(dossier_schema(subject))
    schema["properties"]["note"] = {"type": "string", "maxLength": 500}
    body = {"schema": schema, "examples": EXAMPLES}
    check = await http.post(f"/v1/subjects/{subject}/compatibility", json=body)
    assert check.json()["compatible"] is True, check.text
    assert check.json()["checked_versions"] == [1]
    url = f"/v1/subjects/{subject}/versions"
    contract = await created(await http.post(url, json=body, headers=bearer(owner["source_key"])))
    assert contract["version"] == 2
    again = await http.post(url, json=body, headers=bearer(owner["source_key"]))
    assert (again.status_code, again.json()["id"]) == (200, contract["id"])
    latest = (await http.get(f"/v1/subjects/{subject}/versions/latest")).json()
    assert latest["id"] == contract["id"]
    assert (await http.get(f"/v1/contracts/{contract['id']}")).json()["version"] == 2
    return contract


async def check_no_secret_in_reads(http: httpx.AsyncClient, owner: dict[str, str]) -> None:
    """After creation, reads show key metadata only."""
    listed = await http.get(f"/v1/sources/{owner['source']}/keys", headers=OPERATOR)
    assert listed.status_code == 200
    assert [set(k) & {"key", "key_hash"} for k in listed.json()] == [set()]
    assert secret_part(owner["source_key"]) not in listed.text


async def check_registry_copy(
    kafka: KafkaSettings, topic: str, subject: str, owner: dict[str, str], consumer_id: str
) -> None:
    """Another service's live copy sees the same state and authenticates the source's key."""
    copy_ = RegistryCopy(kafka, topic=topic, client_id="test-copy")
    await copy_.start(timeout_s=20)
    try:
        assert copy_.caught_up
        source = copy_.source_for_key(owner["source_key"])
        assert source is not None and source["id"] == owner["source"]
        assert copy_.source_for_key(owner["source_key"][:-1] + "x") is None
        latest = copy_.latest_contract(subject)
        assert latest is not None and latest["version"] == 2
        consumer = copy_.get("consumer", consumer_id)
        assert consumer is not None and consumer["status"] == "approved"
    finally:
        await copy_.stop()
