"""The population service with fakes: checks in order, every access audited, events masked."""

from __future__ import annotations

import json
import unicodedata
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator, FormatChecker
from opentelemetry.sdk.trace import TracerProvider
from population_fakes import CITIZENS, HEALTH, TOKEN, FakeProducer, FakeRegistry
from prometheus_client import CollectorRegistry

from lgsp_common.audit import AuditTrail, verify_chain
from lgsp_common.problems import ProblemError
from lgsp_vn.citizen import Citizen
from population_adapter.adapters.upstream import Fetched, UpstreamUnavailableError
from population_adapter.metrics import AdapterMetrics
from population_adapter.service.access_record import CallerHeaders
from population_adapter.service.population_service import PopulationService, ServiceConfig

CONTRACTS = Path(__file__).resolve().parents[4] / "contracts"
KEY = b"unit-audit-key-0123456789"
GATEWAY = CallerHeaders(TOKEN, "syt-his", HEALTH)
ONE_DAY = timedelta(days=1)


def _schema(path: str) -> Draft202012Validator:
    schema = json.loads((CONTRACTS / path).read_text(encoding="utf-8"))
    return Draft202012Validator(schema, format_checker=FormatChecker())


AUDIT_SCHEMA = _schema("platform/lgsp.audit/v1.schema.json")
EVENT_SCHEMA = _schema("topics/population.verification.v1/v1.schema.json")


class FakeSource:
    """Citizens by id; `down` makes every read fail like an unreachable upstream."""

    def __init__(self) -> None:
        self.citizens = {c.cccd: c for c in CITIZENS}
        self.down = False
        self.reads = 0

    async def fetch(self, cccd: str) -> Fetched:
        self.reads += 1
        if self.down:
            raise UpstreamUnavailableError("circuit_open", "7")
        return Fetched(self.citizens.get(cccd), cached=False)


class FakeEvents:
    """Collects published verification outcomes."""

    def __init__(self) -> None:
        self.payloads: list[dict[str, Any]] = []

    async def publish(self, payload: dict[str, Any]) -> None:
        self.payloads.append(payload)


class Harness:
    """The service wired to fakes."""

    def __init__(self) -> None:
        self.registry = FakeRegistry()
        self.source = FakeSource()
        self.producer = FakeProducer()
        self.events = FakeEvents()
        self.metrics = CollectorRegistry()
        self.service = PopulationService(
            ServiceConfig(TOKEN.encode(), "population.citizen.v1", "population.verification.v1"),
            self.registry,
            self.source,
            AuditTrail(self.producer, "lgsp.audit", "population-adapter/unit", "k1", KEY),
            self.events,
            AdapterMetrics.create(self.metrics),
            TracerProvider().get_tracer("unit"),
        )

    async def verify(self, headers: CallerHeaders = GATEWAY, **body: Any) -> Any:
        return await self.service.verify(headers, json.dumps(body).encode())

    async def lookup(self, headers: CallerHeaders = GATEWAY, **body: Any) -> Any:
        return await self.service.lookup(headers, json.dumps(body).encode())

    async def problem(self, operation: str, headers: CallerHeaders = GATEWAY, **body: Any) -> Any:
        with pytest.raises(ProblemError) as caught:
            await getattr(self, operation)(headers, **body)
        return caught.value

    @property
    def audit(self) -> list[dict[str, Any]]:
        return self.producer.records


def _identity(citizen: Citizen, **changes: Any) -> dict[str, Any]:
    body = {
        "cccd": citizen.cccd,
        "full_name": citizen.full_name,
        "date_of_birth": citizen.date_of_birth.isoformat(),
    }
    return {**body, **changes}


def _with_digits(cccd: str, position: int, digits: str) -> str:
    return cccd[:position] + digits + cccd[position + len(digits) :]


async def test_match_is_answered_audited_and_published_masked() -> None:
    harness, citizen = Harness(), CITIZENS[0]
    answer = await harness.verify(**_identity(citizen))
    assert answer.outcome == "match"
    assert answer.cccd_masked == f"{citizen.cccd[:3]}*******{citizen.cccd[-2:]}"
    [record] = harness.audit
    assert record["actor"] == {"kind": "consumer", "id": "syt-his"}
    assert (record["action"], record["result"], record["status_code"]) == (
        "population.verify",
        "success",
        200,
    )
    assert record["event_ids"] == [answer.verification_id]
    [event] = harness.events.payloads
    assert event["requester"] == "000.00.17.H03"
    assert (event["outcome"], event["purpose"]) == ("match", HEALTH)
    assert list(EVENT_SCHEMA.iter_errors(event)) == []
    assert list(AUDIT_SCHEMA.iter_errors(record)) == []
    failures = harness.metrics.get_sample_value("population_verification_event_failures_total")
    assert failures == 0


