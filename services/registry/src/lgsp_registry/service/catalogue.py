"""The catalogue and the AsyncAPI document, read from the registry in one connection."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from lgsp_registry.adapters import kpi_repository as kpi_repo
from lgsp_registry.adapters import repository as repo
from lgsp_registry.adapters.store import utcnow
from lgsp_registry.domain.asyncapi import RegisteredTopic, build_asyncapi
from lgsp_registry.domain.catalogue import (
    Catalogue,
    CatalogueConsumer,
    CatalogueContract,
    CatalogueKpi,
    CatalogueOrganisation,
    CatalogueSource,
    CatalogueTopic,
    describe_fields,
)
from lgsp_registry.domain.entities import Consumer, ConsumerStatus, Contract, Organisation, Source
from lgsp_registry.domain.kpi_entities import Kpi
from lgsp_registry.domain.kpi_rules import read_fields
from lgsp_registry.service.context import Context


@dataclass(frozen=True)
class Snapshot:
    """Every row the catalogue shows, read together."""

    organisations: list[Organisation]
    sources: list[Source]
    contracts: dict[str, list[Contract]]
    kpis: list[Kpi]
    consumers: list[Consumer]

    def topics(self) -> list[str]:
        """Return every topic with a source or a contract."""
        return sorted({s.topic for s in self.sources} | set(self.contracts))


async def _snapshot(conn: AsyncConnection) -> Snapshot:
    subjects = await repo.all_subjects(conn)
    return Snapshot(
        organisations=await repo.all_organisations(conn),
        sources=await repo.all_sources(conn),
        contracts={s: await repo.contracts_of(conn, s) for s in subjects},
        kpis=await kpi_repo.all_kpis(conn),
        consumers=await repo.all_consumers(conn, status=ConsumerStatus.APPROVED),
    )


def _contract(contract: Contract) -> CatalogueContract:
    schema: dict[str, Any] = contract.schema_
    return CatalogueContract(
        version=contract.version,
        id=contract.id,
        title=str(schema.get("title", "")),
        description=str(schema.get("description", "")),
        created_at=contract.created_at,
        fields=describe_fields(schema),
    )


def _topic(snap: Snapshot, topic: str) -> CatalogueTopic:
    sources = [s for s in snap.sources if s.topic == topic]
    return CatalogueTopic(
        topic=topic,
        owner_id=sources[0].organisation_id if sources else None,
        sources=[
            CatalogueSource(
                id=s.id,
                name=s.name,
                organisation_id=s.organisation_id,
                cadence=str(s.cadence),
                status=str(s.status),
            )
            for s in sources
        ],
        contracts=[_contract(c) for c in reversed(snap.contracts.get(topic, []))],
        kpis=[
            CatalogueKpi(
                id=k.id,
                title_vi=str(k.definition.get("title_vi", "")),
                title_en=str(k.definition.get("title_en", "")),
                version=k.version,
                fields=read_fields(k.definition),
            )
            for k in snap.kpis
            if k.topic == topic
        ],
        consumers=[
            CatalogueConsumer(
                id=c.id,
                name=c.name,
                organisation_id=c.organisation_id,
                purpose=c.purpose,
                fields=c.fields,
            )
            for c in snap.consumers
            if c.topic == topic
        ],
    )


async def catalogue(ctx: Context) -> Catalogue:
    """Return the data catalogue as the registry holds it now."""
    async with ctx.store.read() as conn:
        snap = await _snapshot(conn)
    topics = [_topic(snap, t) for t in snap.topics()]
    owned: dict[str, list[str]] = {}
    for entry in topics:
        if entry.owner_id:
            owned.setdefault(entry.owner_id, []).append(entry.topic)
    return Catalogue(
        generated_at=utcnow(),
        organisations=[
            CatalogueOrganisation(
                **o.model_dump(exclude={"created_at"}), topics=owned.get(o.id, [])
            )
            for o in snap.organisations
        ],
        topics=topics,
    )


async def asyncapi(ctx: Context) -> dict[str, Any]:
    """Return the AsyncAPI 3 document of every registered topic (latest contract each)."""
    async with ctx.store.read() as conn:
        snap = await _snapshot(conn)
    names = {o.id: f"{o.name_vi} ({o.name_en})" for o in snap.organisations}
    entries = []
    for topic in snap.topics():
        sources = [s for s in snap.sources if s.topic == topic]
        history = snap.contracts.get(topic, [])
        latest: list[Contract | None] = [history[-1] if history else None]
        entries.append(
            RegisteredTopic(
                topic=topic,
                owner=names.get(sources[0].organisation_id) if sources else None,
                cadence=str(sources[0].cadence) if sources else None,
                version=latest[0].version if latest[0] else None,
                schema=latest[0].schema_ if latest[0] else None,
            )
        )
    return build_asyncapi(entries)
