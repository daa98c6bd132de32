"""The data catalogue (Danh mục dữ liệu): what an integrator of another department reads first.

Organisations, their sources and topics, each contract version with its fields and their
descriptions (from the JSON Schema's `properties`), the cadence, the KPIs built on the topic and
the approved consumers with what they read. Built from the registry's own rows, so it is always
what the registry enforces.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from pydantic import BaseModel

from lgsp_registry.domain.schema_facts import describe_types, type_set


class CatalogueField(BaseModel):
    """One payload field of a contract version."""

    name: str
    type: str
    required: bool
    description: str = ""


class CatalogueContract(BaseModel):
    """One contract version and its fields."""

    version: int
    id: str
    title: str = ""
    description: str = ""
    created_at: datetime
    fields: list[CatalogueField]


class CatalogueSource(BaseModel):
    """A source publishing to the topic."""

    id: str
    name: str
    organisation_id: str
    cadence: str
    status: str


class CatalogueKpi(BaseModel):
    """A KPI computed from the topic."""

    id: str
    title_vi: str
    title_en: str
    version: int
    fields: list[str]


class CatalogueConsumer(BaseModel):
    """An approved consumer of the topic: who, why, which fields."""

    id: str
    name: str
    organisation_id: str
    purpose: str
    fields: list[str]


class CatalogueTopic(BaseModel):
    """A topic: its owner, sources, contract versions, KPIs and consumers."""

    topic: str
    owner_id: str | None
    sources: list[CatalogueSource]
    contracts: list[CatalogueContract]
    kpis: list[CatalogueKpi]
    consumers: list[CatalogueConsumer]


class CatalogueOrganisation(BaseModel):
    """An organisation and the topics it owns."""

    id: str
    code: str
    name_vi: str
    name_en: str
    topics: list[str]


class Catalogue(BaseModel):
    """The whole catalogue."""

    generated_at: datetime
    organisations: list[CatalogueOrganisation]
    topics: list[CatalogueTopic]


def _type_of(node: Any) -> str:
    if not isinstance(node, Mapping):
        return "any type"
    text = describe_types(type_set(node))
    if isinstance(node.get("enum"), list):
        text += ": " + ", ".join(str(v) for v in node["enum"])
    elif isinstance(node.get("format"), str):
        text += f" ({node['format']})"
    return text


def describe_fields(schema: Any) -> list[CatalogueField]:
    """List a contract's top-level payload fields, with type, presence and description."""
    if not isinstance(schema, Mapping) or not isinstance(schema.get("properties"), Mapping):
        return []
    required = set(schema.get("required") or [])
    return [
        CatalogueField(
            name=name,
            type=_type_of(node),
            required=name in required,
            description=str(node.get("description", "")) if isinstance(node, Mapping) else "",
        )
        for name, node in schema["properties"].items()
    ]
