"""API keys: issue (shown once), authenticate, rotate with a grace period, revoke.

Keys of sources and consumers are published on `lgsp.registry` (hash only) because the gateway
checks them; an organisation's key only administers the registry and never leaves it.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncConnection

from lgsp_common.access_tokens import parse_access_token
from lgsp_common.api_keys import key_is_usable
from lgsp_registry.adapters import repository as repo
from lgsp_registry.adapters.store import Tx
from lgsp_registry.adapters.tables import api_keys
from lgsp_registry.domain.access import OPERATOR, Principal, PrincipalKind, may_manage_key
from lgsp_registry.domain.credentials import new_api_key, parse_api_key, same_secret
from lgsp_registry.domain.entities import ApiKeyCreated, ApiKeyInfo
from lgsp_registry.service import tokens
from lgsp_registry.service.context import Context
from lgsp_registry.service.errors import conflict, forbidden, not_found

KIND = "api_key"


async def issue(
    tx: Tx,
    *,
    source_id: str | None = None,
    consumer_id: str | None = None,
    organisation_id: str | None = None,
    expires_at: datetime | None = None,
) -> ApiKeyCreated:
    """Make a key for exactly one owner, store its hash and record its event."""
    made = new_api_key()
    row = repo.KeyRow(
        id=made.id,
        source_id=source_id,
        consumer_id=consumer_id,
        organisation_id=organisation_id,
        key_hash=made.key_hash,
        created_at=tx.now,
        expires_at=expires_at,
        version=1,
    )
    await tx.conn.execute(api_keys.insert().values(**row.model_dump()))
    await _publish(tx, row)
    return ApiKeyCreated(**row.info().model_dump(), key=made.key)


async def _publish(tx: Tx, row: repo.KeyRow) -> None:
    if row.source_id is not None or row.consumer_id is not None:
        await tx.emit(KIND, row.id, row.version, row.event_data())


async def authenticate(ctx: Context, credential: str) -> Principal | None:
    """Return who a credential stands for, or None when it is not a usable credential."""
    if same_secret(credential, ctx.operator_token):
        return OPERATOR
    if parse_access_token(credential) is not None:
        async with ctx.store.read() as conn:
            return await tokens.authenticate(conn, credential)
    key_id = parse_api_key(credential)
    if key_id is None:
        return None
    async with ctx.store.read() as conn:
        row = await repo.api_key(conn, key_id)
        if row is None or not key_is_usable(row.event_data(), credential):
            return None
        return await _principal(conn, row)


async def _principal(conn: AsyncConnection, row: repo.KeyRow) -> Principal | None:
    if row.source_id is not None:
        found = await repo.source(conn, row.source_id)
        if found is None:
            return None
        return Principal(
            PrincipalKind.SOURCE, found.id, found.organisation_id, found.topic, key_id=row.id
        )
    if row.consumer_id is not None:
        consumer = await repo.consumer(conn, row.consumer_id)
        if consumer is None:
            return None
        return Principal(
            PrincipalKind.CONSUMER,
            consumer.id,
            consumer.organisation_id,
            consumer.topic,
            key_id=row.id,
        )
    org = row.organisation_id
    return Principal(PrincipalKind.ORGANISATION, str(org), str(org), key_id=row.id)


async def owner_organisation(conn: AsyncConnection, row: repo.KeyRow) -> str | None:
    """Return the organisation responsible for a key."""
    if row.source_id is not None:
        found = await repo.source(conn, row.source_id)
        return found.organisation_id if found else None
    if row.consumer_id is not None:
        consumer = await repo.consumer(conn, row.consumer_id)
        return consumer.organisation_id if consumer else None
    return row.organisation_id


def _owner(row: repo.KeyRow) -> str:
    if row.source_id is not None:
        return f"source:{row.source_id}"
    if row.consumer_id is not None:
        return f"consumer:{row.consumer_id}"
    return f"organisation:{row.organisation_id}"


async def _managed_key(tx: Tx, who: Principal, key_id: str) -> repo.KeyRow:
    row = await repo.api_key(tx.conn, key_id)
    if row is None:
        raise not_found("API key", key_id)
    if not may_manage_key(who, key_id, await owner_organisation(tx.conn, row), _owner(row)):
        raise forbidden(f"{who.name} may not manage key {key_id}")
    if row.revoked_at is not None:
        raise conflict(f"key {key_id} is revoked", "key-revoked")
    return row


async def _live_key(tx: Tx, who: Principal, key_id: str) -> repo.KeyRow:
    row = await _managed_key(tx, who, key_id)
    if row.suspended_at is not None:
        raise conflict(f"key {key_id} is suspended: its owner is deleted", "key-suspended")
    return row


async def rotate(ctx: Context, who: Principal, key_id: str, grace_s: int | None) -> ApiKeyCreated:
    """Issue a new key for the same owner; the old one expires after the grace period."""
    grace = timedelta(seconds=ctx.key_grace_period_s if grace_s is None else grace_s)
    async with ctx.store.write() as tx:
        old = await _live_key(tx, who, key_id)
        new = await issue(
            tx,
            source_id=old.source_id,
            consumer_id=old.consumer_id,
            organisation_id=old.organisation_id,
        )
        expires = tx.now + grace
        if old.expires_at is None or old.expires_at > expires:
            version = await repo.update(tx.conn, api_keys, key_id, expires_at=expires)
            updated = old.model_copy(update={"expires_at": expires, "version": version})
            await _publish(tx, updated)
    return new


async def revoke(ctx: Context, who: Principal, key_id: str) -> ApiKeyInfo:
    """Revoke a key at once."""
    async with ctx.store.write() as tx:
        old = await _managed_key(tx, who, key_id)
        version = await repo.update(tx.conn, api_keys, key_id, revoked_at=tx.now)
        updated = old.model_copy(update={"revoked_at": tx.now, "version": version})
        await _publish(tx, updated)
    return updated.info()


async def suspend_keys_of(tx: Tx, column: str, owner_id: str) -> None:
    """Suspend an owner's live keys (its delete); revoked or already suspended keys stay."""
    for row in await repo.keys_of(tx.conn, column, owner_id):
        if row.revoked_at is None and row.suspended_at is None:
            version = await repo.update(tx.conn, api_keys, row.id, suspended_at=tx.now)
            await _publish(tx, row.model_copy(update={"suspended_at": tx.now, "version": version}))


async def resume_keys_of(tx: Tx, column: str, owner_id: str) -> None:
    """Lift the suspension of an owner's keys (its restore); revoked keys stay revoked."""
    for row in await repo.keys_of(tx.conn, column, owner_id):
        if row.suspended_at is not None and row.revoked_at is None:
            version = await repo.update(tx.conn, api_keys, row.id, suspended_at=None)
            await _publish(tx, row.model_copy(update={"suspended_at": None, "version": version}))


async def get(ctx: Context, who: Principal, key_id: str) -> ApiKeyInfo:
    """Return what may be shown of a key, to someone allowed to manage it."""
    async with ctx.store.read() as conn:
        row = await repo.api_key(conn, key_id)
        if row is None:
            raise not_found("API key", key_id)
        if not may_manage_key(who, key_id, await owner_organisation(conn, row), _owner(row)):
            raise forbidden(f"{who.name} may not see key {key_id}")
    return row.info()
