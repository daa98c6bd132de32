"""Reading the KPI seed from its YAML files at start-up, checked against the contracts."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence, Set
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


def read_kpi_files(directory: Path) -> list[tuple[str, str]]:
    """Return (file name, YAML text) of every `*.yaml` file in the folder, in name order."""
    files = sorted(directory.glob("*.yaml"))
    if not files:
        raise CatalogueError(f"{directory}: no KPI definitions (*.yaml) found")
    return [(str(path), path.read_text(encoding="utf-8")) for path in files]


def _check_file_names(
    documents: Sequence[tuple[str, str]], catalogue: Sequence[KpiDefinition]
) -> None:
    for (name, _), kpi in zip(documents, catalogue, strict=True):
        stem = Path(name).stem
        if stem != kpi.id:
            raise CatalogueError(f"{name}: id: {kpi.id!r} must match the file name {stem!r}")


def load_catalogue(
    directory: Path,
    known_topics: Set[str],
    known_fields: Mapping[str, Set[str]] | None = None,
) -> list[KpiDefinition]:
    """Load every `*.yaml` KPI file in a directory, in name order, and validate the catalogue."""
    documents = read_kpi_files(directory)
    catalogue = parse_catalogue(documents, known_topics, known_fields)
    _check_file_names(documents, catalogue)
    return catalogue


def load_kpis(
    kpis_dir: Path, contracts_dir: Path, consumed: Sequence[str], only_consumed: bool
) -> list[KpiDefinition]:
    """Load and validate the KPI seed; with `only_consumed`, skip KPIs of other topics.

    A KPI's topic need not be known yet (it may be registered later); its fields are checked
    against the topic's contract when the contracts folder has one.
    """
    documents = read_kpi_files(kpis_dir)
    if only_consumed:
        kept = [(n, t) for n, t in documents if parse_definition(n, t).topic in consumed]
        if len(kept) < len(documents):
            log.info("KPIs of topics not consumed are left out", extra={"kept": len(kept)})
        documents = kept
    named = {parse_definition(n, t).topic for n, t in documents}
    known = sorted(set(contract_topics(contracts_dir)) | set(consumed) | named)
    catalogue = parse_catalogue(documents, set(known), contract_fields(contracts_dir, known))
    _check_file_names(documents, catalogue)
    return catalogue
