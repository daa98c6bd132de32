"""Every simulated event satisfies its topic's contract; every broken one fails the named rule."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from lgsp_simulators.departments.faults import BY_TOPIC, COMMON, mutations
from lgsp_simulators.departments.plan import Plan
from lgsp_simulators.scenario import Faults, Scenario, Silence, load_scenario
from lgsp_vn.admin_units import legacy_districts, resolve_legacy

ROOT = Path(__file__).resolve().parents[2]
NOW = datetime(2026, 11, 23, 7, 0, tzinfo=UTC)


def validator(topic: str) -> Draft202012Validator:
    """Return a validator of a topic's contract, formats checked."""
    schema = json.loads((ROOT / "contracts/topics" / topic / "v1.schema.json").read_text())
    return Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)


def drafted(scenario: Scenario, count: int) -> list[Any]:
    """Return `count` drafts of a scenario at a fixed clock."""
    plan = Plan(scenario, "test-run", count)
    return [d for _ in range(count) if (d := plan.next(NOW)) is not None]


@pytest.fixture(scope="module")
def valid_drafts() -> list[Any]:
    """Drafts of the default scenario without faults."""
    scenario = load_scenario(ROOT / "scenarios/default.yaml")
    scenario = scenario.model_copy(update={"faults": Faults(invalid_share=0.0)})
    return drafted(scenario, 4000)


def test_every_department_sends_events_its_contract_accepts(valid_drafts: list[Any]) -> None:
    topics = {d.topic for d in valid_drafts}
    assert topics == {
        "finance.budget-revenue.v1",
        "finance.investment-spending.v1",
        "health.medical-visit.v1",
        "tourism.accommodation-report.v1",
        "tthc.dossier.v1",
    }
    for draft in valid_drafts:
        errors = [e.message for e in validator(draft.topic).iter_errors(draft.payload)]
        assert errors == [], (draft.topic, draft.payload)


def test_district_codes_are_those_of_the_map_of_30_june_2025(valid_drafts: list[Any]) -> None:
    sent = {d.payload["district_code"] for d in valid_drafts}
    assert sent == {d.code for d in legacy_districts("77")}  # Bà Rịa - Vũng Tàu's districts
    # Each resolves to today's Thành phố Hồ Chí Minh (the collector's current_province).
    assert {resolve_legacy(code).province.code for code in sent} == {"79"}


def test_event_types_follow_the_contracts(valid_drafts: list[Any]) -> None:
    for draft in valid_drafts:
        path = ROOT / "contracts/topics" / draft.topic / "v1.schema.json"
        pattern = json.loads(path.read_text())["x-lgsp"]["eventType"]
        expected = pattern.format(**draft.payload) if "{" in pattern else pattern
        assert draft.event_type == expected


def test_health_visits_with_verification_ids_still_fit_the_contract() -> None:
    payload = {
        "visit_id": "KCB-77001-20261123-ABC000001",
        "facility_code": "77001",
        "district_code": "748",
        "visit_time": "2026-11-23T13:59:00+07:00",
        "identification": "cccd_chip",
        "telemedicine": False,
        "e_prescription": True,
        "payment": "cashless",
        "verification_id": "XT-20261123-0123456789ab",
    }
    assert validator("health.medical-visit.v1").is_valid(payload)


@pytest.mark.parametrize(
    ("topic", "name"),
    [(topic, m.name) for topic in BY_TOPIC for m in (*COMMON, *BY_TOPIC[topic])],
)
def test_each_mutation_breaks_the_rule_it_names(
    valid_drafts: list[Any], topic: str, name: str
) -> None:
    mutation = next(m for m in mutations(topic) if m.name == name)
    payload = next(d.payload for d in valid_drafts if d.topic == topic and mutation.when(d.payload))
    errors = list(validator(topic).iter_errors(mutation.apply(payload)))
    rules = {(e.validator, "/" + "/".join(map(str, e.absolute_path))) for e in errors}
    assert errors, f"{name} left the payload valid"
    assert mutation.rule in {rule for rule, _ in rules}
    # `required` and `additionalProperties` errors sit on the object; the gateway names the field.
    if mutation.rule not in ("required", "additionalProperties"):
        assert (mutation.rule, mutation.pointer) in rules


def test_broken_events_carry_their_expected_rule_and_fail_validation() -> None:
    scenario = Scenario(faults=Faults(invalid_share=1.0))
    drafts = drafted(scenario, 600)
    assert all(d.broken is not None and d.identity is None for d in drafts)
    for draft in drafts:
        assert draft.broken is not None
        found = {e.validator for e in validator(draft.topic).iter_errors(draft.payload)}
        assert draft.broken.rule in found, (draft.topic, draft.broken)


def test_broken_events_never_carry_a_citizen_id() -> None:
    silence = Silence(department="tthc", after_events=0)
    scenario = Scenario(faults=Faults(invalid_share=1.0, silence=silence))
    for draft in drafted(scenario, 400):
        assert draft.department != "tthc"
        assert not any(
            isinstance(v, str) and v.isdigit() and len(v) == 12 for v in draft.payload.values()
        )
