"""The population adapter over real HTTP, with the upstream as its own process and real Kafka.

Verification (match, no match, NFD names), purpose-bound lookups, consumer approval through the
registry copy (fed on a per-test registry topic), every CCCD rule, and what reaches Kafka: a
verifiable audit chain and masked verification events that satisfy their contracts.
"""

from __future__ import annotations

import json
import unicodedata
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaConsumer
from jsonschema import Draft202012Validator, FormatChecker

from lgsp_common.audit import verify_chain
from lgsp_common.envelope import from_kafka
from lgsp_common.settings import KafkaSettings
from lgsp_devkit.testing import TopicFactory, publish_registry_changes, repo_path, serve
from lgsp_simulators.national_population.generator import generate_citizens
from lgsp_simulators.national_population.process import UpstreamProcess
from lgsp_simulators.national_population.store import build_database
from lgsp_vn.citizen import Citizen
from population_adapter.main import create_app
from population_adapter.settings import AdapterSettings

pytestmark = pytest.mark.kafka
COUNT = 2_000
CITIZENS = list(generate_citizens(6, 20))
TOKEN = "integration-gateway-token"
AUDIT_KEY = "integration-audit-key-0123456789"
HEALTH, TTHC = "health_insurance_check", "administrative_procedure"


def consumer(cid: str, org: str, purpose: str, fields: list[str], status: str) -> Any:
    """Return a registry change for a consumer of the population resource."""
    data = {"id": cid, "organisation_id": org, "topic": "population.citizen.v1", "purpose": purpose}
    return ("consumer", cid, {**data, "fields": fields, "status": status})


REGISTRY = [
    ("organisation", "org-syt", {"id": "org-syt", "code": "000.00.17.H03", "name_vi": "Sở Y tế"}),
    ("organisation", "org-vp", {"id": "org-vp", "code": "000.00.01.H03", "name_vi": "VP UBND"}),
    consumer("syt-his", "org-syt", HEALTH, ["/full_name", "/date_of_birth", "/sex"], "approved"),
    consumer("vp-tthc", "org-vp", TTHC, ["/full_name", "/permanent_address"], "approved"),
    consumer("syt-new", "org-syt", HEALTH, ["/full_name"], "pending"),
]


@dataclass
class Stack:
    """The adapter under test and where its output goes."""

    url: str
    http: httpx.AsyncClient
    kafka: KafkaSettings
    audit_topic: str
    verification_topic: str

    async def call(
        self, path: str, body: dict[str, Any], consumer: str = "syt-his", purpose: str = HEALTH
    ) -> httpx.Response:
        """Call the adapter as the gateway does."""
        headers = {
            "X-LGSP-Gateway-Token": TOKEN,
            "X-LGSP-Consumer": consumer,
            "X-LGSP-Purpose": purpose,
        }
        return await self.http.post(f"{self.url}{path}", json=body, headers=headers)


@pytest.fixture(scope="module")
def upstream(tmp_path_factory: pytest.TempPathFactory) -> Iterator[UpstreamProcess]:
    """Run the simulated national database as a process for the module."""
    folder = tmp_path_factory.mktemp("population")
    build_database(folder / "citizens.sqlite", COUNT, 6)
    with UpstreamProcess(folder / "citizens.sqlite", folder / "upstream.log") as process:
        yield process


@pytest.fixture
async def stack(
    kafka_settings: KafkaSettings, topic_factory: TopicFactory, upstream: UpstreamProcess
) -> AsyncIterator[Stack]:
    """Serve an adapter reading its own registry topic and writing its own audit topic."""
    registry = await topic_factory("registry", 1, **{"cleanup.policy": "compact"})
    audit, verifications = await topic_factory("audit", 1), await topic_factory("verif", 3)
    await publish_registry_changes(kafka_settings, registry, REGISTRY)
    upstream.set_faults()
    settings = AdapterSettings(
        kafka=kafka_settings,
        upstream_url=upstream.url,
        registry_topic=registry,
        audit_topic=audit,
        verification_topic=verifications,
        gateway_token=TOKEN,
        audit_key=AUDIT_KEY,
        audit_key_id="it-key",
    )
    async with serve(create_app(settings)) as url, httpx.AsyncClient(timeout=10) as http:
        yield Stack(url, http, kafka_settings, audit, verifications)


def identity(citizen: Citizen, **changes: Any) -> dict[str, Any]:
    """Return a verification body for a citizen, with changes."""
    body = {
        "cccd": citizen.cccd,
        "full_name": citizen.full_name,
        "date_of_birth": citizen.date_of_birth.isoformat(),
    }
    return {**body, **changes}


