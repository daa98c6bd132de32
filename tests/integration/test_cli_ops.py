"""The operator CLI against live services: publish, tail, kpis, sources."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ioc_collector.main import create_app as create_collector
from ioc_collector.settings import CollectorSettings
from lgsp_cli.main import app
from lgsp_common.settings import KafkaSettings
from lgsp_devkit.testing import TopicFactory, register_source, serve
from lgsp_gateway.main import create_app as create_gateway
from lgsp_gateway.settings import GatewaySettings

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
    single, batch = tmp_path / "one.json", tmp_path / "many.json"
    single.write_text(json.dumps(VALID[0]))
    batch.write_text(json.dumps(VALID[1:3]))
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
        code, out = await cli("publish", topic, str(single), "--key", key, "--gateway", gw)
        assert code == 0, out
        assert '"partition"' in out
        code, out = await cli("publish", topic, str(batch), "--key", key, "--gateway", gw)
        assert code == 0, out
        assert out.count('"status": 202') == 2
        code, out = await cli("publish", topic, str(single), "--key", "wrong", "--gateway", gw)
        assert code == 1
        assert "401" in out
        env = {"KAFKA_BOOTSTRAP_SERVERS": kafka_settings.bootstrap_servers}
        code, out = await cli("tail", topic, "--from-beginning", "--limit", "3", env=env)
        assert code == 0, out
        assert out.count("source=/sources/dvc-portal") == 3
        assert VALID[0]["dossier_id"] in out
        code, out = await cli("kpis", "--collector", ioc)
        assert code == 0, out
        assert "online-dossier-rate" in out
        assert "≥ 40" in out
        code, out = await cli("sources", "--collector", ioc)
        assert code == 0, out
        assert "dvc-portal" in out
