"""Who is reading: every data route needs a viewer (`ViewerDep`, `require_viewer`).

A credential comes as `Authorization: Bearer <token>` (the API, the CLI) or in the HttpOnly
session cookie the login page sets (the dashboard, its fetches and its EventSource). It is
checked on every request against the collector's registry copy (a registry-issued access token:
hash and role, so a revocation applies as soon as the copy has it) or, when an OIDC issuer is
configured, as a JWT signed with one of the issuer's keys. Anything else is 401 problem+json.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from ioc_collector.api.deps import RuntimeDep
from ioc_collector.bootstrap import Runtime
from ioc_collector.domain.viewers import Viewer, roles_in_claims, viewing_role
from lgsp_common.access_tokens import VIEWING_ROLES, parse_access_token, token_holder
from lgsp_common.problems import ProblemError

SESSION_COOKIE = "ioc_session"
CHALLENGE = {"WWW-Authenticate": 'Bearer realm="ioc-collector"'}


def credential_of(request: Request) -> str | None:
    """Return the bearer token of a request, else its session cookie's, else None."""
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return request.cookies.get(SESSION_COOKIE) or None


async def authenticate(runtime: Runtime, credential: str) -> Viewer | None:
    """Return the viewer a credential stands for, or None when it lets nobody in."""
    if parse_access_token(credential) is not None:
        holder = token_holder(runtime.registry, credential)
        if holder is None or holder.role not in VIEWING_ROLES:
            return None
        return Viewer(holder.name, holder.role, "token")
    if runtime.oidc is None or credential.count(".") != 2:
        return None
    claims = await runtime.oidc.claims(credential)
    if claims is None:
        return None
    role = viewing_role(roles_in_claims(claims, runtime.oidc.role_claim))
    if role is None:
        return None
    return Viewer(
        str(claims.get("preferred_username") or claims.get("sub") or "oidc"), role, "oidc"
    )


async def require_viewer(request: Request, runtime: RuntimeDep) -> Viewer:
    """Let a viewer, operator or auditor through; 401 problem+json for anyone else."""
    credential = credential_of(request)
    if credential is None:
        raise ProblemError(
            401, "Cần đăng nhập / Sign-in required",
            "send 'Authorization: Bearer <access token>' or sign in at /login",
            problem_type="unauthorised", headers=CHALLENGE,
        )  # fmt: skip
    viewer = await authenticate(runtime, credential)
    if viewer is None:
        raise ProblemError(
            401, "Mã truy cập không hợp lệ / Invalid credential",
            "the credential is unknown, revoked, expired or has no viewer role",
            problem_type="unauthorised", headers=CHALLENGE,
        )  # fmt: skip
    return viewer


ViewerDep = Annotated[Viewer, Depends(require_viewer)]
