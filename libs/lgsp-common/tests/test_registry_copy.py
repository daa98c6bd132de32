"""RegistryCopy applies change events by version, forgets tombstones, and checks API keys."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from lgsp_common.api_keys import hash_api_key, key_is_usable, parse_api_key
from lgsp_common.registry_copy import RegistryCopy
from lgsp_common.settings import KafkaSettings

KEY = "lgsp_3f9a1c2b_" + "s" * 43


def event(kind: str, entity_id: str, version: int, data: dict[str, Any] | None) -> bytes:
    """Encode one change event."""
    op = "upsert" if data is not None else "delete"
    return orjson.dumps(
        {
            "kind": kind,
            "id": entity_id,
            "op": op,
            "version": version,
            "changed_at": "2024-10-01T00:00:00+07:00",
            "data": data,
        }
    )


def copy_() -> RegistryCopy:
    """Return a copy that is never started (records are applied by hand)."""
    return RegistryCopy(KafkaSettings(bootstrap_servers="127.0.0.1:1"), client_id="t")


def test_newer_versions_win_and_older_ones_are_ignored() -> None:
    registry = copy_()
    seen: list[tuple[str, str, Any]] = []
    registry.subscribe(lambda kind, entity_id, data: seen.append((kind, entity_id, data)))
    assert registry.apply(b"source:a", event("source", "a", 2, {"id": "a", "status": "active"}))
    assert not registry.apply(b"source:a", event("source", "a", 1, {"id": "a", "status": "x"}))
    assert not registry.apply(b"source:a", event("source", "a", 2, {"id": "a", "status": "y"}))
    assert registry.get("source", "a") == {"id": "a", "status": "active"}
    assert registry.apply(b"source:a", event("source", "a", 3, None))
    assert registry.get("source", "a") is None
    assert registry.apply(b"source:a", None) is False  # already gone: nothing to forget
    assert [entry[2] for entry in seen] == [{"id": "a", "status": "active"}, None]


def test_tombstone_forgets_an_entity_and_its_version() -> None:
    registry = copy_()
    registry.apply(b"consumer:c", event("consumer", "c", 5, {"id": "c"}))
    assert registry.apply(b"consumer:c", None)
    assert registry.items("consumer") == []
    assert registry.apply(b"consumer:c", event("consumer", "c", 1, {"id": "c", "new": True}))


def test_malformed_records_are_skipped() -> None:
    registry = copy_()
    assert not registry.apply(b"source:a", b"{not json")
    assert not registry.apply(b"source:a", b'{"op": "upsert"}')
    assert not registry.apply(None, event("source", "a", 1, {"id": "a"}))
    assert registry.items("source") == []


def test_contracts_are_found_by_subject_version_and_id() -> None:
    registry = copy_()
    for version, contract_id in ((1, "c1"), (2, "c2")):
        data = {"id": contract_id, "subject": "tthc.dossier.v1", "version": version}
        registry.apply(f"contract:{contract_id}".encode(), event("contract", contract_id, 1, data))
    latest = registry.latest_contract("tthc.dossier.v1")
    assert latest is not None and latest["id"] == "c2"
    first = registry.contract("tthc.dossier.v1", 1)
    assert first is not None and first["id"] == "c1"
    assert registry.contract_by_id("c2") == latest
    assert registry.latest_contract("nope.v1") is None
    registry.apply(b"contract:c2", None)
    again = registry.latest_contract("tthc.dossier.v1")
    assert again is not None and again["id"] == "c1"


def key_record(**changes: Any) -> dict[str, Any]:
    """Return an api_key entity for KEY."""
    return {
        "id": "k_3f9a1c2b",
        "source_id": "src",
        "key_hash": hash_api_key(KEY),
        "revoked_at": None,
        "expires_at": None,
        **changes,
    }


def test_keys_are_checked_by_hash_revocation_and_expiry() -> None:
    now = datetime(2024, 10, 1, tzinfo=UTC)
    assert parse_api_key(KEY) == "k_3f9a1c2b"
    assert parse_api_key("Bearer " + KEY) is None
    assert parse_api_key("lgsp_zz_" + "s" * 43) is None
    assert hash_api_key(KEY).startswith("sha256:") and len(hash_api_key(KEY)) == 71
    assert key_is_usable(key_record(), KEY, now)
    assert not key_is_usable(key_record(), KEY[:-1] + "t", now)
    assert not key_is_usable(key_record(revoked_at="2024-09-30T00:00:00Z"), KEY, now)
    later = (now + timedelta(hours=1)).isoformat()
    earlier = (now - timedelta(seconds=1)).isoformat()
    assert key_is_usable(key_record(expires_at=later), KEY, now)
    assert not key_is_usable(key_record(expires_at=earlier), KEY, now)


def test_source_and_consumer_for_key() -> None:
    registry = copy_()
    registry.apply(b"source:src", event("source", "src", 1, {"id": "src", "status": "active"}))
    registry.apply(b"api_key:k_3f9a1c2b", event("api_key", "k_3f9a1c2b", 1, key_record()))
    found = registry.source_for_key(KEY)
    assert found is not None and found["id"] == "src"
    assert registry.consumer_for_key(KEY) is None
    assert registry.source_for_key("lgsp_3f9a1c2c_" + "s" * 43) is None
    revoked = key_record(revoked_at="2024-01-01T00:00:00+00:00")
    registry.apply(b"api_key:k_3f9a1c2b", event("api_key", "k_3f9a1c2b", 2, revoked))
    assert registry.source_for_key(KEY) is None
