"""The `lgsp registry` commands against a registry served over real HTTP."""

from __future__ import annotations

import asyncio
import contextlib
import json
import shlex
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from lgsp_cli.main import app as cli
from lgsp_common.settings import KafkaSettings
from lgsp_devkit.registry_testing import (  # noqa: F401 - fixtures
    OPERATOR_TOKEN,
    postgres_server,
    registry_database_url,
    registry_topic,
)
from lgsp_devkit.testing import TopicFactory, serve
from lgsp_registry.main import create_app
from lgsp_registry.settings import RegistrySettings

pytestmark = pytest.mark.kafka
TOPICS = 6


async def lgsp(url: str, command: str, *extra: str, token: str = OPERATOR_TOKEN) -> Result:
    """Run `lgsp registry <command> <extra…>` in a thread (the served app runs on this loop)."""
    args = ["registry", "--url", url, "--token", token, *shlex.split(command), *extra]
    return await asyncio.to_thread(CliRunner().invoke, cli, args)


def write_contract(folder: Path, subject: str, required: list[str]) -> Path:
    """Write a schema file and its examples folder; returns the schema's path."""
    schema = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "x-lgsp": {"topic": subject},
        "additionalProperties": False,
        "required": required,
        "properties": {"report_id": {"type": "string"}, "pupils": {"type": "integer"}},
    }
    (folder / "examples" / "valid").mkdir(parents=True, exist_ok=True)
    (folder / "examples" / "invalid").mkdir(parents=True, exist_ok=True)
    (folder / "examples" / "valid" / "one.json").write_text('{"report_id": "a", "pupils": 3}')
    wrapped = {
        "reason": "pupils is text",
        "expected_pointer": "/pupils",
        "payload": {"report_id": "a", "pupils": "3"},
    }
    (folder / "examples" / "invalid" / "text.json").write_text(json.dumps(wrapped))
    path = folder / "v1.schema.json"
    path.write_text(json.dumps(schema))
    return path


def last_json(result: Result) -> Any:
    """Decode the JSON a command printed."""
    return json.loads(result.stdout)


@contextlib.asynccontextmanager
async def running_registry(
    kafka: KafkaSettings, topics: TopicFactory, database_url: str, data_dir: Path
) -> AsyncIterator[str]:
    """Serve a registry of the test's own; yields its URL."""
    settings = RegistrySettings(
        kafka=kafka,
        registry_topic=await registry_topic(topics),
        database_url=database_url,
        data_dir=data_dir,
        operator_token=OPERATOR_TOKEN,
    )
    async with serve(create_app(settings)) as url:
        yield url


async def test_seed_registers_the_contracts_folder_once(
    kafka_settings: KafkaSettings,
    topic_factory: TopicFactory,
    registry_database_url: str,  # noqa: F811
    tmp_path: Path,
) -> None:
    async with running_registry(
        kafka_settings, topic_factory, registry_database_url, tmp_path
    ) as url:
        first = await lgsp(url, "seed")
        assert first.exit_code == 0, first.output
        assert f"contracts created: {TOPICS}" in first.stdout
        again = await lgsp(url, "seed")
        assert again.exit_code == 0, again.output
        assert f"contracts kept: {TOPICS}" in again.stdout and "created" not in again.stdout
        assert len(last_json(await lgsp(url, "list", "subjects"))) == TOPICS
        sources = last_json(await lgsp(url, "list", "sources", "--topic", "tthc.dossier.v1"))
        assert [(s["organisation_id"], s["cadence"]) for s in sources] == [
            ("vp-ubnd-tinh", "realtime")
        ]


async def register_school_source(url: str, subject: str) -> tuple[str, str]:
    """Register an organisation and a source with the CLI; returns (key id, key)."""
    names = ["--name-vi", "Sở Giáo dục và Đào tạo", "--name-en", "Education"]
    org = await lgsp(url, "org create so-gd-dt --code 000.00.19.H03", *names)
    assert org.exit_code == 0, org.output
    source = "source create sgd-bao-cao --org so-gd-dt --cadence monthly --topic"
    created = await lgsp(url, source, subject, "--name", "Báo cáo trường")
    assert created.exit_code == 0, created.output
    key = (await lgsp(url, "source", "key", "sgd-bao-cao")).stdout
    return key.split("key id:")[1].split()[0], key.split("key:")[1].split()[0]


async def test_integrator_commands(
    kafka_settings: KafkaSettings,
    topic_factory: TopicFactory,
    registry_database_url: str,  # noqa: F811
    tmp_path: Path,
) -> None:
    subject = f"education.school-report-{uuid.uuid4().hex[:6]}.v1"
    async with running_registry(
        kafka_settings, topic_factory, registry_database_url, tmp_path
    ) as url:
        key_id, source_key = await register_school_source(url, subject)
        v1 = write_contract(tmp_path / "v1", subject, ["report_id"])
        pushed = await lgsp(url, "contract", "push", str(v1), token=source_key)
        assert pushed.exit_code == 0, pushed.output
        assert f"{subject} version 1 registered" in pushed.stdout

        v2 = write_contract(tmp_path / "v2", subject, ["report_id", "pupils"])
        check = await lgsp(url, "contract", "check", str(v2), token=source_key)
        assert check.exit_code == 1, check.output
        assert "incompatible" in check.stdout and "/required" in check.stdout
        refused = await lgsp(url, "contract", "push", str(v2), token=source_key)
        assert refused.exit_code == 1
        assert "Incompatible contract version" in refused.output
        same = await lgsp(url, "contract", "check", str(v1))
        assert same.exit_code == 0 and "already registered as version 1" in same.stdout

        rotated = await lgsp(url, "key", "rotate", key_id, "--grace", "60", token=source_key)
        assert rotated.exit_code == 0, rotated.output
        assert source_key not in rotated.stdout and "key:    lgsp_" in rotated.stdout
        denied = await lgsp(
            url, "org create x-y --code 1.2 --name-vi x --name-en x", token=source_key
        )
        assert denied.exit_code == 1 and "403" in denied.output
        await check_consumer_commands(url, subject)


async def check_consumer_commands(url: str, subject: str) -> None:
    """Request access as another organisation, then approve it as the operator."""
    names = ["--name-vi", "Trung tâm IOC", "--name-en", "IOC"]
    assert (await lgsp(url, "org create ioc --code 000.00.20.H03", *names)).exit_code == 0
    request = "consumer request ioc-truong --org ioc --purpose ioc-kpi --field /pupils --topic"
    asked = await lgsp(url, request, subject)
    assert asked.exit_code == 0, asked.output
    assert last_json(asked)["status"] == "pending"
    approved = await lgsp(url, "consumer", "approve", "ioc-truong")
    assert last_json(approved)["status"] == "approved"
    unknown = await lgsp(url, "consumer", "approve", "nobody")
    assert unknown.exit_code == 2 and "404" in unknown.output
