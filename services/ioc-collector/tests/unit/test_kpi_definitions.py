"""KPI definitions: strict YAML validation and the shipped Steering Committee catalogue."""

from __future__ import annotations

import textwrap
from datetime import timedelta
from pathlib import Path

import pytest

from ioc_collector.adapters.kpi_files import load_catalogue
from ioc_collector.domain.definitions import (
    CatalogueError,
    RatioMeasure,
    ReferenceTerm,
    parse_catalogue,
    parse_definition,
    parse_duration,
)

KPI_DIR = Path(__file__).resolve().parents[2] / "kpis"

# Top-level payload fields per topic, exactly as contracts/TOPICS.md names them.
TOPIC_FIELDS: dict[str, set[str]] = {
    "finance.budget-revenue.v1": {
        "record_id",
        "report_date",
        "district_code",
        "category",
        "amount_vnd",
        "locally_retained_vnd",
    },
    "finance.investment-spending.v1": {
        "record_id",
        "report_date",
        "district_code",
        "project_code",
        "funding_source",
        "disbursed_vnd",
        "planned_vnd",
    },
    "health.medical-visit.v1": {
        "visit_id",
        "facility_code",
        "district_code",
        "visit_time",
        "identification",
        "telemedicine",
        "e_prescription",
        "payment",
        "verification_id",
    },
    "tourism.accommodation-report.v1": {
        "report_id",
        "establishment_id",
        "district_code",
        "period",
        "establishment_type",
        "rooms_available",
        "rooms_sold",
        "guest_arrivals",
        "international_arrivals",
        "guest_nights",
        "submitted_at",
    },
    "tthc.dossier.v1": {
        "dossier_id",
        "procedure_code",
        "agency_code",
        "district_code",
        "level",
        "status",
        "channel",
        "submitted_at",
        "due_at",
        "returned_at",
        "on_time",
        "result_digitised",
        "paid_online",
    },
    "population.verification.v1": {
        "verification_id",
        "requester",
        "purpose",
        "outcome",
        "cccd_masked",
        "province_code",
        "verified_at",
    },
}
TOPICS = set(TOPIC_FIELDS)

VALID = """
id: visits
title_vi: Lượt khám
title_en: Visits
topic: health.medical-visit.v1
measure: {kind: count}
window: day
unit: visits
"""


def yaml_doc(extra: str = "", base: str = VALID) -> str:
    return textwrap.dedent(base) + textwrap.dedent(extra)


def error_of(text: str, name: str = "kpis/visits.yaml") -> str:
    with pytest.raises(CatalogueError) as info:
        parse_definition(name, text)
    return str(info.value)


def test_minimal_definition_gets_documented_defaults() -> None:
    kpi = parse_definition("visits.yaml", yaml_doc())
    assert kpi.time_field is None  # the CloudEvent time
    assert kpi.allowed_lateness == timedelta(0)
    assert kpi.filter.where == ()
    assert kpi.target is None


def test_bad_measure_kind_names_file_and_field() -> None:
    text = yaml_doc(base=VALID.replace("{kind: count}", "{kind: median, field: x}"))
    message = error_of(text)
    assert message.startswith("kpis/visits.yaml: measure")
    assert "median" in message


def test_sum_without_field_is_rejected() -> None:
    message = error_of(yaml_doc(base=VALID.replace("{kind: count}", "{kind: sum}")))
    assert "kpis/visits.yaml: measure.sum.field: Field required" in message


def test_unknown_field_in_definition_is_rejected() -> None:
    message = error_of(yaml_doc("colour: blue\n"))
    assert "kpis/visits.yaml: colour: Extra inputs are not permitted" in message


def test_unknown_field_inside_a_condition_is_rejected() -> None:
    text = yaml_doc("filter:\n  where:\n    - {field: payment, op: eq, value: cash, x: 1}\n")
    assert "filter.where.0.x: Extra inputs are not permitted" in error_of(text)


@pytest.mark.parametrize(
    ("condition", "fragment"),
    [
        ("{field: payment, op: in, value: cash}", "non-empty list"),
        ("{field: payment, op: in, value: []}", "non-empty list"),
        ("{field: payment, op: eq, value: [cash]}", "single value"),
        ("{field: payment, op: gt, value: true}", "number or a string"),
        ("{field: payment, op: exists, value: 3}", "op 'exists'"),
        ("{field: payment, op: like, value: cash}", "filter.where.0.op"),
        ("{field: 'bad field', op: eq, value: 1}", "filter.where.0.field"),
    ],
)
def test_conditions_are_checked_against_their_operator(condition: str, fragment: str) -> None:
    assert fragment in error_of(yaml_doc(f"filter:\n  where:\n    - {condition}\n"))


def test_bad_slug_and_window_are_rejected() -> None:
    assert "id:" in error_of(yaml_doc(base=VALID.replace("id: visits", "id: Visits KPI")))
    assert "window:" in error_of(yaml_doc(base=VALID.replace("window: day", "window: week")))


def test_ratio_must_be_shown_in_percent() -> None:
    ratio = "{kind: ratio, numerator: {kind: count}, denominator: {kind: count}}"
    message = error_of(yaml_doc(base=VALID.replace("{kind: count}", ratio)))
    assert "unit must be '%'" in message