async def test_a_lost_event_is_counted_but_the_answer_stands() -> None:
    harness = Harness()

    async def refuse(payload: dict[str, Any]) -> None:
        raise RuntimeError("broker refused")

    harness.events.publish = refuse  # type: ignore[method-assign]
    assert (await harness.verify(**_identity(CITIZENS[0]))).outcome == "match"
    failures = harness.metrics.get_sample_value("population_verification_event_failures_total")
    assert failures == 1


async def test_nfd_name_matches_and_other_date_does_not() -> None:
    harness, citizen = Harness(), CITIZENS[1]
    nfd = unicodedata.normalize("NFD", citizen.full_name.lower())
    assert (await harness.verify(**_identity(citizen, full_name=nfd))).outcome == "match"
    other = _identity(citizen, date_of_birth=(citizen.date_of_birth + ONE_DAY).isoformat())
    assert (await harness.verify(**other)).outcome == "no_match"
    assert [e["outcome"] for e in harness.events.payloads] == ["match", "no_match"]


async def test_missing_or_wrong_gateway_token_is_401_and_audited_anonymous() -> None:
    harness = Harness()
    for token in (None, "wrong"):
        problem = await harness.problem(
            "verify", CallerHeaders(token, "syt-his", HEALTH), **_identity(CITIZENS[0])
        )
        assert problem.problem.status == 401
    assert [r["actor"] for r in harness.audit] == [{"kind": "anonymous"}] * 2
    assert {r["result"] for r in harness.audit} == {"denied"}
    assert harness.events.payloads == []
    assert harness.source.reads == 0


async def test_unapproved_consumer_is_refused_before_anything_is_read() -> None:
    harness = Harness()
    harness.registry.entities[("consumer", "syt-his")]["status"] = "pending"
    problem = await harness.problem("verify", **_identity(CITIZENS[0]))
    assert problem.problem.status == 403
    assert problem.problem.errors[0].rule == "CONSUMER_NOT_APPROVED"
    assert harness.source.reads == 0
    assert harness.audit[0]["result"] == "denied"


@pytest.mark.parametrize(
    ("change", "rule"),
    [
        (lambda c: {"cccd": c.cccd[:11]}, "CCCD_FORMAT"),
        (lambda c: {"cccd": c.cccd[:11] + "x"}, "CCCD_FORMAT"),
        (lambda c: {"cccd": _with_digits(c.cccd, 0, "003")}, "CCCD_PROVINCE_UNKNOWN"),
        (
            lambda c: {"cccd": _with_digits(c.cccd, 3, str((int(c.cccd[3]) + 2) % 10))},
            "CCCD_CENTURY_MISMATCH",
        ),
        (
            lambda c: {"cccd": _with_digits(c.cccd, 4, f"{(int(c.cccd[4:6]) + 1) % 100:02d}")},
            "CCCD_YEAR_MISMATCH",
        ),
        (
            lambda c: {"sex": "female" if c.sex.value == "male" else "male"},
            "CCCD_SEX_MISMATCH",
        ),
    ],
)
async def test_each_cccd_rule_is_named_in_a_422(change: Any, rule: str) -> None:
    harness, citizen = Harness(), CITIZENS[2]
    problem = await harness.problem("verify", **_identity(citizen, **change(citizen)))
    assert problem.problem.status == 422
    assert [(e.pointer, e.rule) for e in problem.problem.errors] == [("/cccd", rule)]
    assert harness.audit[0]["result"] == "rejected"
    assert harness.source.reads == 0
    published = [e["outcome"] for e in harness.events.payloads]
    # A malformed number cannot even be masked into an event; a well-formed one is "invalid".
    assert published == ([] if rule == "CCCD_FORMAT" else ["invalid"])


