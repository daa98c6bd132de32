"""Loading the KPI catalogue at start-up, checked against the topics and their contracts."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

from ioc_collector.domain.definitions import (
    CatalogueError,
    KpiDefinition,
    parse_catalogue,
    parse_definition,
)
from lgsp_common.topics import contract_topics, load_contract

log = logging.getLogger(__name__)


def contract_fields(contracts_dir: Path, topics: Sequence[str]) -> dict[str, set[str]]:
    """Return the top-level payload fields each topic's contract declares."""
    found: dict[str, set[str]] = {}
    for topic in topics:
        schema = load_contract(contracts_dir, topic)
        properties = schema.get("properties") if schema else None
        if isinstance(properties, dict):
            found[topic] = set(properties)
    return found


def load_kpis(
    kpis_dir: Path, contracts_dir: Path, consumed: Sequence[str], only_consumed: bool
) -> list[KpiDefinition]:
    """Load and validate the KPI files; with `only_consumed`, skip KPIs of other topics."""
    files = sorted(kpis_dir.glob("*.yaml"))
    if not files:
        raise CatalogueError(f"{kpis_dir}: no KPI definitions (*.yaml) found")
    documents = [(str(path), path.read_text(encoding="utf-8")) for path in files]
    if only_consumed:
        kept = [(n, t) for n, t in documents if parse_definition(n, t).topic in consumed]
        if len(kept) < len(documents):
            log.info("KPIs of topics not consumed are left out", extra={"kept": len(kept)})
        documents = kept
    known = sorted(set(contract_topics(contracts_dir)) | set(consumed))
    catalogue = parse_catalogue(documents, set(known), contract_fields(contracts_dir, known))
    for (name, _), kpi in zip(documents, catalogue, strict=True):
        if Path(name).stem != kpi.id:
            raise CatalogueError(f"{name}: id: {kpi.id!r} must match the file name")
    return catalogue
