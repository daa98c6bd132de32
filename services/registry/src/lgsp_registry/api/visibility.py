"""Who may see deleted sources and consumers in listings: the operator, on request."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Query
from fastapi.security import HTTPAuthorizationCredentials

from lgsp_registry.api.deps import ContextDep, _api_key, _bearer, caller
from lgsp_registry.service.errors import forbidden


async def include_deleted(
    ctx: ContextDep,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    api_key: Annotated[str | None, Depends(_api_key)],
    include_deleted: Annotated[
        bool, Query(description="Also list deleted entities (operator only)")
    ] = False,
) -> bool:
    """Return whether to list deleted entities too; asking for them needs the operator."""
    if not include_deleted:
        return False
    who = await caller(ctx, bearer, api_key)
    if not who.is_operator:
        raise forbidden("only the operator lists deleted entities")
    return True


IncludeDeletedDep = Annotated[bool, Depends(include_deleted)]
