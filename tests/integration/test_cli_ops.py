"""The operator CLI against live services: publish, tail, kpis, sources."""

from __future__ import annotations

import asyncio
import json
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from ioc_collector.main import create_app as create_collector
from ioc_collector.settings import CollectorSettings
from lgsp_cli.main import app
from lgsp_cli.registry_client import load_contract
from lgsp_common.settings import KafkaSettings
from lgsp_common.topics import TopicSpec, ensure_topics
from lgsp_devkit.registry_testing import OPERATOR_TOKEN
from lgsp_devkit.testing import TopicFactory, register_source, serve
from lgsp_devkit.viewers import VIEWER_TOKEN, publish_viewer
from lgsp_gateway.main import create_app as create_gateway
from lgsp_gateway.settings import GatewaySettings
from lgsp_registry.main import create_app as create_registry
from lgsp_registry.settings import RegistrySettings

pytestmark = pytest.mark.kafka
ROOT = Path(__file__).resolve().parents[2]
TOPIC_DIR = ROOT / "contracts/topics/tthc.dossier.v1"
SCHEMA = json.loads((TOPIC_DIR / "v1.schema.json").read_text())
VALID = [json.loads(p.read_text()) for p in sorted((TOPIC_DIR / "examples/valid").glob("*.json"))]


