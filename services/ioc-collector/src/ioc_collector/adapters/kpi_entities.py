"""KPI definitions from the registry (entities of kind `kpi` on `lgsp.registry`).

An entity's data is the KPI definition (the YAML format of `kpis/`, as JSON) plus the
registry's own fields (`version`, `status`, timestamps). A definition the collector cannot use
(it breaks the format, or reads a field the topic's contract does not declare) is logged,
counted and skipped: one bad definition never stops the collector.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from ioc_collector.domain.definitions import KpiDefinition, top_level_name

log = logging.getLogger(__name__)
# The registry's fields beside the definition itself.
REGISTRY_FIELDS = frozenset(
    {"version", "status", "created_at", "updated_at", "changed_at", "organisation_id",
     "created_by", "updated_by"}
)  # fmt: skip
ContractFields = Callable[[str], set[str] | None]


@dataclass(frozen=True, slots=True)
class RegistryKpis:
    """The usable definitions, and why each other one was skipped (id → reason)."""

    kpis: list[KpiDefinition] = field(default_factory=list)
    invalid: dict[str, str] = field(default_factory=dict)


def is_active(data: Mapping[str, Any]) -> bool:
    """Tell whether an entity is in force (no status means active)."""
    return bool(data.get("status", "active") == "active")


def _definition(data: Mapping[str, Any]) -> dict[str, Any]:
    nested = data.get("definition")
    if isinstance(nested, dict):
        return dict(nested)
    return {k: v for k, v in data.items() if k not in REGISTRY_FIELDS}


def parse_kpi_entity(data: Mapping[str, Any], contract_fields: ContractFields) -> KpiDefinition:
    """Return the definition an entity carries; ValueError naming what is wrong."""
    try:
        kpi = KpiDefinition.model_validate(_definition(data))
    except ValidationError as exc:
        problems = "; ".join(
            f"{'/'.join(str(p) for p in item['loc']) or '(definition)'}: {item['msg']}"
            for item in exc.errors()
        )
        raise ValueError(problems) from None
    known = contract_fields(kpi.topic)
    if known is not None:
        unknown = sorted(ref for ref in kpi.fields() if top_level_name(ref) not in known)
        if unknown:
            raise ValueError(f"fields not in the contract of {kpi.topic}: {unknown}")
    return kpi


def registry_kpis(
    entities: Iterable[Mapping[str, Any]], contract_fields: ContractFields
) -> RegistryKpis:
    """Return the active, usable KPI definitions of the registry, in id order."""
    found = RegistryKpis()
    for data in sorted(entities, key=lambda d: str(d.get("id"))):
        if not is_active(data):
            continue
        entity_id = str(data.get("id"))
        try:
            found.kpis.append(parse_kpi_entity(data, contract_fields))
        except ValueError as exc:
            found.invalid[entity_id] = str(exc)
    return found


def fields_of(schema: Any) -> set[str] | None:
    """Return the top-level payload fields a contract schema declares (None: unknown)."""
    properties = schema.get("properties") if isinstance(schema, dict) else None
    return set(properties) if isinstance(properties, dict) else None
