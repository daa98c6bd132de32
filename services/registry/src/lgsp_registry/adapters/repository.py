"""Reading and writing entity rows; conversions between rows and the API models."""

from __future__ import annotations

from typing import Any, TypeVar

import sqlalchemy as sa
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncConnection

from lgsp_registry.adapters.tables import (
    api_keys,
    consumers,
    contracts,
    organisations,
    settings,
    sources,
    subjects,
)
from lgsp_registry.domain.entities import (
    ApiKeyInfo,
    Consumer,
    ConsumerStatus,
    Contract,
    Organisation,
    Source,
)

M = TypeVar("M", bound=BaseModel)


class KeyRow(ApiKeyInfo):
    """An API key row, with the hash the HTTP API never shows."""

    key_hash: str
    version: int

    def info(self) -> ApiKeyInfo:
        """Return what may be shown of the key."""
        return ApiKeyInfo.model_validate(self.model_dump(exclude={"key_hash", "version"}))

    def event_data(self) -> dict[str, Any]:
        """Return the key's state for `lgsp.registry`: hash included, absent owners left out.

        A suspended key goes out with `revoked_at` set (the suspension time), so every copy
        refuses it with the rule it already applies; restoring publishes it clear again.
        """
        data = self.model_dump(mode="json", exclude={"version"})
        data["revoked_at"] = data["revoked_at"] or data["suspended_at"]
        kept = ("revoked_at", "expires_at", "suspended_at")
        return {k: v for k, v in data.items() if v is not None or k in kept}


async def _one(conn: AsyncConnection, table: sa.Table, model: type[M], entity_id: str) -> M | None:
    row = (await conn.execute(sa.select(table).where(table.c.id == entity_id))).first()
    return model.model_validate(dict(row._mapping)) if row is not None else None


async def _all(
    conn: AsyncConnection, table: sa.Table, model: type[M], *where: sa.ColumnElement[bool]
) -> list[M]:
    rows = await conn.execute(sa.select(table).where(*where).order_by(table.c.id))
    return [model.model_validate(dict(row._mapping)) for row in rows]


async def status_before_delete(
    conn: AsyncConnection, table: sa.Table, entity_id: str
) -> str | None:
    """Return the status a soft-deleted source or consumer had before its delete."""
    found = await conn.scalar(
        sa.select(table.c.status_before_delete).where(table.c.id == entity_id)
    )
    return str(found) if found is not None else None


async def version_of(conn: AsyncConnection, table: sa.Table, entity_id: str) -> int:
    """Return an entity row's current version (0 when absent)."""
    found = await conn.scalar(sa.select(table.c.version).where(table.c.id == entity_id))
    return int(found or 0)


async def insert(conn: AsyncConnection, table: sa.Table, entity: BaseModel, **extra: Any) -> None:
    """Insert an entity as a new row."""
    await conn.execute(table.insert().values(**entity.model_dump(by_alias=True), **extra))


async def update(conn: AsyncConnection, table: sa.Table, entity_id: str, **values: Any) -> int:
    """Change a row and bump its version; returns the new version."""
    await conn.execute(
        table.update().where(table.c.id == entity_id).values(**values, version=table.c.version + 1)
    )
    return await version_of(conn, table, entity_id)


async def organisation(conn: AsyncConnection, entity_id: str) -> Organisation | None:
    """Return one organisation."""
    return await _one(conn, organisations, Organisation, entity_id)


async def organisation_by_code(conn: AsyncConnection, code: str) -> Organisation | None:
    """Return the organisation with an agency code."""
    row = (await conn.execute(sa.select(organisations).where(organisations.c.code == code))).first()
    return Organisation.model_validate(dict(row._mapping)) if row is not None else None


async def all_organisations(conn: AsyncConnection) -> list[Organisation]:
    """Return every organisation."""
    return await _all(conn, organisations, Organisation)


async def source(conn: AsyncConnection, entity_id: str) -> Source | None:
    """Return one source."""
    return await _one(conn, sources, Source, entity_id)


async def all_sources(
    conn: AsyncConnection, topic: str | None = None, *, include_deleted: bool = False
) -> list[Source]:
    """Return every live source (deleted ones too if asked), or those of one topic."""
    where = [sources.c.topic == topic] if topic else []
    if not include_deleted:
        where.append(sources.c.deleted_at.is_(None))
    return await _all(conn, sources, Source, *where)


