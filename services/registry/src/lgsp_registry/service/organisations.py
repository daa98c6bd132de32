"""Organisations (departments) and data sources, with their keys."""

from __future__ import annotations

from datetime import timedelta

from lgsp_registry.adapters import repository as repo
from lgsp_registry.adapters.store import utcnow
from lgsp_registry.adapters.tables import organisations, sources
from lgsp_registry.adapters.traffic import TrafficUnknown
from lgsp_registry.domain.access import Principal, acts_for
from lgsp_registry.domain.entities import (
    ApiKeyCreated,
    ApiKeyInfo,
    Organisation,
    OrganisationIn,
    Source,
    SourceIn,
    SourcePatch,
    SourceStatus,
)
from lgsp_registry.service import deletions, keys
from lgsp_registry.service.context import Context
from lgsp_registry.service.errors import conflict, forbidden, not_found


async def create_organisation(ctx: Context, who: Principal, body: OrganisationIn) -> Organisation:
    """Register an organisation (operator only)."""
    if not who.is_operator:
        raise forbidden("only the operator registers organisations")
    async with ctx.store.write() as tx:
        if await repo.organisation(tx.conn, body.id) is not None:
            raise conflict(f"organisation {body.id!r} already exists", "already-exists")
        same_code = await repo.organisation_by_code(tx.conn, body.code)
        if same_code is not None:
            raise conflict(f"agency code {body.code} belongs to {same_code.id!r}", "already-exists")
        org = Organisation(**body.model_dump(), created_at=tx.now)
        await repo.insert(tx.conn, organisations, org, version=1)
        await tx.emit("organisation", org.id, 1, org.model_dump(mode="json"))
    return org


async def get_organisation(ctx: Context, org_id: str) -> Organisation:
    """Return one organisation."""
    async with ctx.store.read() as conn:
        found = await repo.organisation(conn, org_id)
    if found is None:
        raise not_found("organisation", org_id)
    return found


async def create_organisation_key(ctx: Context, who: Principal, org_id: str) -> ApiKeyCreated:
    """Issue an organisation's administration key (operator, or the organisation itself)."""
    if not acts_for(who, org_id):
        raise forbidden(f"{who.name} may not issue keys for organisation {org_id!r}")
    async with ctx.store.write() as tx:
        if await repo.organisation(tx.conn, org_id) is None:
            raise not_found("organisation", org_id)
        return await keys.issue(tx, organisation_id=org_id)


async def create_source(ctx: Context, who: Principal, body: SourceIn) -> Source:
    """Register a source for an organisation on a topic nobody else owns."""
    if not acts_for(who, body.organisation_id):
        raise forbidden(f"{who.name} may not add sources to {body.organisation_id!r}")
    async with ctx.store.write() as tx:
        if await repo.organisation(tx.conn, body.organisation_id) is None:
            raise not_found("organisation", body.organisation_id)
        if await repo.source(tx.conn, body.id) is not None:
            raise conflict(f"source {body.id!r} already exists", "already-exists")
        owner = await repo.topic_owner(tx.conn, body.topic)
        if owner is not None and owner != body.organisation_id:
            raise conflict(f"topic {body.topic} belongs to organisation {owner!r}", "topic-owned")
        source = Source(**body.model_dump(), status=SourceStatus.ACTIVE, created_at=tx.now)
        await repo.insert(tx.conn, sources, source, version=1)
        await tx.emit("source", source.id, 1, source.model_dump(mode="json"))
    return source


async def get_source(ctx: Context, source_id: str) -> Source:
    """Return one source."""
    async with ctx.store.read() as conn:
        found = await repo.source(conn, source_id)
    if found is None:
        raise not_found("source", source_id)
    return found


async def update_source(ctx: Context, who: Principal, source_id: str, body: SourcePatch) -> Source:
    """Rename a source, change its cadence, suspend or reactivate it."""
    changes = body.model_dump(exclude_none=True)
    async with ctx.store.write() as tx:
        source = _owned(who, await repo.source(tx.conn, source_id), source_id)
        deletions.refuse_if_deleted("source", source)
        updated = source.model_copy(update=changes)
        if updated == source:
            return source
        version = await repo.update(tx.conn, sources, source_id, **changes)
        await tx.emit("source", source_id, version, updated.model_dump(mode="json"))
    return updated


async def delete_source(ctx: Context, who: Principal, source_id: str, force: bool = False) -> None:
    """Soft-delete a source and suspend its keys; one with recent traffic needs `force`."""
    async with ctx.store.read() as conn:
        found = _owned(who, await repo.source(conn, source_id), source_id)
    if found.deleted_at is not None:
        return  # deleting again changes nothing (and does not extend the grace period)
    if not force:
        await _refuse_if_live(ctx, found)
    async with ctx.store.write() as tx:
        source = _owned(who, await repo.source(tx.conn, source_id), source_id)
        if source.deleted_at is None:
            await deletions.soft_delete(tx, who, sources, "source", source)


TRAFFIC_WINDOW = timedelta(hours=1)


async def _refuse_if_live(ctx: Context, source: Source) -> None:
    if ctx.traffic is None:
        return
    since = utcnow() - TRAFFIC_WINDOW
    try:
        last = await ctx.traffic.last_event_at(source.topic, source.id, since)
    except TrafficUnknown as exc:
        raise conflict(
            f"could not tell whether source {source.id!r} published in the last hour ({exc}); "
            "delete with ?force=true to go ahead",
            "traffic-unknown",
        ) from exc
    if last is not None:
        raise conflict(
            f"source {source.id!r} last published at {last.isoformat()}, within the last hour; "
            "delete with ?force=true to go ahead",
            "recent-traffic",
        )


async def restore_source(ctx: Context, who: Principal, source_id: str) -> Source:
    """Undo a source's delete within the grace period, with the keys it suspended."""
    async with ctx.store.write() as tx:
        source = await repo.source(tx.conn, source_id)
        if source is None:
            raise not_found("source", source_id)
        deletions.check_restorable(ctx, who, "source", source, tx.now)
        restored: Source = await deletions.restore(
            tx, sources, "source", source, SourceStatus.ACTIVE
        )
    return restored


async def create_source_key(ctx: Context, who: Principal, source_id: str) -> ApiKeyCreated:
    """Issue a key a source publishes with (operator or its organisation)."""
    async with ctx.store.write() as tx:
        source = _owned(who, await repo.source(tx.conn, source_id), source_id)
        deletions.refuse_if_deleted("source", source)
        return await keys.issue(tx, source_id=source_id)


async def source_keys(ctx: Context, who: Principal, source_id: str) -> list[ApiKeyInfo]:
    """List a source's keys, without secrets or hashes."""
    async with ctx.store.read() as conn:
        _owned(who, await repo.source(conn, source_id), source_id)
        rows = await repo.keys_of(conn, "source_id", source_id)
    return [row.info() for row in rows]


def _owned(who: Principal, source: Source | None, source_id: str) -> Source:
    if source is None:
        raise not_found("source", source_id)
    if not acts_for(who, source.organisation_id):
        raise forbidden(f"{who.name} may not manage source {source_id!r}")
    return source
