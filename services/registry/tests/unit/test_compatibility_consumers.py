"""Consumer-aware check: which registered consumer does a new schema break, and on which field."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from pydantic import ValidationError

from lgsp_registry.domain.compatibility import ConsumerFields, check_consumers

Schema = dict[str, Any]

BUDGET_REVENUE_V1: Schema = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "Thu ngân sách (state-budget revenue)",
    "type": "object",
    "properties": {
        "record_id": {"type": "string", "minLength": 1, "maxLength": 64},
        "report_date": {"type": "string", "format": "date"},
        "district_code": {"type": "string", "pattern": "^[0-9]{3}$"},
        "category": {"enum": ["oil_gas", "import_export", "domestic", "other"]},
        "amount_vnd": {"type": "integer", "minimum": 0},
        "locally_retained_vnd": {"type": "integer", "minimum": 0},
    },
    "required": [
        "record_id",
        "report_date",
        "district_code",
        "category",
        "amount_vnd",
        "locally_retained_vnd",
    ],
    "additionalProperties": False,
}

IOC = ConsumerFields(
    consumer_id="ioc-collector",
    name="IOC tỉnh (provincial IOC)",
    fields=["/amount_vnd", "/district_code", "/category"],
)
TREASURY = ConsumerFields(
    consumer_id="treasury-report", name="Kho bạc", fields=["/locally_retained_vnd"]
)


def changed(**properties: Any) -> Schema:
    schema = copy.deepcopy(BUDGET_REVENUE_V1)
    for name, value in properties.items():
        if value is None:
            del schema["properties"][name]
            schema["required"].remove(name)
        else:
            schema["properties"][name] = value
    return schema


def rules(
    new: Schema, consumers: list[ConsumerFields], old: Schema = BUDGET_REVENUE_V1
) -> set[tuple[str, str, str | None]]:
    reasons = check_consumers(new, consumers, previous=(1, old))
    assert all(reason.version == 1 for reason in reasons)
    return {(reason.rule, reason.data_path, reason.consumer_id) for reason in reasons}


def test_unchanged_schema_breaks_nobody() -> None:
    assert rules(BUDGET_REVENUE_V1, [IOC, TREASURY]) == set()


def test_removed_field_names_the_consumer() -> None:
    reasons = check_consumers(
        changed(amount_vnd=None), [IOC, TREASURY], previous=(1, BUDGET_REVENUE_V1)
    )
    assert [(r.rule, r.data_path, r.consumer_id) for r in reasons] == [
        ("CONSUMER_FIELD_REMOVED", "/amount_vnd", "ioc-collector")
    ]
    assert "IOC tỉnh (provincial IOC)" in reasons[0].message
    assert "no longer allows" in reasons[0].message


def test_field_removed_from_an_open_model_is_no_longer_declared() -> None:
    old = {**BUDGET_REVENUE_V1, "additionalProperties": True}
    new = {**changed(amount_vnd=None), "additionalProperties": True}
    reasons = check_consumers(new, [IOC], previous=(1, old))
    assert [r.rule for r in reasons] == ["CONSUMER_FIELD_REMOVED"]
    assert "no longer declares" in reasons[0].message


@pytest.mark.parametrize(
    "amount",
    [
        {"type": "number", "minimum": 0},
        {"type": ["integer", "null"], "minimum": 0},
        {"type": "string"},
    ],
    ids=["integer to number", "null added", "integer to string"],
)
def test_retyped_field(amount: Schema) -> None:
    assert rules(changed(amount_vnd=amount), [IOC, TREASURY]) == {
        ("CONSUMER_FIELD_RETYPED", "/amount_vnd", "ioc-collector")
    }


def test_narrowed_type_or_tighter_bounds_break_no_reader() -> None:
    old = changed(amount_vnd={"type": "number"})
    assert rules(changed(amount_vnd={"type": "integer", "maximum": 10**15}), [IOC], old) == set()


def test_field_made_optional() -> None:
    new = changed()
    new["required"].remove("district_code")
    reasons = check_consumers(new, [IOC], previous=(1, BUDGET_REVENUE_V1))
    assert [(r.rule, r.data_path, r.pointer) for r in reasons] == [
        ("CONSUMER_FIELD_OPTIONAL", "/district_code", "/properties/district_code")
    ]
    assert "optional" in reasons[0].message


def test_field_nobody_reads_may_change() -> None:
    new = changed(record_id={"type": "integer"}, report_date=None)
    assert rules(new, [IOC, TREASURY]) == set()


def test_enum_extension_is_not_a_field_break() -> None:
    new = changed(category={"enum": ["oil_gas", "import_export", "domestic", "other", "land"]})
    assert rules(new, [IOC]) == set()


def with_address(address: Schema, required: tuple[str, ...] = ("address",)) -> Schema:
    return {
        "$defs": {"Address": address},
        "type": "object",
        "properties": {"visit_id": {"type": "string"}, "address": {"$ref": "#/$defs/Address"}},
        "required": ["visit_id", *required],
        "additionalProperties": False,
    }


ADDRESS = {
    "type": "object",
    "properties": {"commune_code": {"type": "string"}, "street": {"type": "string"}},
    "required": ["commune_code"],
    "additionalProperties": False,
}
HEALTH = ConsumerFields(
    consumer_id="health-dash", name="Sở Y tế dashboard", fields=["/address/commune_code"]
)


def test_nested_field_behind_a_ref() -> None:
    old = with_address(ADDRESS)
    gone = with_address({**ADDRESS, "properties": {"street": {"type": "string"}}, "required": []})
    retyped = with_address({**ADDRESS, "properties": {"commune_code": {"type": "integer"}}})
    assert rules(gone, [HEALTH], old) == {
        ("CONSUMER_FIELD_REMOVED", "/address/commune_code", "health-dash")
    }
    assert rules(retyped, [HEALTH], old) == {
        ("CONSUMER_FIELD_RETYPED", "/address/commune_code", "health-dash")
    }


def test_parent_made_optional_makes_nested_field_optional() -> None:
    old = with_address(ADDRESS)
    reasons = check_consumers(with_address(ADDRESS, required=()), [HEALTH], previous=(1, old))
    assert [(r.rule, r.pointer) for r in reasons] == [
        ("CONSUMER_FIELD_OPTIONAL", "/properties/address/properties/commune_code")
    ]


def test_field_in_only_one_alternative_is_optional() -> None:
    old = with_address(ADDRESS)
    new = with_address({"anyOf": [ADDRESS, {"type": "null"}]})
    assert rules(new, [HEALTH], old) == {
        ("CONSUMER_FIELD_OPTIONAL", "/address/commune_code", "health-dash")
    }


def test_array_item_fields() -> None:
    def lines(code: Schema) -> Schema:
        item = {"type": "object", "properties": {"code": code}, "required": ["code"]}
        return {"type": "object", "properties": {"lines": {"type": "array", "items": item}}}

    reader = ConsumerFields(
        consumer_id="r", name="reader", fields=["/lines/*/code", "/lines/0/code"]
    )
    reasons = check_consumers(
        lines({"type": "number"}), [reader], previous=(1, lines({"type": "integer"}))
    )
    assert {(r.rule, r.data_path) for r in reasons} == {
        ("CONSUMER_FIELD_RETYPED", "/lines/*/code"),
        ("CONSUMER_FIELD_RETYPED", "/lines/0/code"),
    }


def test_pointer_escapes_are_understood() -> None:
    old = {"type": "object", "properties": {"a/b": {"type": "string"}, "c~d": {"type": "string"}}}
    new = {
        "type": "object",
        "properties": {"a/b": {"type": "integer"}},
        "additionalProperties": False,
    }
    reader = ConsumerFields(consumer_id="r", name="reader", fields=["/a~1b", "/c~0d"])
    assert rules(new, [reader], old) == {
        ("CONSUMER_FIELD_RETYPED", "/a~1b", "r"),
        ("CONSUMER_FIELD_REMOVED", "/c~0d", "r"),
    }


def test_without_previous_version_only_presence_is_checked() -> None:
    reasons = check_consumers(changed(amount_vnd={"type": "number"}), [IOC], previous=None)
    assert reasons == []
    missing = check_consumers(changed(amount_vnd=None), [IOC], previous=None)
    assert [(r.rule, r.version) for r in missing] == [("CONSUMER_FIELD_REMOVED", None)]


def test_consumer_fields_must_be_json_pointers() -> None:
    with pytest.raises(ValidationError):
        ConsumerFields(consumer_id="x", name="x", fields=["amount_vnd"])
