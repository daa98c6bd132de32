"""The registry's generated AsyncAPI document against contracts/asyncapi.yaml (drift check).

A registry seeded from the repository (departments, sources, contracts and the collector's KPI
files, over real HTTP; Kafka unreachable, so the change events just wait in the outbox) must
serve the same data channels as the hand-kept document, each with the same payload schema.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from lgsp_cli.registry_client import RegistryClient
from lgsp_cli.registry_seed import default_kpis_dir, default_seed_file, seed
from lgsp_common.settings import KafkaSettings
from lgsp_devkit.testing import serve
from lgsp_registry.main import create_app
from lgsp_registry.settings import RegistrySettings

ROOT = Path(__file__).resolve().parents[2]
CONTRACTS = ROOT / "contracts"
TOKEN = "asyncapi-drift-operator-token-0123456789"


@pytest.fixture
async def seeded(tmp_path: Path) -> AsyncIterator[tuple[str, dict[str, int]]]:
    """Serve a registry seeded from the repository; yields (url, seed tally)."""
    settings = RegistrySettings(
        data_dir=tmp_path,
        operator_token=TOKEN,
        kafka=KafkaSettings(bootstrap_servers="127.0.0.1:9"),
        publish_interval_s=60,
    )
    async with serve(create_app(settings)) as url:
        client = RegistryClient(url, TOKEN)
        tally = await asyncio.to_thread(seed, client, CONTRACTS, default_seed_file())
        yield url, dict(tally)


def data_channels(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Return the data-topic channels of a document by address."""
    return {
        channel["address"]: {"id": cid, **channel}
        for cid, channel in document["channels"].items()
        if not channel["address"].startswith("lgsp.")
    }


def committed_payload(document: dict[str, Any], channel: dict[str, Any]) -> Any:
    """Resolve the committed document's message payload of a channel to its schema file."""
    (message_ref,) = [m["$ref"] for m in channel["messages"].values()]
    message = document["components"]["messages"][message_ref.rsplit("/", 1)[-1]]
    target = message["payload"]["schema"]["$ref"]
    return json.loads((CONTRACTS / target).read_text(encoding="utf-8"))


async def test_the_generated_document_matches_the_committed_one(
    seeded: tuple[str, dict[str, int]],
) -> None:
    url, tally = seeded
    assert tally.get("kpis pushed", 0) == len(list(default_kpis_dir().glob("*.yaml")))
    async with httpx.AsyncClient(base_url=url, timeout=30) as http:
        served = await http.get("/asyncapi.yaml")
        as_json = (await http.get("/asyncapi.json")).json()
    assert served.status_code == 200
    generated = yaml.safe_load(served.text)
    assert generated == as_json
    assert generated["asyncapi"].startswith("3.")
    committed = yaml.safe_load((CONTRACTS / "asyncapi.yaml").read_text(encoding="utf-8"))
    mine, theirs = data_channels(generated), data_channels(committed)
    assert sorted(mine) == sorted(theirs)
    for address, channel in theirs.items():
        assert mine[address]["id"] == channel["id"]
        (message_ref,) = [m["$ref"] for m in mine[address]["messages"].values()]
        message = generated["components"]["messages"][message_ref.rsplit("/", 1)[-1]]
        assert message["payload"]["schema"] == committed_payload(committed, channel), address
    for operation in generated["operations"].values():
        assert operation["channel"]["$ref"].removeprefix("#/channels/") in generated["channels"]
