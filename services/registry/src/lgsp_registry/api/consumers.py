"""Routes for consumers, approvals and API keys."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Query, Response

from lgsp_registry.api.deps import WRITE_PROBLEMS, CallerDep, ContextDep, problems
from lgsp_registry.api.visibility import IncludeDeletedDep
from lgsp_registry.domain.entities import (
    ApiKeyCreated,
    ApiKeyInfo,
    Consumer,
    ConsumerIn,
    ConsumerStatus,
    RotateIn,
)
from lgsp_registry.service import consumers as service
from lgsp_registry.service import keys

router = APIRouter(prefix="/v1", tags=["consumers and keys"])


@router.get("/consumers", response_model=list[Consumer], responses=problems(401, 403))
async def list_consumers(
    ctx: ContextDep,
    who: CallerDep,
    deleted: IncludeDeletedDep,
    topic: str | None = None,
    status: ConsumerStatus | None = None,
    organisation: Annotated[
        str | None, Query(description="Only consumers of, or reading the topics of, this one")
    ] = None,
) -> list[Consumer]:
    """List consumers (Danh sách bên sử dụng dữ liệu): all for the operator or an auditor, else
    those of the caller's organisation or reading its topics; 401 without a credential."""
    query = service.ConsumerQuery(topic, status, organisation)
    return await service.listing(ctx, who, query, include_deleted=deleted)


@router.post("/consumers", status_code=201, response_model=Consumer, responses=WRITE_PROBLEMS)
async def request_access(body: ConsumerIn, ctx: ContextDep, who: CallerDep) -> Consumer:
    """Ask to read a topic's fields for a declared purpose; pending until the owner decides."""
    return await service.request(ctx, who, body)


@router.get("/consumers/{consumer_id}", response_model=Consumer, responses=problems(401, 403, 404))
async def get_consumer(consumer_id: str, ctx: ContextDep, who: CallerDep) -> Consumer:
    """Return one consumer (operator, auditor, or an organisation concerned)."""
    return await service.get(ctx, who, consumer_id)


@router.post("/consumers/{consumer_id}/approve", response_model=Consumer, responses=WRITE_PROBLEMS)
async def approve(consumer_id: str, ctx: ContextDep, who: CallerDep) -> Consumer:
    """Approve a consumer's access (the topic's owner or the operator)."""
    return await service.decide(ctx, who, consumer_id, ConsumerStatus.APPROVED)


@router.post("/consumers/{consumer_id}/reject", response_model=Consumer, responses=WRITE_PROBLEMS)
async def reject(consumer_id: str, ctx: ContextDep, who: CallerDep) -> Consumer:
    """Reject (or withdraw) a consumer's access (the topic's owner or the operator)."""
    return await service.decide(ctx, who, consumer_id, ConsumerStatus.REJECTED)


@router.delete("/consumers/{consumer_id}", status_code=204, responses=WRITE_PROBLEMS)
async def withdraw(consumer_id: str, ctx: ContextDep, who: CallerDep) -> Response:
    """Delete a consumer (recoverably): it and its keys are suspended until the grace period
    ends. Xóa bên sử dụng dữ liệu (có thể khôi phục)."""
    await service.withdraw(ctx, who, consumer_id)
    return Response(status_code=204)


@router.post(
    "/consumers/{consumer_id}/restore",
    response_model=Consumer,
    responses=problems(401, 403, 404, 409, 410),
)
async def restore(consumer_id: str, ctx: ContextDep, who: CallerDep) -> Consumer:
    """Undo a consumer's delete within the grace period, with the keys the delete suspended
    (operator only; 410 after the grace period). Khôi phục bên sử dụng dữ liệu."""
    return await service.restore(ctx, who, consumer_id)


@router.post(
    "/consumers/{consumer_id}/keys",
    status_code=201,
    response_model=ApiKeyCreated,
    responses=WRITE_PROBLEMS,
)
async def create_consumer_key(consumer_id: str, ctx: ContextDep, who: CallerDep) -> ApiKeyCreated:
    """Issue a reading key for an approved consumer; the answer is the only time it is shown."""
    return await service.create_key(ctx, who, consumer_id)


@router.get("/keys/{key_id}", response_model=ApiKeyInfo, responses=WRITE_PROBLEMS)
async def get_key(key_id: str, ctx: ContextDep, who: CallerDep) -> ApiKeyInfo:
    """Return a key's metadata (never its secret or hash)."""
    return await keys.get(ctx, who, key_id)


@router.post(
    "/keys/{key_id}/rotate", status_code=201, response_model=ApiKeyCreated, responses=WRITE_PROBLEMS
)
async def rotate_key(
    key_id: str,
    ctx: ContextDep,
    who: CallerDep,
    body: Annotated[RotateIn | None, Body()] = None,
) -> ApiKeyCreated:
    """Issue a replacement key; the old one keeps working for the grace period."""
    grace = body.grace_period_s if body is not None else None
    return await keys.rotate(ctx, who, key_id, grace)


@router.post("/keys/{key_id}/revoke", response_model=ApiKeyInfo, responses=WRITE_PROBLEMS)
async def revoke_key(key_id: str, ctx: ContextDep, who: CallerDep) -> ApiKeyInfo:
    """Revoke a key at once."""
    return await keys.revoke(ctx, who, key_id)
