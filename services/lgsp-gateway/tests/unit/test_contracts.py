"""Contract selection (which version is enforced) and validation (errors as JSON Pointers)."""

from __future__ import annotations

from typing import Any

import pytest
from gateway_fakes import (
    SCHEMA_V1,
    SCHEMA_V2,
    TOPIC,
    VALID,
    Gateway,
    MemoryRegistry,
    dossier_schema,
)

from lgsp_gateway.adapters.directory import Directory
from lgsp_gateway.domain.contracts import Contract

DATED = {**VALID, "received_on": "2024-10-01"}


async def test_without_a_dataschema_the_latest_version_is_enforced(gateway: Gateway) -> None:
    answer = await gateway.publish(DATED)
    assert answer.status_code == 202, answer.text
    [record] = gateway.producer.on(TOPIC)
    assert record.header("ce_dataschema") == SCHEMA_V2


async def test_a_named_version_is_enforced_and_stamped(gateway: Gateway) -> None:
    refused = await gateway.publish(DATED, **{"ce-dataschema": SCHEMA_V1})
    assert refused.status_code == 422
    assert refused.json()["errors"][0]["pointer"] == "/received_on"
    accepted = await gateway.publish(VALID, **{"ce-dataschema": SCHEMA_V1})
    assert accepted.status_code == 202
    [record] = gateway.producer.on(TOPIC)
    assert record.header("ce_dataschema") == SCHEMA_V1


async def test_an_unknown_dataschema_is_refused(gateway: Gateway) -> None:
    answer = await gateway.publish(**{"ce-dataschema": "urn:test:tthc.dossier:v9"})
    assert answer.status_code == 422
    problem = answer.json()
    assert problem["type"].endswith("/unknown-dataschema")
    assert problem["errors"] == [
        {"pointer": "", "rule": "contract", "message": "unknown dataschema"}
    ]


async def test_a_new_version_applies_as_soon_as_the_copy_has_it(gateway: Gateway) -> None:
    later = {**DATED, "status": "done"}
    gateway.registry.put(
        "contract",
        "c-v3",
        {
            "id": "c-v3",
            "subject": TOPIC,
            "version": 3,
            "schema": {**dossier_schema(2), "$id": "urn:v3"},
        },
    )
    assert (await gateway.publish(later)).status_code == 202
    assert gateway.producer.on(TOPIC)[0].header("ce_dataschema") == "urn:v3"


async def test_the_record_key_and_subject_are_the_entity_key(gateway: Gateway) -> None:
    assert (await gateway.publish()).status_code == 202
    [record] = gateway.producer.on(TOPIC)
    assert record.key == VALID["dossier_id"].encode()
    assert record.header("ce_subject") == VALID["dossier_id"]
    assert record.json() == VALID


async def test_format_checks_are_enforced(gateway: Gateway) -> None:
    answer = await gateway.publish({**VALID, "received_on": "01/10/2024"})
    assert answer.status_code == 422
    assert [(e["pointer"], e["rule"]) for e in answer.json()["errors"]] == [
        ("/received_on", "format")
    ]


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        ({"status": "received"}, [("/dossier_id", "required")]),
        ({**VALID, "extra": 1}, [("/extra", "additionalProperties")]),
        ({**VALID, "status": "lost"}, [("/status", "enum")]),
        ({"dossier_id": "abc", "status": "done"}, [("/dossier_id", "minLength")]),
    ],
)
def test_violations_name_the_field_and_the_rule(
    payload: dict[str, Any], expected: list[tuple[str, str]]
) -> None:
    contract = Contract.compile(TOPIC, 1, dossier_schema(1))
    assert [(e.pointer, e.rule) for e in contract.violations(payload)] == expected


def test_a_valid_payload_has_no_violations_and_a_key() -> None:
    contract = Contract.compile(TOPIC, 1, dossier_schema(1))
    assert contract.violations(VALID) == []
    assert contract.key_of(VALID) == VALID["dossier_id"]
    assert contract.key_of(["not", "an", "object"]) is None
    assert contract.schema_uri == SCHEMA_V1


def test_a_schema_without_id_or_entity_key_gets_a_urn_and_no_key() -> None:
    contract = Contract.compile("x.y.v1", 4, {"type": "object"})
    assert contract.schema_uri == "urn:lgsp:contract:x.y.v1:v4"
    assert contract.key_of({"id": 1}) is None


def test_pointers_escape_slashes_and_tildes() -> None:
    schema = {"type": "object", "properties": {"a/b~c": {"type": "integer"}}}
    [error] = Contract.compile("t", 1, schema).violations({"a/b~c": "x"})
    assert error.pointer == "/a~1b~0c"


def test_the_directory_resolves_versions_oldest_first_and_by_uri() -> None:
    registry = MemoryRegistry([])
    registry.add_contract(TOPIC, 2)
    registry.add_contract(TOPIC, 1)
    directory = Directory(registry)
    assert [c.version for c in directory.versions(TOPIC)] == [1, 2]
    assert directory.contract(TOPIC, None).version == 2  # type: ignore[union-attr]
    assert directory.contract(TOPIC, SCHEMA_V1).version == 1  # type: ignore[union-attr]
    assert directory.contract(TOPIC, "urn:nope") is None
    assert directory.contract("no.such.v1", None) is None


def test_the_directory_reindexes_a_subject_when_a_contract_changes() -> None:
    registry = MemoryRegistry([])
    registry.add_contract(TOPIC, 1)
    directory = Directory(registry)
    assert len(directory.versions(TOPIC)) == 1
    registry.add_contract(TOPIC, 2)
    assert [c.version for c in directory.versions(TOPIC)] == [1, 2]
