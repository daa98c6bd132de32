"""Connect once for reads: a department verifies identities through the gateway, audited twice."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaConsumer

from lgsp_common.api_keys import hash_api_key
from lgsp_common.audit import calls_of
from lgsp_common.settings import KafkaSettings
from lgsp_devkit.testing import TopicFactory, new_api_key, publish_registry_changes, serve
from lgsp_gateway.main import create_app as create_gateway
from lgsp_gateway.settings import GatewaySettings
from lgsp_simulators.national_population.generator import generate_citizens
from lgsp_simulators.national_population.process import UpstreamProcess
from lgsp_simulators.national_population.store import build_database
from population_adapter.main import create_app as create_adapter
from population_adapter.settings import AdapterSettings

pytestmark = pytest.mark.kafka
CITIZEN = next(iter(generate_citizens(6, 1)))
TOKEN = "gateway-to-adapter-test-token"


@pytest.fixture(scope="module")
def upstream(tmp_path_factory: pytest.TempPathFactory) -> Iterator[UpstreamProcess]:
    """Run the simulated national database for the module."""
    folder = tmp_path_factory.mktemp("population")
    build_database(folder / "citizens.sqlite", 200, 6)
    with UpstreamProcess(folder / "citizens.sqlite", folder / "upstream.log") as process:
        yield process


def consumer(cid: str, status: str, key: str) -> list[Any]:
    """Return the registry changes of a consumer of population data and its key."""
    key_id = "k_" + key.split("_")[1]
    data = {
        "id": cid,
        "organisation_id": "org-syt",
        "topic": "population.citizen.v1",
        "purpose": "health_insurance_check",
        "fields": ["/full_name", "/date_of_birth"],
        "status": status,
    }
    return [
        ("consumer", cid, data),
        ("api_key", key_id, {"id": key_id, "consumer_id": cid, "key_hash": hash_api_key(key)}),
    ]


async def audit_records(kafka: KafkaSettings, topic: str, count: int) -> list[dict[str, Any]]:
    """Read `count` audit records."""
    reader = AIOKafkaConsumer(
        topic,
        bootstrap_servers=kafka.bootstrap_servers,
        auto_offset_reset="earliest",
        group_id=None,
    )
    await reader.start()
    records: list[dict[str, Any]] = []
    try:
        for _ in range(30):
            batches = await reader.getmany(timeout_ms=300)
            records += [
                c for rs in batches.values() for r in rs for c in calls_of(json.loads(r.value))
            ]
            if len(records) >= count:
                break
    finally:
        await reader.stop()
    return records


async def test_consumers_verify_through_the_gateway_only_when_approved(
    kafka_settings: KafkaSettings,
    topic_factory: TopicFactory,
    upstream: UpstreamProcess,
    tmp_path: Path,
) -> None:
    registry = await topic_factory("registry", 1, **{"cleanup.policy": "compact"})
    gw_audit, adapter_audit = await topic_factory("gw-audit"), await topic_factory("ad-audit")
    approved, pending = new_api_key()[1], new_api_key()[1]
    await publish_registry_changes(
        kafka_settings,
        registry,
        consumer("syt-his", "approved", approved) + consumer("syt-new", "pending", pending),
    )
    adapter = create_adapter(
        AdapterSettings(
            kafka=kafka_settings,
            upstream_url=upstream.url,
            registry_topic=registry,
            audit_topic=adapter_audit,
            verification_topic=await topic_factory("verif"),
            gateway_token=TOKEN,
        )
    )
    async with serve(adapter) as adapter_url:
        gateway = create_gateway(
            GatewaySettings(
                kafka=kafka_settings,
                registry_topic=registry,
                audit_topic=gw_audit,
                population_adapter_url=adapter_url,
                population_adapter_token=TOKEN,
            )
        )
        async with serve(gateway) as url, httpx.AsyncClient(base_url=url, timeout=10) as http:
            body = {
                "cccd": CITIZEN.cccd,
                "full_name": CITIZEN.full_name,
                "date_of_birth": CITIZEN.date_of_birth.isoformat(),
            }
            ok = await http.post(
                "/v1/population/verify", json=body, headers={"x-api-key": approved}
            )
            lookup = await http.post(
                "/v1/population/lookup",
                headers={"authorization": f"Bearer {approved}"},
                json={"cccd": CITIZEN.cccd, "purpose": "health_insurance_check"},
            )
            refused = await http.post(
                "/v1/population/verify", json=body, headers={"x-api-key": pending}
            )
            anonymous = await http.post("/v1/population/verify", json=body)
            direct = await httpx.AsyncClient().post(f"{adapter_url}/v1/verify", json=body)
    assert ok.status_code == 200, ok.text
    assert ok.json()["outcome"] == "match"
    assert CITIZEN.cccd not in ok.text
    assert lookup.status_code == 200, lookup.text
    assert set(lookup.json()["fields"]) <= {"full_name", "date_of_birth"}
    assert refused.status_code == 403
    assert refused.headers["content-type"] == "application/problem+json"
    assert anonymous.status_code == 401
    assert direct.status_code == 401  # the adapter accepts calls only from the gateway
    records = await audit_records(kafka_settings, gw_audit, 4)
    actions = sorted((r["action"], r["result"], r.get("purpose", "")) for r in records)
    assert actions == [
        ("population.lookup", "success", "health_insurance_check"),
        ("population.verify", "denied", ""),
        ("population.verify", "denied", "health_insurance_check"),
        ("population.verify", "success", "health_insurance_check"),
    ]
    assert CITIZEN.cccd not in json.dumps(records)
