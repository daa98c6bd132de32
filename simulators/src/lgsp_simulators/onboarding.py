"""Onboarding the simulated departments through the registry's public HTTP API, idempotently.

Each department does what its integrator would: its organisation exists (created once), its
sources exist, its topics carry the contracts of `contracts/topics/` (an identical push returns
the registered version), and it gets a publishing key: a new one for a new source, else its
newest usable key is rotated (the old one keeps working for a grace period). Health also asks
to read the population resource for `health_insurance_check` and is approved (operator).
Everything runs with the operator token; nothing is written behind the registry's back.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from lgsp_cli.registry_client import RegistryClient, RegistryError, load_contract, version_files
from lgsp_common.topics import contract_topics
from lgsp_simulators.population_resource import contract_body
from lgsp_simulators.scenario import PopulationLink

log = logging.getLogger(__name__)
ROTATION_GRACE_S = 3600
CONSUMER_FIELDS = ["/full_name", "/date_of_birth", "/health_insurance_number"]


@dataclass
class Onboarded:
    """What the simulators need to publish: per topic, its source and key; Health's reader."""

    sources: dict[str, str] = field(default_factory=dict)
    keys: dict[str, str] = field(default_factory=dict)
    event_types: dict[str, str] = field(default_factory=dict)
    consumer_key: str | None = None
    requester: str | None = None
    notes: list[str] = field(default_factory=list)


def _exists(exc: RegistryError) -> bool:
    return exc.status == 409 and str(exc.problem.get("type", "")).endswith("/already-exists")


def ensure(client: RegistryClient, path: str, body: dict[str, Any]) -> tuple[Any, bool]:
    """Create an entity, or return the existing one; returns (entity, created)."""
    try:
        return client.post(path, body), True
    except RegistryError as exc:
        if not _exists(exc):
            raise
    return client.get(f"{path}/{body['id']}"), False


def _extension(contracts_dir: Path, topic: str) -> dict[str, Any]:
    files = version_files(contracts_dir / "topics" / topic)
    schema = json.loads(files[-1].read_text(encoding="utf-8"))
    found = schema.get("x-lgsp")
    return found if isinstance(found, dict) else {}


def department_topics(contracts_dir: Path, department: str) -> list[str]:
    """Return the topics a department owns according to the contracts' `x-lgsp.owner`."""
    return [
        t
        for t in contract_topics(contracts_dir)
        if _extension(contracts_dir, t).get("owner") == department
    ]


def seed_sources(seed_file: Path) -> dict[str, str]:
    """Return the source id of each topic in the seed file (for offline runs)."""
    seed = json.loads(seed_file.read_text(encoding="utf-8"))
    return {str(s["topic"]): str(s["id"]) for s in seed["sources"]}


def _usable(key: dict[str, Any], now: datetime) -> bool:
    expires = key.get("expires_at")
    alive = expires is None or datetime.fromisoformat(str(expires)) > now
    return key.get("revoked_at") is None and alive


def source_key(client: RegistryClient, source_id: str, created: bool) -> str:
    """Return a fresh key: a new one for a new source, else its newest usable key rotated."""
    if not created:
        keys = client.get(f"/v1/sources/{source_id}/keys")
        usable = [k for k in keys if _usable(k, datetime.now(UTC))]
        if usable:
            newest = max(usable, key=lambda k: str(k["created_at"]))
            body = {"grace_period_s": ROTATION_GRACE_S}
            return str(client.post(f"/v1/keys/{newest['id']}/rotate", body)["key"])
    return str(client.post(f"/v1/sources/{source_id}/keys")["key"])


def push_contracts(client: RegistryClient, contracts_dir: Path, topic: str) -> None:
    """Register every contract version of a topic (identical pushes change nothing)."""
    for file in version_files(contracts_dir / "topics" / topic):
        body, _ = load_contract(file)
        client.send("POST", f"/v1/subjects/{topic}/versions", body)


class Onboarding:
    """Registers departments with the registry over HTTP."""

    def __init__(
        self,
        client: RegistryClient,
        contracts_dir: Path,
        seed_file: Path,
        say: Callable[[str], None] = log.info,
    ) -> None:
        self._client = client
        self._contracts = contracts_dir
        self._seed = json.loads(seed_file.read_text(encoding="utf-8"))
        self._say = say

    def organisation(self, owner: str) -> dict[str, Any]:
        """Return the organisation of an owner (department), creating it if needed."""
        entry = next(o for o in self._seed["organisations"] if o["owner"] == owner)
        body = {k: v for k, v in entry.items() if k != "owner"}
        found, _ = ensure(self._client, "/v1/organisations", body)
        organisation: dict[str, Any] = found
        return organisation

    def department(self, name: str, into: Onboarded, *, keys: bool = True) -> None:
        """Onboard one department: organisation, sources, contracts and one key per source."""
        organisation = self.organisation(name)
        for topic in department_topics(self._contracts, name):
            entry = next(s for s in self._seed["sources"] if s["topic"] == topic)
            extension = _extension(self._contracts, topic)
            body = {**entry, "organisation_id": organisation["id"],
                    "cadence": extension.get("cadence", "realtime")}  # fmt: skip
            _, created = ensure(self._client, "/v1/sources", body)
            push_contracts(self._client, self._contracts, topic)
            into.sources[topic] = entry["id"]
            into.event_types[topic] = str(extension.get("eventType", f"vn.gov.lgsp.{topic}"))
            if keys:
                into.keys[topic] = source_key(self._client, entry["id"], created)
            self._say(f"{name}: source {entry['id']} on {topic} ({'new' if created else 'kept'})")

    def reader(self, link: PopulationLink, into: Onboarded) -> None:
        """Register Health as an approved reader of the population resource and get its key."""
        health = self.organisation("health")
        into.requester = str(health.get("code") or health["id"])
        # The adapter publishes the outcomes as the police's registered source (no key needed).
        self.department("population", into, keys=False)
        self._client.send("POST", f"/v1/subjects/{link.resource}/versions",
                          contract_body(link.resource))  # fmt: skip
        body = {"id": link.consumer_id, "organisation_id": health["id"], "topic": link.resource,
                "purpose": link.purpose, "fields": CONSUMER_FIELDS,
                "name": "Kiểm tra thẻ BHYT bằng CCCD (health-insurance check by CCCD)"}  # fmt: skip
        consumer, _ = ensure(self._client, "/v1/consumers", body)
        if consumer.get("status") != "approved":
            self._client.post(f"/v1/consumers/{link.consumer_id}/approve")
        into.consumer_key = str(self._client.post(f"/v1/consumers/{link.consumer_id}/keys")["key"])
        self._say(f"health: reader {link.consumer_id} of {link.resource} approved")

    def run(self, names: Iterable[str], link: PopulationLink | None) -> Onboarded:
        """Onboard the departments (and Health's population reader when `link` is given)."""
        into = Onboarded()
        for name in names:
            self.department(name, into)
        if link is not None:
            try:
                self.reader(link, into)
            except RegistryError as exc:
                into.notes.append(f"population reader not registered: {exc.describe()}")
                self._say(into.notes[-1])
        return into
