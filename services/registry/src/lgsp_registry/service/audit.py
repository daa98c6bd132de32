"""Use cases of the audit anchors: publish and rotate audit public keys, read checkpoints."""

from __future__ import annotations

from datetime import UTC, datetime

from lgsp_common.audit_format import load_public_key
from lgsp_registry.adapters import audit_rows
from lgsp_registry.domain.access import Principal
from lgsp_registry.domain.audit_anchors import AuditCheckpoints, AuditKey, AuditKeyIn, AuditKeys
from lgsp_registry.domain.contract_rules import Violation
from lgsp_registry.service.context import Context
from lgsp_registry.service.errors import conflict, forbidden, invalid

# A key published without valid_from covers records signed before it was published (services
# sign from their first start; the operator publishes the key afterwards).
NO_LOWER_BOUND = datetime(1970, 1, 1, tzinfo=UTC)


async def put_key(
    ctx: Context, who: Principal, key_id: str, body: AuditKeyIn
) -> tuple[AuditKey, bool]:
    """Publish a key, or set when it retired; returns the key and whether it is new.

    A key id names one public key forever: rotating means publishing a new key id (and
    retiring the old one), so records signed with the old key stay verifiable.
    """
    if not who.is_operator:
        raise forbidden("only the operator publishes audit keys")
    try:
        load_public_key(body.public_key)
    except ValueError as exc:
        violation = Violation("/public_key", "ed25519_public_key", str(exc))
        raise invalid("Not an Ed25519 public key", [violation], "invalid-audit-key") from exc
    async with ctx.store.write() as tx:
        existing = await audit_rows.key(tx.conn, key_id)
        if existing is None:
            values = {
                "key_id": key_id,
                "public_key": body.public_key,
                "alg": body.alg,
                "service": body.service,
                "valid_from": body.valid_from or NO_LOWER_BOUND,
                "retired_at": body.retired_at,
                "created_at": tx.now,
            }
            await audit_rows.insert_key(tx.conn, values)
            return AuditKey.model_validate(values), True
        if existing["public_key"] != body.public_key:
            raise conflict(
                f"key id {key_id!r} already names another public key; publish a new key id",
                "audit-key-conflict",
            )
        await audit_rows.retire_key(tx.conn, key_id, body.retired_at)
        return AuditKey.model_validate({**existing, "retired_at": body.retired_at}), False


async def keys(ctx: Context) -> AuditKeys:
    """Return every published key."""
    async with ctx.store.read() as conn:
        rows = await audit_rows.all_keys(conn)
    return AuditKeys(keys=[AuditKey.model_validate(row) for row in rows])


async def checkpoints(ctx: Context, chain: str | None) -> AuditCheckpoints:
    """Return the stored checkpoints (of one chain, if named)."""
    async with ctx.store.read() as conn:
        return AuditCheckpoints(checkpoints=await audit_rows.checkpoints(conn, chain))
