"""The KPI definition format as a JSON Schema 2020-12 (`contracts/meta/kpi-definition.schema.json`).

The same format as the collector's YAML files (`services/ioc-collector/kpis/*.yaml`), written
down as data so the registry checks a pushed definition without importing the collector, and
every refusal names its place by JSON Pointer. Rules JSON Schema expresses are here (closed
objects, one shape per measure kind, a value that fits its operator, a ratio shown in %, a
`reference` block exactly when the denominator uses it); rules that need the topic's contract
(does the field exist, is it numeric) are in `kpi_rules`. `contracts/meta/` holds a copy, checked
for drift by `tests/contract/test_kpi_definition_schema.py`.
"""

from __future__ import annotations

from typing import Any

SCHEMA_ID = "https://lgsp.example.gov.vn/contracts/meta/kpi-definition.schema.json"
SLUG = r"^[a-z0-9]+(?:-[a-z0-9]+)*$"
FIELD_REF = r"^(?:[A-Za-z_][A-Za-z0-9_]*|(?:/(?:[^~/]|~[01])*)+)$"
# Weeks, days and clock units only (years and months have no fixed length); never bare P or PT.
ISO_DURATION = r"^P(?!$)(?:\d+W)?(?:\d+D)?(?:T(?=\d)(?:\d+H)?(?:\d+M)?(?:\d+(?:\.\d+)?S)?)?$"
SCALAR = {"type": ["string", "number", "boolean", "null"]}


def _kind_is(*kinds: str) -> dict[str, Any]:
    kind: dict[str, Any] = {"const": kinds[0]} if len(kinds) == 1 else {"enum": list(kinds)}
    return {"properties": {"kind": kind}, "required": ["kind"]}


def _closed(properties: dict[str, Any], required: list[str]) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": properties,
        "required": required,
        "additionalProperties": False,
    }


def _dispatch(kinds: dict[str, str]) -> dict[str, Any]:
    """One object shape per `kind` (each a closed $defs entry)."""
    return {
        "type": "object",
        "required": ["kind"],
        "properties": {"kind": {"enum": list(kinds)}},
        "allOf": [
            {"if": _kind_is(kind), "then": {"$ref": f"#/$defs/{target}"}}
            for kind, target in kinds.items()
        ],
    }


def _op_rule(ops: list[str], value: dict[str, Any], required: bool) -> dict[str, Any]:
    then: dict[str, Any] = {"properties": {"value": value}}
    if required:
        then["required"] = ["value"]
    return {"if": {"properties": {"op": {"enum": ops}}, "required": ["op"]}, "then": then}


CONDITION = {
    **_closed(
        {
            "field": {"$ref": "#/$defs/field"},
            "op": {"enum": ["eq", "ne", "in", "not_in", "gt", "gte", "lt", "lte", "exists"]},
            "value": {"anyOf": [SCALAR, {"type": "array", "items": SCALAR}]},
        },
        ["field", "op"],
    ),
    "description": "One condition on a payload field (vi: điều kiện lọc)",
    "allOf": [
        _op_rule(["in", "not_in"], {"type": "array", "minItems": 1}, True),
        _op_rule(["gt", "gte", "lt", "lte"], {"type": ["number", "string"]}, True),
        _op_rule(["eq", "ne"], SCALAR, False),
        _op_rule(["exists"], {"type": ["boolean", "null"]}, False),
    ],
}

FIELD_TERM = {"kind": {}, "field": {"$ref": "#/$defs/field"}}
FILTERED = {"filter": {"$ref": "#/$defs/filter"}}

