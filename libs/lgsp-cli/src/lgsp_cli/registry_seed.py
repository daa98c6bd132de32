"""`lgsp registry seed`: the departments, sources and contracts of contracts/, idempotently.

Organisations and sources come from `services/registry/seed.json`; every `v<n>.schema.json`
under `contracts/topics/` is pushed in version order with its examples; then every KPI file of
the collector's seed folder (`services/ioc-collector/kpis/*.yaml`, read as data) is pushed.
Running it again changes nothing: existing organisations and sources are kept, identical
contracts return their version, identical KPIs keep theirs.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

from lgsp_cli.kpi_cli import load_kpi_file, push_kpi
from lgsp_cli.registry_client import RegistryClient, RegistryError, load_contract, version_files
from lgsp_common.settings import repo_root
from lgsp_common.topics import contract_topics


def default_seed_file() -> Path:
    """Return the seed file of the repository."""
    return repo_root() / "services" / "registry" / "seed.json"


def default_kpis_dir() -> Path:
    """Return the collector's KPI seed folder of the repository."""
    return repo_root() / "services" / "ioc-collector" / "kpis"


def _ensure(client: RegistryClient, path: str, body: dict[str, Any], tally: Counter[str]) -> None:
    kind = path.rsplit("/", 1)[-1]
    try:
        client.post(path, body)
    except RegistryError as exc:
        if exc.status != 409 or not str(exc.problem.get("type", "")).endswith("/already-exists"):
            raise
        existing = client.get(f"{path}/{body['id']}")
        clash = {k: v for k, v in body.items() if existing.get(k) != v}
        if clash:
            raise RegistryError(
                409,
                {
                    "title": f"{kind} {body['id']} exists but differs",
                    "detail": f"fields {sorted(clash)}",
                },
            ) from exc
        tally[f"{kind} kept"] += 1
        return
    tally[f"{kind} created"] += 1


def _extension(contracts_dir: Path, topic: str) -> dict[str, Any]:
    files = version_files(contracts_dir / "topics" / topic)
    schema = json.loads(files[-1].read_text(encoding="utf-8")) if files else {}
    extension = schema.get("x-lgsp")
    return extension if isinstance(extension, dict) else {}


def seed(
    client: RegistryClient, contracts_dir: Path, seed_file: Path, kpis_dir: Path | None = None
) -> Counter[str]:
    """Register the seed data; returns how many of each kind were created or kept.

    `kpis_dir` defaults to the collector's seed folder; a folder that does not exist is skipped.
    """
    kpis_dir = kpis_dir or default_kpis_dir()
    data = json.loads(seed_file.read_text(encoding="utf-8"))
    tally: Counter[str] = Counter()
    owners: dict[str, str] = {}
    for org in data["organisations"]:
        owners[org["owner"]] = org["id"]
        body = {k: v for k, v in org.items() if k != "owner"}
        _ensure(client, "/v1/organisations", body, tally)
    for source in data["sources"]:
        extension = _extension(contracts_dir, source["topic"])
        body = {
            **source,
            "organisation_id": owners[str(extension.get("owner"))],
            "cadence": extension.get("cadence", "realtime"),
        }
        _ensure(client, "/v1/sources", body, tally)
    for topic in contract_topics(contracts_dir):
        for file in version_files(contracts_dir / "topics" / topic):
            body, _ = load_contract(file)
            status, _ = client.send("POST", f"/v1/subjects/{topic}/versions", body)
            tally["contracts created" if status == 201 else "contracts kept"] += 1
    if kpis_dir.is_dir():
        for path in sorted(kpis_dir.glob("*.yaml")):
            _, changed = push_kpi(client, load_kpi_file(path))
            tally["kpis pushed" if changed else "kpis kept"] += 1
    return tally
