"""People's access tokens: issue (shown once), list, revoke; each change audited and published.

Tokens are published on `lgsp.registry` as kind `access_token` with their hash and role only,
so the collector (and any other follower) authenticates a viewer from its own copy; a revoked
token is refused there as soon as the change arrives, within seconds.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from lgsp_common.access_tokens import KIND, Role, new_access_token, parse_access_token
from lgsp_common.api_keys import key_is_usable
from lgsp_registry.adapters import repository as repo
from lgsp_registry.adapters.tables import access_tokens
from lgsp_registry.domain.access import Principal, PrincipalKind
from lgsp_registry.domain.entities import AccessTokenCreated, AccessTokenIn, AccessTokenInfo
from lgsp_registry.service.context import Context
from lgsp_registry.service.errors import conflict, forbidden, not_found


def _event_data(row: dict[str, Any]) -> dict[str, Any]:
    """Return a token's state for `lgsp.registry`: hash and role, never the secret."""
    data = AccessTokenInfo.model_validate(row).model_dump(mode="json")
    return {**data, "token_hash": row["token_hash"]}


async def _row(conn: AsyncConnection, token_id: str) -> dict[str, Any] | None:
    found = (
        await conn.execute(sa.select(access_tokens).where(access_tokens.c.id == token_id))
    ).first()
    return dict(found._mapping) if found is not None else None


async def issue(ctx: Context, who: Principal, body: AccessTokenIn) -> AccessTokenCreated:
    """Issue a person's token (operator only); the answer is the only time it is shown."""
    if not who.is_operator:
        raise forbidden("only the operator issues access tokens")
    made = new_access_token()
    async with ctx.store.write() as tx:
        organisation = body.organisation_id
        if organisation is not None and await repo.organisation(tx.conn, organisation) is None:
            raise not_found("organisation", organisation)
        row = {
            **body.model_dump(), "id": made.id, "token_hash": made.token_hash,
            "created_at": tx.now, "created_by": who.name, "revoked_at": None, "version": 1,
        }  # fmt: skip
        await tx.conn.execute(access_tokens.insert().values(**row))
        await tx.emit(KIND, made.id, 1, _event_data(row))
    return AccessTokenCreated(**AccessTokenInfo.model_validate(row).model_dump(), token=made.token)


async def listing(ctx: Context, who: Principal) -> list[AccessTokenInfo]:
    """List every token without secrets or hashes (operator or auditor)."""
    if not who.reads_everything:
        raise forbidden("only the operator or an auditor lists access tokens")
    async with ctx.store.read() as conn:
        rows = await conn.execute(sa.select(access_tokens).order_by(access_tokens.c.created_at))
        return [AccessTokenInfo.model_validate(dict(r._mapping)) for r in rows]


async def revoke(ctx: Context, who: Principal, token_id: str) -> AccessTokenInfo:
    """Revoke a token at once (operator only)."""
    if not who.is_operator:
        raise forbidden("only the operator revokes access tokens")
    async with ctx.store.write() as tx:
        row = await _row(tx.conn, token_id)
        if row is None:
            raise not_found("access token", token_id)
        if row["revoked_at"] is not None:
            raise conflict(f"access token {token_id} is already revoked", "token-revoked")
        version = await repo.update(tx.conn, access_tokens, token_id, revoked_at=tx.now)
        row |= {"revoked_at": tx.now, "version": version}
        tx.audit("registry.access_token.revoke", KIND, token_id)
        await tx.emit(KIND, token_id, version, _event_data(row))
    return AccessTokenInfo.model_validate(row)


async def authenticate(conn: AsyncConnection, token: str) -> Principal | None:
    """Return the person a usable access token stands for, or None."""
    token_id = parse_access_token(token)
    row = await _row(conn, token_id) if token_id else None
    if row is None or not key_is_usable(_stored(row), token):
        return None
    return Principal(
        PrincipalKind.PERSON, row["id"], row["organisation_id"], role=Role(row["role"])
    )


def _stored(row: dict[str, Any]) -> dict[str, Any]:
    data = _event_data(row)
    return {**data, "key_hash": data["token_hash"]}