async def topic_owner(conn: AsyncConnection, topic: str) -> str | None:
    """Return the organisation that owns a topic (the one with sources on it)."""
    found = await conn.scalar(
        sa.select(sources.c.organisation_id).where(sources.c.topic == topic).limit(1)
    )
    return str(found) if found is not None else None


async def consumer(conn: AsyncConnection, entity_id: str) -> Consumer | None:
    """Return one consumer."""
    return await _one(conn, consumers, Consumer, entity_id)


async def all_consumers(
    conn: AsyncConnection,
    topic: str | None = None,
    status: ConsumerStatus | None = None,
    *,
    include_deleted: bool = False,
) -> list[Consumer]:
    """Return live consumers (deleted ones too if asked), optionally of one topic and status."""
    where = []
    if topic:
        where.append(consumers.c.topic == topic)
    if status:
        where.append(consumers.c.status == status.value)
    if not include_deleted:
        where.append(consumers.c.deleted_at.is_(None))
    return await _all(conn, consumers, Consumer, *where)


async def api_key(conn: AsyncConnection, entity_id: str) -> KeyRow | None:
    """Return one API key row (with its hash)."""
    return await _one(conn, api_keys, KeyRow, entity_id)


async def keys_of(conn: AsyncConnection, column: str, owner_id: str) -> list[KeyRow]:
    """Return the keys of one source, consumer or organisation (`column` names which)."""
    return await _all(conn, api_keys, KeyRow, api_keys.c[column] == owner_id)


async def contract(conn: AsyncConnection, contract_id: str) -> Contract | None:
    """Return a contract by schema id."""
    return await _one(conn, contracts, Contract, contract_id)


async def contract_version(conn: AsyncConnection, subject: str, version: int) -> Contract | None:
    """Return one version of a subject."""
    row = (
        await conn.execute(
            sa.select(contracts).where(
                contracts.c.subject == subject, contracts.c.version == version
            )
        )
    ).first()
    return Contract.model_validate(dict(row._mapping)) if row is not None else None


async def contracts_of(conn: AsyncConnection, subject: str) -> list[Contract]:
    """Return every version of a subject, oldest first."""
    rows = await conn.execute(
        sa.select(contracts).where(contracts.c.subject == subject).order_by(contracts.c.version)
    )
    return [Contract.model_validate(dict(row._mapping)) for row in rows]


async def all_subjects(conn: AsyncConnection) -> list[str]:
    """Return every subject that has at least one version."""
    rows = await conn.execute(
        sa.select(contracts.c.subject).distinct().order_by(contracts.c.subject)
    )
    return [str(row[0]) for row in rows]


async def subject_rules(conn: AsyncConnection, subject: str) -> tuple[str | None, str | None]:
    """Return a subject's own (compatibility, policy), each None when it follows the global one."""
    row = (await conn.execute(sa.select(subjects).where(subjects.c.subject == subject))).first()
    return (row.compatibility, row.policy) if row is not None else (None, None)


async def ensure_subject(conn: AsyncConnection, subject: str) -> None:
    """Create the subject row if it does not exist yet (inside the write lock)."""
    exists = await conn.scalar(sa.select(subjects.c.subject).where(subjects.c.subject == subject))
    if exists is None:
        await conn.execute(subjects.insert().values(subject=subject))


async def set_subject_rules(conn: AsyncConnection, subject: str, **values: str | None) -> None:
    """Override a subject's rules."""
    await ensure_subject(conn, subject)
    await conn.execute(subjects.update().where(subjects.c.subject == subject).values(**values))


async def setting(conn: AsyncConnection, name: str) -> str | None:
    """Return a stored setting."""
    found = await conn.scalar(sa.select(settings.c.value).where(settings.c.name == name))
    return str(found) if found is not None else None


async def set_settings(conn: AsyncConnection, values: dict[str, str]) -> None:
    """Store settings (insert or replace)."""
    for name, value in values.items():
        await conn.execute(settings.delete().where(settings.c.name == name))
        await conn.execute(settings.insert().values(name=name, value=value))
