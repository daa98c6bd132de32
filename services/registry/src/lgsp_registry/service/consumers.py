"""Consumers: an organisation asks to read a topic's declared fields; the owner decides."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncConnection

from lgsp_registry.adapters import repository as repo
from lgsp_registry.adapters.tables import consumers
from lgsp_registry.domain.access import Principal, acts_for, may_see_consumer
from lgsp_registry.domain.consumer_check import locate_field
from lgsp_registry.domain.contract_rules import Violation
from lgsp_registry.domain.entities import (
    ApiKeyCreated,
    Consumer,
    ConsumerIn,
    ConsumerStatus,
)
from lgsp_registry.service import deletions, keys
from lgsp_registry.service.context import Context
from lgsp_registry.service.errors import conflict, forbidden, invalid, not_found

KIND = "consumer"


@dataclass(frozen=True)
class ConsumerQuery:
    """Which consumers a listing asks for."""

    topic: str | None = None
    status: ConsumerStatus | None = None
    organisation: str | None = None


def _undeclared(schema: dict[str, object], fields: list[str]) -> list[Violation]:
    return [
        Violation(f"/fields/{i}", "undeclared_field", f"the contract does not declare {field!r}")
        for i, field in enumerate(fields)
        if locate_field(schema, field).presence != "declared"
    ]


async def request(ctx: Context, who: Principal, body: ConsumerIn) -> Consumer:
    """Record a pending request to read fields the topic's latest contract declares."""
    if not acts_for(who, body.organisation_id):
        raise forbidden(f"{who.name} may not ask on behalf of {body.organisation_id!r}")
    async with ctx.store.write() as tx:
        if await repo.organisation(tx.conn, body.organisation_id) is None:
            raise not_found("organisation", body.organisation_id)
        if await repo.consumer(tx.conn, body.id) is not None:
            raise conflict(f"consumer {body.id!r} already exists", "already-exists")
        history = await repo.contracts_of(tx.conn, body.topic)
        if not history:
            raise conflict(f"topic {body.topic} has no contract yet", "no-contract")
        unknown = _undeclared(history[-1].schema_, body.fields)
        if unknown:
            raise invalid("The fields are not in the contract", unknown, "undeclared-fields")
        consumer = Consumer(
            **body.model_dump(exclude={"name"}),
            name=body.name or body.id,
            status=ConsumerStatus.PENDING,
            created_at=tx.now,
        )
        await repo.insert(tx.conn, consumers, consumer, version=1)
        await tx.emit(KIND, consumer.id, 1, consumer.model_dump(mode="json"))
    return consumer


async def decide(
    ctx: Context, who: Principal, consumer_id: str, status: ConsumerStatus
) -> Consumer:
    """Approve or reject a consumer (operator or the topic's owner); repeating is harmless."""
    async with ctx.store.write() as tx:
        consumer = await repo.consumer(tx.conn, consumer_id)
        if consumer is None:
            raise not_found("consumer", consumer_id)
        deletions.refuse_if_deleted(KIND, consumer)
        owner = await repo.topic_owner(tx.conn, consumer.topic)
        if not who.is_operator and not (owner is not None and acts_for(who, owner)):
            raise forbidden(f"only the owner of {consumer.topic} decides on its consumers")
        if consumer.status is status:
            return consumer
        changes = {"status": status, "decided_by": who.name, "decided_at": tx.now}
        version = await repo.update(tx.conn, consumers, consumer_id, **changes)
        updated = consumer.model_copy(update=changes)
        await tx.emit(KIND, consumer_id, version, updated.model_dump(mode="json"))
    return updated


async def withdraw(ctx: Context, who: Principal, consumer_id: str) -> None:
    """Soft-delete a consumer and suspend its keys (operator or the consumer's organisation).

    Its webhook subscriptions stay: nothing is delivered to a consumer that is not approved,
    and a restore brings them back with it.
    """
    async with ctx.store.write() as tx:
        consumer = await _own(tx.conn, who, consumer_id)
        if consumer.deleted_at is None:
            await deletions.soft_delete(tx, who, consumers, KIND, consumer)


async def restore(ctx: Context, who: Principal, consumer_id: str) -> Consumer:
    """Undo a consumer's delete within the grace period, with the keys it suspended."""
    async with ctx.store.write() as tx:
        consumer = await repo.consumer(tx.conn, consumer_id)
        if consumer is None:
            raise not_found("consumer", consumer_id)
        deletions.check_restorable(ctx, who, "consumer", consumer, tx.now)
        restored: Consumer = await deletions.restore(
            tx, consumers, KIND, consumer, ConsumerStatus.PENDING
        )
    return restored


async def create_key(ctx: Context, who: Principal, consumer_id: str) -> ApiKeyCreated:
    """Issue a key for an approved consumer (operator or its organisation)."""
    async with ctx.store.write() as tx:
        consumer = await _own(tx.conn, who, consumer_id)
        deletions.refuse_if_deleted(KIND, consumer)
        if consumer.status is not ConsumerStatus.APPROVED:
            raise conflict(f"consumer {consumer_id!r} is {consumer.status}", "not-approved")
        return await keys.issue(tx, consumer_id=consumer_id)


async def get(ctx: Context, who: Principal, consumer_id: str) -> Consumer:
    """Return one consumer, to the operator, an auditor or an organisation concerned."""
    async with ctx.store.read() as conn:
        found = await repo.consumer(conn, consumer_id)
        owner = await repo.topic_owner(conn, found.topic) if found is not None else None
    if found is None:
        raise not_found("consumer", consumer_id)
    if not may_see_consumer(who, found.organisation_id, owner):
        raise forbidden(f"{who.name} may not see consumer {consumer_id!r}")
    return found


async def listing(
    ctx: Context, who: Principal, query: ConsumerQuery, *, include_deleted: bool
) -> list[Consumer]:
    """List the consumers the caller may see: all for the operator or an auditor, else those
    of its organisation or reading its topics; asking for another organisation's is 403."""
    own = who.organisation
    if not who.reads_everything and own is None:
        raise forbidden(f"{who.name} may not list consumers (operator, auditor or organisation)")
    if query.organisation and not who.reads_everything and query.organisation != own:
        raise forbidden(f"{who.name} may not list the consumers of {query.organisation!r}")
    async with ctx.store.read() as conn:
        found = await repo.all_consumers(
            conn, query.topic, query.status, include_deleted=include_deleted
        )
        owners = {t: await repo.topic_owner(conn, t) for t in {c.topic for c in found}}
    if query.organisation:
        found = [c for c in found if query.organisation in (c.organisation_id, owners[c.topic])]
    return [c for c in found if may_see_consumer(who, c.organisation_id, owners[c.topic])]


async def _own(conn: AsyncConnection, who: Principal, consumer_id: str) -> Consumer:
    consumer = await repo.consumer(conn, consumer_id)
    if consumer is None:
        raise not_found("consumer", consumer_id)
    if not acts_for(who, consumer.organisation_id):
        raise forbidden(f"{who.name} may not manage consumer {consumer_id!r}")
    return consumer
