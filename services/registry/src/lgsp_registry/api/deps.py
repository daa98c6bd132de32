"""Route dependencies: the state, and the authenticated caller of a write."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from lgsp_common.problems import Problem
from lgsp_registry.domain.access import Principal
from lgsp_registry.service import keys
from lgsp_registry.service.errors import unauthorised
from lgsp_registry.state import RegistryState, registry_state

StateDep = Annotated[RegistryState, Depends(registry_state)]
_bearer = HTTPBearer(auto_error=False, description="An API key or the operator token")
_api_key = APIKeyHeader(name="X-API-Key", auto_error=False, description="An API key")


async def caller(
    state: StateDep,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    api_key: Annotated[str | None, Depends(_api_key)],
) -> Principal:
    """Authenticate the caller of a write; 401 without a usable credential."""
    credential = bearer.credentials if bearer is not None else api_key
    if not credential:
        raise unauthorised("send 'Authorization: Bearer <key>' or 'X-API-Key: <key>'")
    principal = await keys.authenticate(state.ctx, credential)
    if principal is None:
        raise unauthorised("the credential is unknown, revoked or expired")
    return principal


CallerDep = Annotated[Principal, Depends(caller)]


def problems(*codes: int) -> dict[int | str, dict[str, object]]:
    """Document problem+json answers in the OpenAPI description."""
    return {code: {"model": Problem, "content": {"application/problem+json": {}}} for code in codes}


WRITE_PROBLEMS = problems(400, 401, 403, 404, 409, 413, 415, 422)
