"""Who may do what, and under which contract: the gateway's view of the registry's live copy.

Everything here is read from memory (the `lgsp.registry` topic replayed by RegistryCopy); the
registry service is never called on the hot path. Compiled validators are cached per contract id
and a subject's versions are re-indexed when a change for it arrives.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from lgsp_common.api_keys import hash_api_key, parse_api_key
from lgsp_gateway.domain.callers import Caller
from lgsp_gateway.domain.contracts import Contract


class RegistryView(Protocol):
    """The part of `lgsp_common.registry_copy.RegistryCopy` the gateway uses."""

    def items(self, kind: str) -> list[dict[str, Any]]: ...

    def get(self, kind: str, entity_id: str) -> dict[str, Any] | None: ...

    def source_for_key(self, api_key: str) -> dict[str, Any] | None: ...

    def consumer_for_key(self, api_key: str) -> dict[str, Any] | None: ...

    def subscribe(self, callback: Callable[[str, str, dict[str, Any] | None], None]) -> None: ...


class Directory:
    """Answers the gateway's questions from the registry copy, caching compiled contracts."""

    def __init__(self, registry: RegistryView) -> None:
        self._registry = registry
        self._compiled: dict[str, Contract] = {}
        self._subjects: dict[str, list[Contract]] = {}
        # Valid keys without an expiry, resolved once, by key hash (never the key itself in
        # memory longer than the call): the registry lookups stay off the hot path. Any change
        # to keys, sources or consumers empties it (revocation is immediate).
        self._callers: dict[str, Caller] = {}
        registry.subscribe(self._on_change)

    def _on_change(self, kind: str, entity_id: str, data: dict[str, Any] | None) -> None:
        if kind == "contract":
            self._subjects.clear()  # rebuilt lazily; compiled validators stay cached by id
        elif kind in ("api_key", "source", "consumer"):
            self._callers.clear()

    def authenticate(self, api_key: str) -> Caller | None:
        """Return the active source or consumer the key belongs to, if it is valid now."""
        digest = hash_api_key(api_key)
        cached = self._callers.get(digest)
        if cached is not None:
            return cached
        caller = self._resolve(api_key)
        if caller is not None and self._expiry_free(api_key) and len(self._callers) < 100_000:
            self._callers[digest] = caller
        return caller

    def _expiry_free(self, api_key: str) -> bool:
        key_id = parse_api_key(api_key)
        record = self._registry.get("api_key", key_id) if key_id else None
        return record is not None and not record.get("expires_at")

    def _resolve(self, api_key: str) -> Caller | None:
        source = self._registry.source_for_key(api_key)
        if source is not None:
            if source.get("status", "active") != "active":
                return None
            return Caller("source", str(source["id"]), topic=source.get("topic"))
        consumer = self._registry.consumer_for_key(api_key)
        if consumer is not None:
            return Caller(
                "consumer",
                str(consumer["id"]),
                topic=consumer.get("topic"),
                purpose=consumer.get("purpose"),
                fields=tuple(consumer.get("fields") or ()),
                approved=consumer.get("status") == "approved",
            )
        return None

    def versions(self, topic: str) -> list[Contract]:
        """Return the topic's contract versions, oldest first."""
        cached = self._subjects.get(topic)
        if cached is None:
            entries = sorted(
                (c for c in self._registry.items("contract") if c.get("subject") == topic),
                key=lambda c: int(c["version"]),
            )
            cached = self._subjects[topic] = [self._compile(entry) for entry in entries]
        return cached

    def _compile(self, entry: dict[str, Any]) -> Contract:
        contract_id = str(entry["id"])
        compiled = self._compiled.get(contract_id)
        if compiled is None:
            compiled = Contract.compile(entry["subject"], int(entry["version"]), entry["schema"])
            self._compiled[contract_id] = compiled
        return compiled

    def contract(self, topic: str, dataschema: str | None) -> Contract | None:
        """Return the version the event names by URI (or the latest); None if there is none."""
        versions = self.versions(topic)
        if not versions:
            return None
        if dataschema is None:
            return versions[-1]
        return next((c for c in versions if c.schema_uri == dataschema), None)
