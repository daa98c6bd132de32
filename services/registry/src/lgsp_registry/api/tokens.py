"""Routes for people's access tokens (Mã truy cập): issue, list, revoke."""

from __future__ import annotations

from fastapi import APIRouter

from lgsp_registry.api.deps import WRITE_PROBLEMS, CallerDep, ContextDep, problems
from lgsp_registry.domain.entities import AccessTokenCreated, AccessTokenIn, AccessTokenInfo
from lgsp_registry.service import tokens

router = APIRouter(prefix="/v1", tags=["access tokens"])


@router.post(
    "/tokens", status_code=201, response_model=AccessTokenCreated, responses=WRITE_PROBLEMS
)
async def issue_token(body: AccessTokenIn, ctx: ContextDep, who: CallerDep) -> AccessTokenCreated:
    """Issue a person's token with a role (operator only); shown once, in this answer.
    Cấp mã truy cập."""
    return await tokens.issue(ctx, who, body)


@router.get("/tokens", response_model=list[AccessTokenInfo], responses=problems(401, 403))
async def list_tokens(ctx: ContextDep, who: CallerDep) -> list[AccessTokenInfo]:
    """List access tokens, never a secret or a hash (operator or auditor)."""
    return await tokens.listing(ctx, who)


@router.post("/tokens/{token_id}/revoke", response_model=AccessTokenInfo, responses=WRITE_PROBLEMS)
async def revoke_token(token_id: str, ctx: ContextDep, who: CallerDep) -> AccessTokenInfo:
    """Revoke a token at once (operator only); every service refuses it within seconds.
    Thu hồi mã truy cập."""
    return await tokens.revoke(ctx, who, token_id)
