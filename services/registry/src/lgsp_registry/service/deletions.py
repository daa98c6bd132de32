"""Recoverable deletes of sources and consumers (issue 13): what they share.

A delete keeps the row: status `deleted`, `deleted_at`, `deleted_by`, and the status to come back
to; the owner's live keys are suspended (published with `revoked_at`, so every copy refuses
them). Within the grace period an operator restores the entity and exactly the keys its delete
suspended; keys revoked before stay revoked. After it, restore answers 410.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from lgsp_registry.adapters import repository as repo
from lgsp_registry.adapters.store import Tx
from lgsp_registry.domain.access import Principal
from lgsp_registry.service import keys
from lgsp_registry.service.context import Context
from lgsp_registry.service.errors import conflict, forbidden, gone

DELETED = "deleted"


async def soft_delete(tx: Tx, who: Principal, table: sa.Table, kind: str, entity: Any) -> Any:
    """Mark `entity` deleted by `who`, suspend its keys, publish and audit; the new state."""
    status = type(entity.status)(DELETED)
    changes = {"status": status, "deleted_at": tx.now, "deleted_by": who.name}
    version = await repo.update(
        tx.conn, table, entity.id, **changes, status_before_delete=entity.status
    )
    updated = entity.model_copy(update=changes)
    tx.audit(f"registry.{kind}.delete", kind, entity.id, entity.topic)
    await tx.emit(kind, entity.id, version, updated.model_dump(mode="json"))
    await keys.suspend_keys_of(tx, f"{kind}_id", entity.id)
    return updated


def check_restorable(ctx: Context, who: Principal, kind: str, entity: Any, now: datetime) -> None:
    """Refuse a restore by a non-operator, of a live entity, or past the grace period."""
    if not who.is_operator:
        raise forbidden(f"only the operator restores a deleted {kind}")
    deleted_at: datetime | None = entity.deleted_at
    if deleted_at is None:
        raise conflict(f"{kind} {entity.id!r} is not deleted", "not-deleted")
    until = deleted_at + timedelta(seconds=ctx.deletion_grace_period_s)
    if now > until:
        raise gone(
            f"{kind} {entity.id!r} was deleted at {deleted_at.isoformat()}; "
            f"it could be restored until {until.isoformat()}"
        )


async def restore(tx: Tx, table: sa.Table, kind: str, entity: Any, fallback: str) -> Any:
    """Bring back `entity` with its status before the delete and the keys it suspended."""
    before = await repo.status_before_delete(tx.conn, table, entity.id) or fallback
    changes = {"status": type(entity.status)(before), "deleted_at": None, "deleted_by": None}
    version = await repo.update(tx.conn, table, entity.id, **changes, status_before_delete=None)
    updated = entity.model_copy(update=changes)
    tx.audit(f"registry.{kind}.restore", kind, entity.id, entity.topic)
    await tx.emit(kind, entity.id, version, updated.model_dump(mode="json"))
    await keys.resume_keys_of(tx, f"{kind}_id", entity.id)
    return updated


def refuse_if_deleted(kind: str, entity: Any) -> None:
    """Refuse changing a deleted entity (restore it first)."""
    if entity.deleted_at is not None:
        raise conflict(f"{kind} {entity.id!r} is deleted; an operator may restore it", "deleted")