async def test_body_errors_name_the_field() -> None:
    harness = Harness()
    problem = await harness.problem("verify", cccd=CITIZENS[0].cccd, full_name="")
    assert {(e.pointer, e.rule) for e in problem.problem.errors} == {
        ("/full_name", "string_too_short"),
        ("/date_of_birth", "missing"),
    }


async def test_upstream_down_is_503_with_retry_after_and_unavailable_event() -> None:
    harness = Harness()
    harness.source.down = True
    problem = await harness.problem("verify", **_identity(CITIZENS[0]))
    assert problem.problem.status == 503
    assert problem.headers["Retry-After"] == "7"
    assert harness.events.payloads[0]["outcome"] == "unavailable"
    assert harness.audit[0]["result"] == "error"


async def test_nothing_is_disclosed_when_the_audit_cannot_be_written() -> None:
    harness = Harness()
    harness.producer.fail = True
    problem = await harness.problem("lookup", cccd=CITIZENS[0].cccd, purpose=HEALTH)
    assert problem.problem.status == 503
    assert problem.problem.type.endswith("audit-unavailable")


async def test_lookup_returns_only_granted_fields() -> None:
    harness, citizen = Harness(), CITIZENS[3]
    answer = await harness.lookup(
        cccd=citizen.cccd, purpose=HEALTH, fields=["full_name", "date_of_birth"]
    )
    assert answer.fields == {
        "full_name": citizen.full_name,
        "date_of_birth": citizen.date_of_birth.isoformat(),
    }
    everything = await harness.lookup(cccd=citizen.cccd, purpose=HEALTH)
    assert set(everything.fields) == {"full_name", "date_of_birth", "health_insurance_number"}
    assert [r["action"] for r in harness.audit] == ["population.lookup"] * 2
    assert "topic" not in harness.audit[0]
    assert harness.events.payloads == []  # lookups are not verifications


async def test_lookup_refusal_names_each_refused_field() -> None:
    harness = Harness()
    problem = await harness.problem(
        "lookup",
        cccd=CITIZENS[0].cccd,
        purpose=HEALTH,
        fields=["full_name", "permanent_address", "sex", "cccd", "shoe_size"],
    )
    assert problem.problem.status == 403
    assert [(e.pointer, e.rule) for e in problem.problem.errors] == [
        ("/fields/1", "FIELD_NOT_ALLOWED_FOR_PURPOSE"),
        ("/fields/3", "FIELD_NEVER_DISCLOSED"),
        ("/fields/4", "FIELD_UNKNOWN"),
        ("/fields/2", "FIELD_NOT_APPROVED_FOR_CONSUMER"),
    ]
    assert "permanent_address" in (problem.problem.detail or "")
    assert "shoe_size" not in (problem.problem.detail or "")
    assert harness.source.reads == 0


async def test_lookup_purpose_must_be_the_declared_one_and_unknown_is_404() -> None:
    harness = Harness()
    problem = await harness.problem("lookup", cccd=CITIZENS[0].cccd, purpose="social_welfare")
    assert problem.problem.errors[0].rule == "PURPOSE_MISMATCH"
    unknown = CITIZENS[0].cccd[:6] + "999999"
    harness.source.citizens.pop(unknown, None)
    problem = await harness.problem("lookup", cccd=unknown, purpose=HEALTH)
    assert problem.problem.status == 404


async def test_every_access_chains_into_one_verifiable_trail() -> None:
    harness = Harness()
    await harness.verify(**_identity(CITIZENS[0]))
    await harness.problem("verify", CallerHeaders(None, None, None), **_identity(CITIZENS[0]))
    await harness.lookup(cccd=CITIZENS[1].cccd, purpose=HEALTH)
    assert [r["seq"] for r in harness.audit] == [0, 1, 2]
    assert verify_chain(harness.audit, {"k1": KEY}) == []
    for record in harness.audit:
        assert list(AUDIT_SCHEMA.iter_errors(record)) == []
    text = json.dumps(harness.audit + harness.events.payloads)
    assert not any(c.cccd in text for c in CITIZENS)


async def test_an_unexpected_failure_is_audited_as_an_error() -> None:
    harness = Harness()

    async def broken(cccd: str) -> Fetched:
        raise KeyError("bug")

    harness.source.fetch = broken  # type: ignore[method-assign]
    with pytest.raises(KeyError):
        await harness.verify(**_identity(CITIZENS[0]))
    assert [(r["result"], r["status_code"]) for r in harness.audit] == [("error", 500)]
