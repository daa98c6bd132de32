"""Records become events or counted poison, never an exception."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ioc_collector.adapters.decode import (
    ContractValidators,
    Poison,
    event_from_record,
    rejected_source,
)
from ioc_collector.domain.events import EventView
from lgsp_common.envelope import CloudEvent, to_kafka

ROOT = Path(__file__).resolve().parents[4]
TOPIC = "tthc.dossier.v1"
VALID = json.loads(
    (ROOT / f"contracts/topics/{TOPIC}/examples/valid/online-submitted-province.json").read_text()
)


@dataclass
class FakeRecord:
    value: bytes | None
    headers: list[tuple[str, bytes]] = field(default_factory=list)
    topic: str = TOPIC
    partition: int = 2
    offset: int = 7
    timestamp: int = 1_727_000_000_000
    key: bytes | None = b"k"


def binary(payload: Any, **attrs: Any) -> FakeRecord:
    event = CloudEvent(id="e-1", source="/sources/dvc", type="t.submitted", data=payload, **attrs)
    record = to_kafka(event, "k", carrier={})
    return FakeRecord(record.value, record.headers)


def validators(registry: dict[str, Any] | None = None) -> ContractValidators:
    return ContractValidators(lambda topic: registry, ROOT / "contracts")


def test_a_valid_record_becomes_an_event_keyed_by_source_and_id() -> None:
    found = event_from_record(binary(VALID), validators())
    assert isinstance(found, EventView)
    assert (found.event_id, found.source, found.partition, found.offset) == (
        "/sources/dvc e-1", "/sources/dvc", 2, 7,
    )  # fmt: skip
    assert found.payload == VALID
    assert found.time.tzinfo is not None  # no ce_time: the record's timestamp


def test_poison_is_classified() -> None:
    checks = validators()
    not_json = event_from_record(FakeRecord(b"{oops"), checks)
    assert isinstance(not_json, Poison) and not_json.reason == "not_json"
    no_headers = event_from_record(FakeRecord(json.dumps(VALID).encode()), checks)
    assert isinstance(no_headers, Poison) and no_headers.reason == "not_cloudevent"
    wrong = event_from_record(binary({**VALID, "channel": "fax"}), checks)
    assert isinstance(wrong, Poison) and wrong.reason == "contract"
    scalar = event_from_record(binary([1, 2]), checks)
    assert isinstance(scalar, Poison) and scalar.reason == "contract"


def test_the_registry_contract_wins_over_the_folder() -> None:
    permissive = {"id": "c1", "version": 2, "schema": {"type": "object"}}
    found = event_from_record(binary({**VALID, "channel": "fax"}), validators(permissive))
    assert isinstance(found, EventView)


def test_topics_without_a_contract_only_need_a_json_object() -> None:
    record = binary({"anything": 1})
    record.topic = "no.contract.v1"
    assert isinstance(event_from_record(record, validators()), EventView)


def test_dead_letters_give_their_source() -> None:
    assert rejected_source(FakeRecord(b'{"source": "/sources/x"}')) == "/sources/x"
    assert rejected_source(FakeRecord(b"not json")) is None
    assert rejected_source(FakeRecord(b'{"source": 3}')) is None
