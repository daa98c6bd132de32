"""Schemathesis against the gateway's own OpenAPI: no 5xx, no answer that breaks the spec."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

import pytest

from lgsp_common.settings import KafkaSettings
from lgsp_devkit.testing import TopicFactory, register_source, serve
from lgsp_gateway.main import create_app
from lgsp_gateway.settings import GatewaySettings

pytestmark = [pytest.mark.kafka, pytest.mark.slow]
ROOT = Path(__file__).resolve().parents[2]
SCHEMA = json.loads((ROOT / "contracts/topics/tthc.dossier.v1/v1.schema.json").read_text())
CHECKS = (
    "not_a_server_error,status_code_conformance,content_type_conformance,"
    "response_headers_conformance,response_schema_conformance"
)


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
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "schemathesis.cli",
            "run",
            f"{url}/openapi.json",
            "--checks",
            CHECKS,
            "--header",
            f"X-API-Key: {key}",
            "--max-examples",
            "25",
            "--seed",
            "6",
            "--request-timeout",
            "15",
            "--phases",
            "examples,coverage,fuzzing",
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            cwd=tmp_path,
        )
        output, _ = await process.communicate()
    text = output.decode(errors="replace")
    print(text[-2500:])
    assert process.returncode == 0, text[-6000:]
    assert "No issues found" in text or "passed" in text.lower(), text[-3000:]
