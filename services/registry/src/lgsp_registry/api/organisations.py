"""Routes for organisations, sources and their keys."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response

from lgsp_registry.adapters import repository as repo
from lgsp_registry.api.deps import WRITE_PROBLEMS, CallerDep, ContextDep, problems
from lgsp_registry.api.visibility import IncludeDeletedDep
from lgsp_registry.domain.entities import (
    ApiKeyCreated,
    ApiKeyInfo,
    Organisation,
    OrganisationIn,
    Source,
    SourceIn,
    SourcePatch,
)
from lgsp_registry.service import organisations as service

router = APIRouter(prefix="/v1", tags=["organisations and sources"])


@router.get("/organisations", response_model=list[Organisation])
async def list_organisations(ctx: ContextDep) -> list[Organisation]:
    """List the organisations (Danh sách cơ quan)."""
    async with ctx.store.read() as conn:
        return await repo.all_organisations(conn)


@router.post(
    "/organisations", status_code=201, response_model=Organisation, responses=WRITE_PROBLEMS
)
async def create_organisation(
    body: OrganisationIn, ctx: ContextDep, who: CallerDep
) -> Organisation:
    """Register an organisation (operator only)."""
    return await service.create_organisation(ctx, who, body)


@router.get("/organisations/{org_id}", response_model=Organisation, responses=problems(404))
async def get_organisation(org_id: str, ctx: ContextDep) -> Organisation:
    """Return one organisation."""
    return await service.get_organisation(ctx, org_id)


@router.post(
    "/organisations/{org_id}/keys",
    status_code=201,
    response_model=ApiKeyCreated,
    responses=WRITE_PROBLEMS,
)
async def create_organisation_key(org_id: str, ctx: ContextDep, who: CallerDep) -> ApiKeyCreated:
    """Issue the organisation's administration key; the answer is the only time it is shown."""
    return await service.create_organisation_key(ctx, who, org_id)


@router.get("/sources", response_model=list[Source], responses=problems(401, 403))
async def list_sources(
    ctx: ContextDep, deleted: IncludeDeletedDep, topic: str | None = None
) -> list[Source]:
    """List the data sources, optionally of one topic (Danh sách nguồn dữ liệu)."""
    async with ctx.store.read() as conn:
        return await repo.all_sources(conn, topic, include_deleted=deleted)


@router.post("/sources", status_code=201, response_model=Source, responses=WRITE_PROBLEMS)
async def create_source(body: SourceIn, ctx: ContextDep, who: CallerDep) -> Source:
    """Register a data source (operator or its organisation)."""
    return await service.create_source(ctx, who, body)


@router.get("/sources/{source_id}", response_model=Source, responses=problems(404))
async def get_source(source_id: str, ctx: ContextDep) -> Source:
    """Return one source."""
    return await service.get_source(ctx, source_id)


@router.patch("/sources/{source_id}", response_model=Source, responses=WRITE_PROBLEMS)
async def update_source(
    source_id: str, body: SourcePatch, ctx: ContextDep, who: CallerDep
) -> Source:
    """Rename, change the cadence, suspend or reactivate a source."""
    return await service.update_source(ctx, who, source_id, body)


@router.delete("/sources/{source_id}", status_code=204, responses=WRITE_PROBLEMS)
async def delete_source(
    source_id: str,
    ctx: ContextDep,
    who: CallerDep,
    force: Annotated[
        bool, Query(description="Delete even if the source published in the last hour")
    ] = False,
) -> Response:
    """Delete a source (recoverably): it and its keys are suspended until the grace period ends.

    A source that published in the last hour is only deleted with `force=true` (409 otherwise,
    naming when it last published). Xóa nguồn dữ liệu (có thể khôi phục).
    """
    await service.delete_source(ctx, who, source_id, force)
    return Response(status_code=204)


@router.post(
    "/sources/{source_id}/restore",
    response_model=Source,
    responses=problems(401, 403, 404, 409, 410),
)
async def restore_source(source_id: str, ctx: ContextDep, who: CallerDep) -> Source:
    """Undo a source's delete within the grace period, with the keys the delete suspended
    (operator only; 410 after the grace period). Khôi phục nguồn dữ liệu."""
    return await service.restore_source(ctx, who, source_id)


@router.post(
    "/sources/{source_id}/keys",
    status_code=201,
    response_model=ApiKeyCreated,
    responses=WRITE_PROBLEMS,
)
async def create_source_key(source_id: str, ctx: ContextDep, who: CallerDep) -> ApiKeyCreated:
    """Issue a publishing key for the source; the answer is the only time it is shown."""
    return await service.create_source_key(ctx, who, source_id)


@router.get("/sources/{source_id}/keys", response_model=list[ApiKeyInfo], responses=WRITE_PROBLEMS)
async def list_source_keys(source_id: str, ctx: ContextDep, who: CallerDep) -> list[ApiKeyInfo]:
    """List the source's keys (never a secret or a hash)."""
    return await service.source_keys(ctx, who, source_id)
