"""Request limits and the checks a candidate contract must pass on its own."""

from __future__ import annotations

from typing import Any

import pytest

from lgsp_registry.api.guard import Refusal, check_json
from lgsp_registry.domain.contract_rules import example_violations, schema_violations
from lgsp_registry.domain.entities import ContractExamples
from lgsp_registry.domain.limits import json_depth

SUBJECT = "finance.budget-revenue.v1"


def test_json_depth_counts_containers() -> None:
    assert json_depth(1) == 0
    assert json_depth({}) == 1
    assert json_depth({"a": [1, {"b": []}]}) == 4
    assert json_depth([[[[[]]]]]) == 5


@pytest.mark.parametrize(
    ("body", "content_type", "status"),
    [
        (b'{"a": 1}', "text/plain", 415),
        (b'{"a": ', "application/json", 400),
        (b"[" * 70 + b"]" * 70, "application/json", 422),
        (b"[" * 5000 + b"]" * 5000, "application/json", 422),
    ],
)
def test_bad_bodies_are_refused(body: bytes, content_type: str, status: int) -> None:
    with pytest.raises(Refusal) as caught:
        check_json(body, content_type, 64)
    assert caught.value.problem.status == status


def test_good_body_is_parsed() -> None:
    assert check_json(b'{"a": [1]}', "application/merge-patch+json; charset=utf-8", 64) == {
        "a": [1]
    }


def schema(**properties: Any) -> dict[str, Any]:
    """Return a closed schema for SUBJECT."""
    return {
        "type": "object",
        "x-lgsp": {"topic": SUBJECT},
        "additionalProperties": False,
        "properties": {"amount": {"type": "integer", "minimum": 0}, **properties},
    }


def test_schema_violations_name_the_place_and_rule() -> None:
    assert schema_violations(schema(), SUBJECT) == []
    wrong_topic = schema_violations(schema(), "finance.other.v1")
    assert [(v.pointer, v.rule) for v in wrong_topic] == [("/schema/x-lgsp/topic", "subject")]
    remote = schema_violations(schema(x={"$ref": "https://example.org/s.json"}), SUBJECT)
    assert [(v.pointer, v.rule) for v in remote] == [("/schema/properties/x/$ref", "remote_ref")]
    typo = schema_violations(schema(x={"type": "strng"}), SUBJECT)
    assert typo and typo[0].pointer.startswith("/schema/properties/x/type")


def test_examples_must_behave_as_labelled() -> None:
    good = ContractExamples(valid=[{"amount": 1}], invalid=[{"amount": -1}])
    assert example_violations(schema(), good, required=True) == []
    bad = ContractExamples(valid=[{"amount": 1}, {"amount": "x"}], invalid=[{"amount": 2}])
    found = [(v.pointer, v.rule) for v in example_violations(schema(), bad, required=True)]
    assert found == [
        ("/examples/valid/1", "valid_example"),
        ("/examples/invalid/0", "invalid_example"),
    ]
    missing = example_violations(schema(), ContractExamples(), required=True)
    assert [v.rule for v in missing] == ["examples_required"]
    assert example_violations(schema(), ContractExamples(), required=False) == []
