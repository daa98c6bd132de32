"""Routes of the audit anchors: published audit keys (anyone reads) and stored checkpoints."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Response

from lgsp_registry.api.deps import WRITE_PROBLEMS, CallerDep, ContextDep
from lgsp_registry.domain.audit_anchors import (
    KEY_ID,
    AuditCheckpoints,
    AuditKey,
    AuditKeyIn,
    AuditKeys,
)
from lgsp_registry.service import audit as service

router = APIRouter(prefix="/v1/audit", tags=["audit"])
KeyId = Annotated[str, Path(pattern=KEY_ID, description="The key_id the records carry")]


@router.get("/keys", response_model=AuditKeys)
async def list_audit_keys(ctx: ContextDep) -> AuditKeys:
    """List the audit public keys, retired ones included (Khóa công khai ký nhật ký)."""
    return await service.keys(ctx)


@router.put(
    "/keys/{key_id}",
    response_model=AuditKey,
    responses={201: {"model": AuditKey, "description": "Published"}, **WRITE_PROBLEMS},
)
async def put_audit_key(
    key_id: KeyId, body: AuditKeyIn, ctx: ContextDep, who: CallerDep, response: Response
) -> AuditKey:
    """Publish an audit public key, or retire it (operator only); 201 when new."""
    key, created = await service.put_key(ctx, who, key_id, body)
    response.status_code = 201 if created else 200
    return key


@router.get("/checkpoints", response_model=AuditCheckpoints)
async def list_audit_checkpoints(
    ctx: ContextDep,
    chain: Annotated[str | None, Query(max_length=300, description="One chain id")] = None,
) -> AuditCheckpoints:
    """List the stored signed audit checkpoints, in chain and seq order (Điểm kiểm tra)."""
    return await service.checkpoints(ctx, chain)