def test_reference_denominator_needs_reference_and_no_dimensions() -> None:
    ratio = "{kind: ratio, numerator: {kind: count}, denominator: {kind: reference}}"
    base = VALID.replace("{kind: count}", ratio).replace("unit: visits", "unit: '%'")
    assert "needs a 'reference' block" in error_of(yaml_doc(base=base))
    reference = "reference: {value: 476, source: seeds}\n"
    kpi = parse_definition("r.yaml", yaml_doc(reference, base=base))
    assert isinstance(kpi.measure, RatioMeasure)
    assert isinstance(kpi.measure.denominator, ReferenceTerm)
    with_dims = yaml_doc(reference + "dimensions: [district_code]\n", base=base)
    assert "cannot have dimensions" in error_of(with_dims)


def test_unused_reference_is_rejected() -> None:
    assert "does not use it" in error_of(yaml_doc("reference: {value: 476, source: seeds}\n"))


def test_repeated_dimension_is_rejected() -> None:
    assert "must not repeat" in error_of(yaml_doc("dimensions: [district_code, district_code]\n"))


def test_invalid_yaml_and_non_mapping_are_reported_with_the_file_name() -> None:
    assert error_of("id: [unclosed").startswith("kpis/visits.yaml: not valid YAML")
    assert error_of("- a\n- b\n") == "kpis/visits.yaml: expected a mapping at the top level"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("PT1H", timedelta(hours=1)),
        ("P2D", timedelta(days=2)),
        ("P1W", timedelta(weeks=1)),
        ("P1DT2H30M", timedelta(days=1, hours=2, minutes=30)),
        ("PT0.5S", timedelta(seconds=0.5)),
        (90, timedelta(seconds=90)),
        (1.5, timedelta(seconds=1.5)),
    ],
)
def test_durations_accept_iso_8601_and_seconds(raw: object, expected: timedelta) -> None:
    assert parse_duration(raw) == expected


@pytest.mark.parametrize("raw", ["P1M", "P1Y", "P", "PT", "P1DT", "1 hour", -5, True, float("inf")])
def test_durations_reject_ambiguous_negative_or_malformed(raw: object) -> None:
    with pytest.raises(ValueError, match="duration"):
        parse_duration(raw)


def test_lateness_error_names_the_field() -> None:
    assert "allowed_lateness" in error_of(yaml_doc("allowed_lateness: P1M\n"))


def test_duplicate_ids_are_refused_naming_both_files() -> None:
    with pytest.raises(CatalogueError, match=r"b\.yaml: id: duplicate KPI id 'visits'.*a\.yaml"):
        parse_catalogue([("a.yaml", yaml_doc()), ("b.yaml", yaml_doc())], TOPICS)


def test_unknown_topic_is_refused() -> None:
    with pytest.raises(CatalogueError, match=r"unknown topic 'health\.medical-visit\.v1'"):
        parse_catalogue([("a.yaml", yaml_doc())], {"tthc.dossier.v1"})


def test_fields_not_in_the_topic_are_refused_when_fields_are_known() -> None:
    text = yaml_doc("dimensions: [district]\n")
    with pytest.raises(CatalogueError, match=r"fields not in topic .*\['district'\]"):
        parse_catalogue([("a.yaml", text)], TOPICS, TOPIC_FIELDS)


def test_load_catalogue_requires_file_name_to_match_id(tmp_path: Path) -> None:
    (tmp_path / "other.yaml").write_text(yaml_doc(), encoding="utf-8")
    with pytest.raises(CatalogueError, match="must match the file name 'other'"):
        load_catalogue(tmp_path, TOPICS)


def test_load_catalogue_refuses_an_empty_directory(tmp_path: Path) -> None:
    with pytest.raises(CatalogueError, match="no KPI definitions"):
        load_catalogue(tmp_path, TOPICS)


def test_every_shipped_kpi_loads_against_the_topic_contracts() -> None:
    files = sorted(p.stem for p in KPI_DIR.glob("*.yaml"))
    catalogue = load_catalogue(KPI_DIR, TOPICS, TOPIC_FIELDS)
    assert [kpi.id for kpi in catalogue] == files
    assert len(catalogue) >= 17
    assert {kpi.topic for kpi in catalogue} == TOPICS
    assert all(kpi.title_vi != kpi.title_en for kpi in catalogue)


def test_shipped_targets_and_reference_match_the_domain_figures() -> None:
    kpis = {kpi.id: kpi for kpi in load_catalogue(KPI_DIR, TOPICS, TOPIC_FIELDS)}
    targets = {
        "online-dossier-rate": 40,
        "digitised-results-rate-province": 60,
        "digitised-results-rate-district": 50,
        "digitised-results-rate-commune": 45,
    }
    for kpi_id, value in targets.items():
        target = kpis[kpi_id].target
        assert target is not None
        assert (target.value, target.direction) == (value, "gte")
        assert target.source
    reporting = kpis["accommodation-reporting-rate"]
    assert reporting.reference is not None
    assert reporting.reference.value == 476
    assert reporting.window == "month"
    assert kpis["budget-revenue-by-category"].dimensions[0] == "category"
