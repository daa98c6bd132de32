"""Schemathesis against the gateway's own OpenAPI: no 5xx, no answer that breaks the spec."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from schemathesis_run import run_schemathesis

from lgsp_common.settings import KafkaSettings
from lgsp_devkit.testing import TopicFactory, register_source, serve
from lgsp_gateway.main import create_app
from lgsp_gateway.settings import GatewaySettings

pytestmark = [pytest.mark.kafka, pytest.mark.slow]
ROOT = Path(__file__).resolve().parents[2]
SCHEMA = json.loads((ROOT / "contracts/topics/tthc.dossier.v1/v1.schema.json").read_text())


async def test_generated_requests_get_no_5xx_and_conform_to_the_spec(
    kafka_settings: KafkaSettings, topic_factory: TopicFactory, tmp_path: Path
) -> None:
    topic = await topic_factory("tthc")
    registry = await topic_factory("registry", 1, **{"cleanup.policy": "compact"})
    key = await register_source(kafka_settings, registry, "dvc", topic, SCHEMA)
    settings = GatewaySettings(
        kafka=kafka_settings,
        registry_topic=registry,
        dlq_topic=await topic_factory("dlq"),
        audit_topic=await topic_factory("audit"),
    )
    # Pin the path's topic to the registered one, so requests get past authorisation.
    (tmp_path / "schemathesis.toml").write_text(f'[parameters]\n"path.topic" = "{topic}"\n')
    async with serve(create_app(settings)) as url:
        status, text = await run_schemathesis(
            url, {"X-API-Key": key}, tmp_path, phases="examples,coverage,fuzzing"
        )
    print(text[-2500:])
    assert status == 0, text[-6000:]
    assert "No issues found" in text or "passed" in text.lower(), text[-3000:]