async def cli(*args: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    """Run the CLI in a thread (it runs its own event loop)."""
    wide = {"COLUMNS": "200"} | (env or {})
    result = await asyncio.to_thread(CliRunner(env=wide).invoke, app, list(args))
    return result.exit_code, result.output


async def test_publish_tail_kpis_and_sources(
    kafka_settings: KafkaSettings, topic_factory: TopicFactory, tmp_path: Path
) -> None:
    topic = await topic_factory("tthc")
    registry = await topic_factory("registry", 1, **{"cleanup.policy": "compact"})
    key = await register_source(kafka_settings, registry, "dvc-portal", topic, SCHEMA)
    await publish_viewer(kafka_settings, registry)  # `lgsp kpis` reads as a viewer
    single, batch = tmp_path / "one.json", tmp_path / "many.json"
    single.write_text(json.dumps(VALID[0]))
    batch.write_text(json.dumps(VALID[2:4]))  # both returned: one --type fits both
    contracts, kpis = tmp_path / "contracts", tmp_path / "kpis"
    (contracts / "topics" / topic).mkdir(parents=True)
    (contracts / "topics" / topic / "v1.schema.json").write_text(json.dumps(SCHEMA))
    kpis.mkdir()
    shipped = (ROOT / "services/ioc-collector/kpis/online-dossier-rate.yaml").read_text()
    (kpis / "online-dossier-rate.yaml").write_text(shipped.replace("tthc.dossier.v1", topic))
    gateway = create_gateway(GatewaySettings(kafka=kafka_settings, registry_topic=registry))
    collector = create_collector(
        CollectorSettings(
            kafka=kafka_settings,
            topics=[topic],
            group_id=f"ioc-{topic}",
            registry_topic=registry,
            store_path=tmp_path / "state.sqlite3",
            dlq_topic=await topic_factory("dlq"),
            contracts_dir=contracts,
            kpis_dir=kpis,
        )
    )
    async with serve(gateway) as gw, serve(collector) as ioc:
        submitted, returned = (f"vn.gov.lgsp.tthc.dossier.{p['status']}" for p in VALID[::2])
        given = ("--key", key, "--gateway", gw, "--type")
        code, out = await cli("publish", topic, str(single), *given, submitted)
        assert code == 0, out
        assert '"partition"' in out
        code, out = await cli("publish", topic, str(batch), *given, returned)
        assert code == 0, out
        assert out.count('"status": 202') == 2
        wrong = ("--key", "wrong", "--gateway", gw, "--type", submitted)
        code, out = await cli("publish", topic, str(single), *wrong)
        assert code == 1
        assert "401" in out
        env = {"KAFKA_BOOTSTRAP_SERVERS": kafka_settings.bootstrap_servers}
        code, out = await cli("tail", topic, "--from-beginning", "--limit", "3", env=env)
        assert code == 0, out
        assert out.count("source=/sources/dvc-portal") == 3
        assert VALID[0]["dossier_id"] in out
        code, out = await cli("kpis", "--collector", ioc, "--token", "lgsp_at_1234abcd_" + "x" * 30)
        assert code == 1 and "401" in out, out  # not a viewer
        code, out = await cli("kpis", "--collector", ioc, "--token", VIEWER_TOKEN)
        assert code == 0, out
        assert "online-dossier-rate" in out
        assert "≥ 40" in out
        code, out = await cli(
            "sources", "--collector", ioc, env={"LGSP_VIEWER_TOKEN": VIEWER_TOKEN}
        )
        assert code == 0, out
        assert "dvc-portal" in out


async def onboard(http: httpx.AsyncClient, topic: str) -> str:
    """Register an organisation, a source on `topic`, its contract and a key; return the key."""
    operator = {"Authorization": f"Bearer {OPERATOR_TOKEN}"}
    contract, _ = load_contract(TOPIC_DIR / "v1.schema.json")
    contract["schema"]["x-lgsp"]["topic"] = topic
    suffix = uuid.uuid4().hex[:2].upper()
    bodies: list[tuple[str, dict[str, Any]]] = [
        ("/v1/organisations", {"id": "vp", "code": f"000.00.{suffix}.H03",
                               "name_vi": "Văn phòng UBND tỉnh", "name_en": "Office"}),
        ("/v1/sources", {"id": "dvc", "organisation_id": "vp", "topic": topic,
                         "name": "Cổng dịch vụ công", "cadence": "realtime"}),
        (f"/v1/subjects/{topic}/versions", contract),
        ("/v1/sources/dvc/keys", {}),
    ]  # fmt: skip
    answer: dict[str, Any] = {}
    for path, body in bodies:
        response = await http.post(path, json=body, headers=operator)
        assert response.status_code == 201, (path, response.text)
        answer = response.json()
    return str(answer["key"])


async def known_to(gateway: str, topic: str, key: str) -> None:
    """Wait until the gateway's registry copy knows the key (an empty payload: nothing stored)."""
    deadline = asyncio.get_running_loop().time() + 30
    async with httpx.AsyncClient(base_url=gateway) as http:
        while True:
            answer = await http.post(
                f"/v1/topics/{topic}/events",
                json={},
                headers={"x-api-key": key, "ce-type": "t", "ce-specversion": "1.0"},
            )
            if answer.status_code != 401:
                return
            assert asyncio.get_running_loop().time() < deadline, answer.text
            await asyncio.sleep(0.2)


async def test_publish_takes_the_event_type_from_the_registry_and_tail_stops_at_the_end(
    kafka_settings: KafkaSettings, topic_factory: TopicFactory, tmp_path: Path
) -> None:
    topic = f"tthc.cli-{uuid.uuid4().hex[:8]}.v1"  # a registry subject: <domain>.<set>.v<n>
    await ensure_topics(kafka_settings, [TopicSpec(topic, 2)])
    registry_topic = await topic_factory("registry", 1, **{"cleanup.policy": "compact"})
    registry = create_registry(
        RegistrySettings(
            kafka=kafka_settings,
            registry_topic=registry_topic,
            database_url=f"sqlite+aiosqlite:///{tmp_path / 'registry.sqlite3'}",
            data_dir=tmp_path,
            operator_token=OPERATOR_TOKEN,
            publish_interval_s=0.1,
        )
    )
    gateway = create_gateway(GatewaySettings(kafka=kafka_settings, registry_topic=registry_topic))
    single, batch = tmp_path / "one.json", tmp_path / "many.json"
    returned = next(p for p in VALID if p["status"] == "returned")
    single.write_text(json.dumps(returned))
    batch.write_text(json.dumps([p for p in VALID if p is not returned]))  # three types
    async with serve(registry) as reg, serve(gateway) as gw:
        async with httpx.AsyncClient(base_url=reg) as http:
            key = await onboard(http, topic)
        await known_to(gw, topic, key)
        common = ("--key", key, "--gateway", gw, "--registry", reg)
        code, out = await cli("publish", topic, str(single), *common)
        assert code == 0, out
        code, out = await cli("publish", topic, str(batch), *common)
        assert code == 0, out
        assert out.count('"status": 202') == len(VALID) - 1
        code, out = await cli(
            "publish", topic, str(single), *common[:4], "--registry", "http://127.0.0.1:9"
        )
        assert code == 1
        assert "cannot read the contract" in out and "Traceback" not in out

    env = {"KAFKA_BOOTSTRAP_SERVERS": kafka_settings.bootstrap_servers}
    code, out = await cli("tail", topic, "--from-beginning", "--until-end", env=env)
    assert code == 0, out
    shown = [line for line in out.splitlines() if " ce_type=" in line]
    assert sorted(line.rsplit("ce_type=", 1)[1] for line in shown) == sorted(
        f"vn.gov.lgsp.tthc.dossier.{p['status']}" for p in VALID
    )
    code, out = await cli("tail", topic, "--until-end", env=env)  # from the end: nothing to show
    assert (code, out.count(" ce_type=")) == (0, 0)