async def read_records(kafka: KafkaSettings, topic: str, count: int) -> list[Any]:
    """Read `count` records of a topic from the beginning (fails after 15 s)."""
    reader = AIOKafkaConsumer(
        topic,
        bootstrap_servers=kafka.bootstrap_servers,
        auto_offset_reset="earliest",
        group_id=None,
    )
    await reader.start()
    records: list[Any] = []
    try:
        for _ in range(30):
            batches = await reader.getmany(timeout_ms=500)
            records += [r for batch in batches.values() for r in batch]
            if len(records) >= count:
                break
    finally:
        await reader.stop()
    assert len(records) == count
    return sorted(records, key=lambda r: (r.partition, r.offset))


def contract(path: str) -> Draft202012Validator:
    """Return a validator of a contract schema."""
    schema = json.loads(repo_path("contracts", path).read_text(encoding="utf-8"))
    return Draft202012Validator(schema, format_checker=FormatChecker())


async def test_verify_answers_match_and_no_match_without_the_record(stack: Stack) -> None:
    citizen = CITIZENS[0]
    match = await stack.call("/v1/verify", identity(citizen))
    assert match.status_code == 200
    assert match.json()["outcome"] == "match"
    assert set(match.json()) == {"verification_id", "outcome", "cccd_masked", "verified_at"}
    assert match.json()["cccd_masked"] == citizen.cccd[:3] + "*******" + citizen.cccd[-2:]
    wrong_name = await stack.call("/v1/verify", identity(citizen, full_name="Lê Văn Không"))
    later = (citizen.date_of_birth + timedelta(days=1)).isoformat()
    wrong_date = await stack.call("/v1/verify", identity(citizen, date_of_birth=later))
    unknown = await stack.call("/v1/verify", identity(citizen, cccd=citizen.cccd[:6] + "999999"))
    assert [r.json()["outcome"] for r in (wrong_name, wrong_date, unknown)] == ["no_match"] * 3


async def test_nfd_spelling_of_the_name_matches(stack: Stack) -> None:
    citizen = CITIZENS[1]
    nfd = unicodedata.normalize("NFD", f"  {citizen.full_name.upper()}  ")
    assert nfd != citizen.full_name
    answer = await stack.call("/v1/verify", identity(citizen, full_name=nfd))
    assert answer.json()["outcome"] == "match"


async def test_lookup_gets_only_what_purpose_and_approval_allow(stack: Stack) -> None:
    citizen = CITIZENS[2]
    clinic = await stack.call("/v1/lookup", {"cccd": citizen.cccd, "purpose": HEALTH})
    assert clinic.status_code == 200
    assert clinic.json()["fields"] == {
        "full_name": citizen.full_name,
        "date_of_birth": citizen.date_of_birth.isoformat(),
        "sex": citizen.sex.value,
    }
    office = await stack.call(
        "/v1/lookup",
        {"cccd": citizen.cccd, "purpose": TTHC, "fields": ["permanent_address"]},
        consumer="vp-tthc",
        purpose=TTHC,
    )
    assert office.json()["fields"] == {
        "permanent_address": citizen.permanent_address.model_dump(mode="json")
    }
    refused = await stack.call(
        "/v1/lookup",
        {"cccd": citizen.cccd, "purpose": HEALTH, "fields": ["full_name", "permanent_address"]},
    )
    assert refused.status_code == 403
    assert refused.headers["content-type"] == "application/problem+json"
    assert refused.json()["errors"] == [
        {
            "pointer": "/fields/1",
            "rule": "FIELD_NOT_ALLOWED_FOR_PURPOSE",
            "message": refused.json()["errors"][0]["message"],
        }
    ]
    assert "permanent_address" in refused.json()["detail"]
    assert citizen.full_name not in refused.text


@pytest.mark.parametrize(
    ("consumer_id", "purpose", "rule"),
    [
        ("syt-new", HEALTH, "CONSUMER_NOT_APPROVED"),
        ("nobody", HEALTH, "CONSUMER_UNKNOWN"),
        ("syt-his", TTHC, "PURPOSE_MISMATCH"),
    ],
)
async def test_unapproved_consumer_is_refused(
    stack: Stack, consumer_id: str, purpose: str, rule: str
) -> None:
    answer = await stack.call("/v1/verify", identity(CITIZENS[0]), consumer_id, purpose)
    assert answer.status_code == 403
    assert [e["rule"] for e in answer.json()["errors"]] == [rule]


