"""KPIs as registry data: check (dry run), create, new version, read, delete.

A definition is checked for its format, then against the latest contract version of its topic
(every refusal a 422 naming the place by JSON Pointer into the KPI body). Writes take the
operator token, commit with their `kpi` change event (`lgsp.registry`), and the live KPIs of a
topic count as consumers of the fields they read when a new contract version is checked.
Pushing a definition identical to the registered one changes nothing (seeding is idempotent).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from lgsp_registry.adapters import kpi_repository as kpi_repo
from lgsp_registry.adapters import repository as repo
from lgsp_registry.domain.access import Principal
from lgsp_registry.domain.contract_rules import Violation
from lgsp_registry.domain.entities import Contract
from lgsp_registry.domain.kpi_entities import Kpi, KpiCheck, KpiStatus
from lgsp_registry.domain.kpi_rules import contract_violations, format_violations, read_fields
from lgsp_registry.domain.normalize import canonical_json
from lgsp_registry.service.context import Context
from lgsp_registry.service.errors import conflict, forbidden, invalid, not_found

KIND = "kpi"


def _refuse(violations: list[Violation]) -> None:
    if violations:
        raise invalid("The KPI definition cannot be used", violations, "invalid-kpi")


async def _judge(conn: AsyncConnection, body: Mapping[str, Any]) -> Contract:
    """Refuse (422) a definition that breaks the format or its topic's latest contract."""
    _refuse(format_violations(body))
    topic = str(body["topic"])
    history = await repo.contracts_of(conn, topic)
    if not history:
        message = f"no contract is registered for topic {topic!r}"
        _refuse([Violation("/topic", "kpi_unknown_topic", message)])
    latest = history[-1]
    _refuse(contract_violations(body, latest.schema_))
    return latest


def _same(kpi: Kpi | None, body: Mapping[str, Any]) -> bool:
    return kpi is not None and canonical_json(kpi.definition) == canonical_json(dict(body))


def _operator(who: Principal) -> None:
    if not who.is_operator:
        raise forbidden("only the operator registers, changes or deletes KPIs")


async def check(ctx: Context, body: Mapping[str, Any]) -> KpiCheck:
    """Answer whether a definition would be accepted (no write); 422 with every reason if not."""
    async with ctx.store.read() as conn:
        contract = await _judge(conn, body)
        existing = await kpi_repo.kpi(conn, str(body["id"]))
    return KpiCheck(
        id=str(body["id"]),
        topic=str(body["topic"]),
        valid=True,
        contract_version=contract.version,
        fields=read_fields(body),
        registered_version=existing.version if _same(existing, body) and existing else None,
    )


async def _write(
    ctx: Context, kpi_id: str, body: Mapping[str, Any], *, create_only: bool
) -> tuple[Kpi, bool]:
    async with ctx.store.write() as tx:
        await _judge(tx.conn, body)
        existing = await kpi_repo.kpi(tx.conn, kpi_id)
        if existing is not None and _same(existing, body):
            return existing, False
        if existing is not None and create_only:
            raise conflict(f"KPI {kpi_id!r} already exists; PUT a new version", "already-exists")
        kpi = Kpi(
            id=kpi_id,
            topic=str(body["topic"]),
            version=existing.version + 1 if existing else 1,
            status=KpiStatus.ACTIVE,
            definition=dict(body),
            created_at=existing.created_at if existing else tx.now,
            updated_at=tx.now,
        )
        await kpi_repo.save(tx.conn, kpi, new=existing is None)
        await tx.emit(KIND, kpi.id, kpi.version, kpi.model_dump(mode="json"))
    return kpi, True


async def create(ctx: Context, who: Principal, body: Mapping[str, Any]) -> tuple[Kpi, bool]:
    """Register a new KPI (operator); the same definition again returns it unchanged."""
    _operator(who)
    _refuse(format_violations(body))
    return await _write(ctx, str(body["id"]), body, create_only=True)


async def put(
    ctx: Context, who: Principal, kpi_id: str, body: Mapping[str, Any]
) -> tuple[Kpi, bool]:
    """Register a KPI or a new version of it (operator); returns (kpi, changed)."""
    _operator(who)
    _refuse(format_violations(body))
    if body["id"] != kpi_id:
        message = f"the body's id {body['id']!r} is not the path's {kpi_id!r}"
        _refuse([Violation("/id", "kpi_id_mismatch", message)])
    return await _write(ctx, kpi_id, body, create_only=False)


async def get(ctx: Context, kpi_id: str) -> Kpi:
    """Return one KPI."""
    async with ctx.store.read() as conn:
        found = await kpi_repo.kpi(conn, kpi_id)
    if found is None:
        raise not_found("KPI", kpi_id)
    return found


async def listing(ctx: Context, topic: str | None) -> list[Kpi]:
    """Return every KPI, or those of one topic."""
    async with ctx.store.read() as conn:
        return await kpi_repo.all_kpis(conn, topic)


async def delete(ctx: Context, who: Principal, kpi_id: str) -> None:
    """Delete a KPI: collectors stop serving it (a delete event, then a tombstone)."""
    _operator(who)
    async with ctx.store.write() as tx:
        found = await kpi_repo.kpi(tx.conn, kpi_id)
        if found is None:
            raise not_found("KPI", kpi_id)
        await kpi_repo.delete(tx.conn, kpi_id)
        await tx.emit_delete(KIND, kpi_id, found.version + 1)
