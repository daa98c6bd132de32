"""The gateway's caller cache is keyed by the key's hash: no plaintext API key rests in it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from lgsp_common.api_keys import hash_api_key, key_is_usable, parse_api_key
from lgsp_gateway.adapters.directory import Directory

KEY = "lgsp_0123abcd_" + "s" * 32
SOURCE = {"id": "src-1", "topic": "tthc.dossier.v1", "status": "active"}
RECORD = {"id": "k_0123abcd", "source_id": "src-1", "key_hash": hash_api_key(KEY)}


class _Registry:
    """The registry copy's read side, with one source and its key."""

    def items(self, kind: str) -> list[dict[str, Any]]:
        return []

    def get(self, kind: str, entity_id: str) -> dict[str, Any] | None:
        return {("api_key", RECORD["id"]): RECORD, ("source", "src-1"): SOURCE}.get(
            (kind, entity_id)
        )

    def source_for_key(self, api_key: str) -> dict[str, Any] | None:
        usable = parse_api_key(api_key) == RECORD["id"] and key_is_usable(RECORD, api_key)
        return SOURCE if usable else None

    def consumer_for_key(self, api_key: str) -> dict[str, Any] | None:
        return None

    def subscribe(self, callback: Callable[[str, str, dict[str, Any] | None], None]) -> None:
        pass


def test_the_cache_holds_key_hashes_only() -> None:
    directory = Directory(_Registry())
    caller = directory.authenticate(KEY)
    assert caller is not None and caller.id == "src-1"
    assert directory.authenticate(KEY) == caller  # served from the cache
    assert list(vars(directory)["_callers"]) == [hash_api_key(KEY)]
    assert KEY not in repr(vars(directory))
    assert directory.authenticate(KEY.replace("s", "t")) is None
