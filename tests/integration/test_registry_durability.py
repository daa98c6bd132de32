"""The registry keeps working while Kafka is down, loses no change event, and survives restarts."""

from __future__ import annotations

import uuid
from pathlib import Path

import httpx
import pytest

from lgsp_common.settings import KafkaSettings
from lgsp_devkit.kafka_local import free_port
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


async def test_changes_made_while_kafka_is_down_are_published_after_restart(
    kafka_settings: KafkaSettings,
    topic_factory: TopicFactory,
    registry_database_url: str,  # noqa: F811
    tmp_path: Path,
) -> None:
    topic = await registry_topic(topic_factory)
    suffix = uuid.uuid4().hex[:6]
    base = RegistrySettings(
        registry_topic=topic,
        database_url=registry_database_url,
        data_dir=tmp_path,
        operator_token=OPERATOR_TOKEN,
        publish_interval_s=0.1,
        readiness_timeout_s=0.5,
    )
    nowhere = KafkaSettings(bootstrap_servers=f"127.0.0.1:{free_port()}")
    org = {
        "id": f"so-du-lich-{suffix}",
        "code": f"000.00.{suffix[:2].upper()}.H03",
        "name_vi": "Sở VHTTDL",
        "name_en": "Tourism",
    }
    source = {
        "id": f"luu-tru-{suffix}",
        "organisation_id": org["id"],
        "topic": f"tourism.stay-{suffix}.v1",
        "name": "Báo cáo lưu trú",
        "cadence": "monthly",
    }
    down = create_app(base.model_copy(update={"kafka": nowhere}))
    async with serve(down) as url, httpx.AsyncClient(base_url=url) as http:
        assert (await http.get("/readyz")).status_code == 503
        assert (await http.post("/v1/organisations", json=org, headers=OPERATOR)).status_code == 201
        assert (await http.post("/v1/sources", json=source, headers=OPERATOR)).status_code == 201
        patch = {"status": "suspended"}
        response = await http.patch(f"/v1/sources/{source['id']}", json=patch, headers=OPERATOR)
        assert response.status_code == 200
    assert await read_changes(kafka_settings, topic, 1, timeout_s=2) == []

    up = create_app(base.model_copy(update={"kafka": kafka_settings}))
    async with serve(up) as url, httpx.AsyncClient(base_url=url) as http:
        assert (await http.get(f"/v1/organisations/{org['id']}")).json()["name_vi"] == "Sở VHTTDL"
        changes = await read_changes(kafka_settings, topic, 3)
        deleted = await http.delete(f"/v1/sources/{source['id']}", headers=OPERATOR)
        assert deleted.status_code == 204
        changes = await read_changes(kafka_settings, topic, 4)
    assert [(key, value and value["version"]) for key, value in changes] == [
        (f"organisation:{org['id']}", 1),
        (f"source:{source['id']}", 1),
        (f"source:{source['id']}", 2),
        (f"source:{source['id']}", 3),
    ]
    assert changes[2][1]["data"]["status"] == "suspended"
    # a recoverable delete (issue 13): an upsert with status deleted, no tombstone
    assert (changes[3][1]["op"], changes[3][1]["data"]["status"]) == ("upsert", "deleted")
