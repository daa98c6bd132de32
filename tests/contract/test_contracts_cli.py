"""`lgsp contracts verify`: the checks integrators run in their CI, on files and the registry."""

from __future__ import annotations

import asyncio
import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from lgsp_cli.main import app
from lgsp_cli.registry_client import RegistryClient, load_contract
from lgsp_cli.registry_seed import default_seed_file, seed
from lgsp_common.settings import KafkaSettings
from lgsp_devkit.testing import TopicFactory, serve
from lgsp_registry.main import create_app as create_registry
from lgsp_registry.settings import RegistrySettings

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "contracts-cli-operator-token-0123456789"


def run(*args: str) -> tuple[int, str]:
    """Invoke the CLI and return (exit code, output)."""
    result = CliRunner().invoke(app, ["contracts", "verify", *args])
    return result.exit_code, result.output


def test_the_repository_contracts_pass() -> None:
    code, output = run()
    assert code == 0, output
    assert output.startswith("OK:")


def test_an_example_failing_elsewhere_than_declared_is_reported(tmp_path: Path) -> None:
    folder = tmp_path / "contracts"
    shutil.copytree(ROOT / "contracts", folder)
    example = next((folder / "topics/tthc.dossier.v1/examples/invalid").glob("*.json"))
    case = json.loads(example.read_text())
    case["expected_pointer"] = "/somewhere_else"
    example.write_text(json.dumps(case))
    valid = next((folder / "topics/health.medical-visit.v1/examples/valid").glob("*.json"))
    valid.write_text(json.dumps({**json.loads(valid.read_text()), "telemedicine": "yes"}))
    code, output = run("--dir", str(folder))
    assert code == 1
    assert example.name in output
    assert "/somewhere_else" in output
    assert f"{valid.name}: should be valid" in output
    assert "FAILED: 2 problem(s)" in output


@pytest.mark.kafka
async def test_drift_between_the_folder_and_the_registry_fails(
    kafka_settings: KafkaSettings, topic_factory: TopicFactory, tmp_path: Path
) -> None:
    settings = RegistrySettings(
        kafka=kafka_settings,
        data_dir=tmp_path / "registry",
        operator_token=TOKEN,
        registry_topic=await topic_factory("registry", 1, **{"cleanup.policy": "compact"}),
    )
    async with serve(create_registry(settings)) as url:
        client = RegistryClient(url, TOKEN)
        await asyncio.to_thread(seed, client, ROOT / "contracts", default_seed_file())
        code, output = await asyncio.to_thread(run, "--registry", url)
        assert code == 0, output
        body, _ = load_contract(ROOT / "contracts/topics/tthc.dossier.v1/v1.schema.json")
        body["schema"]["properties"]["note"] = {"type": "string", "maxLength": 200}
        await asyncio.to_thread(client.post, "/v1/subjects/tthc.dossier.v1/versions", body)
        code, output = await asyncio.to_thread(run, "--registry", url)
    assert code == 1
    assert "tthc.dossier.v1: v1.schema.json differs from registered version 2" in output