DEFS: dict[str, Any] = {
    "field": {
        "type": "string",
        "pattern": FIELD_REF,
        "maxLength": 200,
        "description": "A payload field: a top-level name or an RFC 6901 JSON Pointer",
    },
    "duration": {
        "anyOf": [
            {"type": "string", "pattern": ISO_DURATION},
            {"type": "number", "minimum": 0},
        ],
        "description": "ISO 8601 duration (PnWnDTnHnMnS, no years or months) or seconds",
    },
    "condition": CONDITION,
    "filter": {
        **_closed(
            {
                "ce_type": {"type": "string", "minLength": 1},
                "where": {"type": "array", "items": {"$ref": "#/$defs/condition"}},
            },
            [],
        ),
        "description": "Conditions that must all hold (AND), optionally the CloudEvent type",
    },
    "count": _closed({"kind": {}}, ["kind"]),
    "sum": _closed(FIELD_TERM, ["kind", "field"]),
    "average": _closed(FIELD_TERM, ["kind", "field"]),
    "distinct_count": _closed(FIELD_TERM, ["kind", "field"]),
    "ratio": _closed(
        {
            "kind": {},
            "numerator": {"$ref": "#/$defs/term"},
            "denominator": {"$ref": "#/$defs/denominator"},
        },
        ["kind", "numerator", "denominator"],
    ),
    "count_term": _closed({"kind": {}, **FILTERED}, ["kind"]),
    "sum_term": _closed({**FIELD_TERM, **FILTERED}, ["kind", "field"]),
    "distinct_count_term": _closed({**FIELD_TERM, **FILTERED}, ["kind", "field"]),
    "reference_term": _closed({"kind": {}}, ["kind"]),
    "measure": _dispatch(
        {
            "count": "count",
            "sum": "sum",
            "average": "average",
            "distinct_count": "distinct_count",
            "ratio": "ratio",
        }
    ),
    "term": _dispatch(
        {"count": "count_term", "sum": "sum_term", "distinct_count": "distinct_count_term"}
    ),
    "denominator": _dispatch(
        {
            "count": "count_term",
            "sum": "sum_term",
            "distinct_count": "distinct_count_term",
            "reference": "reference_term",
        }
    ),
}

TOP_LEVEL = {
    "id": {"type": "string", "pattern": SLUG, "maxLength": 64},
    "title_vi": {"type": "string", "minLength": 1},
    "title_en": {"type": "string", "minLength": 1},
    "topic": {"type": "string", "minLength": 1},
    "filter": {"$ref": "#/$defs/filter"},
    "measure": {"$ref": "#/$defs/measure"},
    "dimensions": {"type": "array", "uniqueItems": True, "items": {"$ref": "#/$defs/field"}},
    "time_field": {"anyOf": [{"$ref": "#/$defs/field"}, {"type": "null"}]},
    "window": {"enum": ["hour", "day", "month"]},
    "allowed_lateness": {"$ref": "#/$defs/duration"},
    "idle_timeout": {"$ref": "#/$defs/duration"},
    "target": {
        **_closed(
            {
                "value": {"type": "number"},
                "direction": {"enum": ["gte", "lte"]},
                "source": {"type": ["string", "null"], "minLength": 1},
                "period": {"enum": ["month", "quarter", "year"]},
                "group": {"enum": ["digital_government", "digital_economy", "digital_society"]},
            },
            ["value", "direction"],
        ),
        "description": "The Steering Committee's target and where the figure comes from; "
        "`period` is the period it is assessed over (default month), `group` the pillar of "
        "the province's digital-transformation targets it counts in",
    },
    "unit": {"type": "string", "minLength": 1},
    "reference": {
        **_closed(
            {
                "value": {"type": "number", "exclusiveMinimum": 0},
                "source": {"type": "string", "minLength": 1},
                "as_of": {"type": ["string", "null"], "format": "date"},
            },
            ["value", "source"],
        ),
        "description": "A fixed denominator known outside the stream, with its provenance",
    },
}

_RATIO = {"properties": {"measure": _kind_is("ratio")}, "required": ["measure"]}
_REFERENCE = {
    "properties": {
        "measure": {
            "properties": {"denominator": _kind_is("reference")},
            "required": ["denominator"],
        }
    },
    "required": ["measure"],
}

KPI_DEFINITION_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "$id": SCHEMA_ID,
    "title": "LGSP KPI definition",
    "description": "One KPI the IOC computes from a topic: what to measure, over which events, "
    "by which dimensions, in which windows, against which target. Pushed to the registry "
    "(POST/PUT /v1/kpis) and carried on lgsp.registry as kind 'kpi'. Fields are payload names "
    "or RFC 6901 JSON Pointers; the registry also checks them against the topic's latest "
    "contract.\n\nTiếng Việt: Định nghĩa một chỉ số (KPI) của Trung tâm điều hành (IOC).",
    "type": "object",
    "properties": TOP_LEVEL,
    "required": ["id", "title_vi", "title_en", "topic", "measure", "window", "unit"],
    "additionalProperties": False,
    "allOf": [
        {"if": _RATIO, "then": {"properties": {"unit": {"const": "%"}}}},
        {
            "if": _REFERENCE,
            "then": {"required": ["reference"], "properties": {"dimensions": {"maxItems": 0}}},
            "else": {"not": {"required": ["reference"]}},
        },
    ],
    "$defs": DEFS,
}