async def test_calls_not_from_the_gateway_get_401(stack: Stack) -> None:
    for token in ({}, {"X-LGSP-Gateway-Token": "guess"}):
        headers = {**token, "X-LGSP-Consumer": "syt-his", "X-LGSP-Purpose": HEALTH}
        answer = await stack.http.post(
            f"{stack.url}/v1/verify", json=identity(CITIZENS[0]), headers=headers
        )
        assert answer.status_code == 401
        assert answer.json()["type"].endswith("gateway-token-required")


def _digit(cccd: str, position: int, digits: str) -> str:
    return cccd[:position] + digits + cccd[position + len(digits) :]


RULE_CASES = {
    "CCCD_FORMAT": lambda c: {"cccd": c.cccd[:11] + "A"},
    "CCCD_PROVINCE_UNKNOWN": lambda c: {"cccd": _digit(c.cccd, 0, "099")},
    "CCCD_CENTURY_MISMATCH": lambda c: {"cccd": _digit(c.cccd, 3, str(int(c.cccd[3]) ^ 2))},
    "CCCD_YEAR_MISMATCH": lambda c: {
        "cccd": _digit(c.cccd, 4, f"{(int(c.cccd[4:6]) + 7) % 100:02d}")
    },
    "CCCD_SEX_MISMATCH": lambda c: {"sex": "female" if c.sex.value == "male" else "male"},
}


@pytest.mark.parametrize("rule", sorted(RULE_CASES))
async def test_every_cccd_rule_is_named_in_the_422(stack: Stack, rule: str) -> None:
    citizen = CITIZENS[3]
    answer = await stack.call("/v1/verify", identity(citizen, **RULE_CASES[rule](citizen)))
    assert answer.status_code == 422
    assert [(e["pointer"], e["rule"]) for e in answer.json()["errors"]] == [("/cccd", rule)]


async def test_accesses_reach_kafka_as_chain_and_masked_events(stack: Stack) -> None:
    citizen = CITIZENS[4]
    await stack.call("/v1/verify", identity(citizen))
    await stack.call("/v1/verify", identity(citizen, **RULE_CASES["CCCD_YEAR_MISMATCH"](citizen)))
    await stack.call("/v1/lookup", {"cccd": citizen.cccd, "purpose": HEALTH})
    await stack.http.post(f"{stack.url}/v1/verify", json=identity(citizen))  # no token
    audit = await read_records(stack.kafka, stack.audit_topic, 4)
    records = [json.loads(r.value) for r in audit]
    assert verify_chain(records, {"it-key": AUDIT_KEY.encode()}) == []
    assert [(r["action"], r["result"]) for r in records] == [
        ("population.verify", "success"),
        ("population.verify", "rejected"),
        ("population.lookup", "success"),
        ("population.verify", "denied"),
    ]
    assert records[2]["fields"] == ["date_of_birth", "full_name", "sex"]  # names, never values
    assert "fields" not in records[0]
    assert len({r.key for r in audit}) == 1
    audit_schema = contract("platform/lgsp.audit/v1.schema.json")
    assert [list(audit_schema.iter_errors(r)) for r in records] == [[]] * 4
    events = await read_records(stack.kafka, stack.verification_topic, 2)
    decoded = [from_kafka(r.value, r.headers) for r in events]
    assert {e.type for e in decoded} == {"vn.gov.lgsp.population.verification.completed"}
    assert sorted(e.data["outcome"] for e in decoded) == ["invalid", "match"]
    assert all(
        r.key.decode() == e.data["verification_id"] for r, e in zip(events, decoded, strict=True)
    )
    event_schema = contract("topics/population.verification.v1/v1.schema.json")
    assert [list(event_schema.iter_errors(e.data)) for e in decoded] == [[], []]
    raw = b"".join(r.value for r in audit + events)
    assert citizen.cccd.encode() not in raw


async def test_upstream_process_serves_records_and_verifications(upstream: UpstreamProcess) -> None:
    citizen = CITIZENS[5]
    async with httpx.AsyncClient(base_url=upstream.url, timeout=10) as http:
        by_path = await http.get(f"/citizens/{citizen.cccd}")
        by_body = await http.post("/citizens/lookup", json={"cccd": citizen.cccd})
        assert Citizen.model_validate(by_path.json()) == citizen
        assert by_body.json() == by_path.json()
        verified = await http.post("/citizens/verify", json=identity(citizen))
        assert verified.json() == {"match": True}
        unknown = await http.post("/citizens/lookup", json={"cccd": "077" + "0" * 9})
        assert unknown.status_code == 404
        malformed = await http.post("/citizens/lookup", json={"cccd": "12345"})
        assert malformed.status_code == 422
        assert (await http.get("/healthz")).json() == {"status": "ok", "citizens": COUNT}
