"""Webhook subscriptions: register (secret shown once), list, pause, resume, rotate, replay, delete.

Who may: the operator or the consumer's organisation, as for the consumer's keys. Each change is
one `Store.write()` transaction that also records the change event for `lgsp.registry`; the event
carries the signing secrets only as ciphertext (`Context.secret_box`), so the delivery workers,
which hold the same key, can sign, and nobody reading the topic can.
"""

from __future__ import annotations

import secrets as random
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncConnection

from lgsp_common.webhooks import new_signing_secret, url_refusal
from lgsp_registry.adapters import repository as repo
from lgsp_registry.adapters import webhook_rows as rows
from lgsp_registry.adapters.store import Tx
from lgsp_registry.domain.access import Principal, acts_for
from lgsp_registry.domain.contract_rules import Violation
from lgsp_registry.domain.entities import Consumer
from lgsp_registry.domain.webhooks import (
    Replay,
    ReplayIn,
    SealedSecret,
    Subscription,
    SubscriptionCreated,
    SubscriptionIn,
    SubscriptionRow,
    SubscriptionStatus,
    live_secrets,
)
from lgsp_registry.service.context import Context
from lgsp_registry.service.errors import forbidden, invalid, not_found

KIND = "webhook_subscription"


async def _consumer(tx: Tx, who: Principal, consumer_id: str) -> Consumer:
    consumer = await repo.consumer(tx.conn, consumer_id)
    if consumer is None:
        raise not_found("consumer", consumer_id)
    if not acts_for(who, consumer.organisation_id):
        raise forbidden(f"{who.name} may not manage the webhooks of {consumer_id!r}")
    return consumer


async def _own(tx: Tx, who: Principal, consumer_id: str, sub_id: str) -> SubscriptionRow:
    await _consumer(tx, who, consumer_id)
    row = await rows.one(tx.conn, sub_id)
    if row is None or row.consumer_id != consumer_id:
        raise not_found("webhook subscription", sub_id)
    return row


def _check_url(ctx: Context, url: str) -> None:
    refusal = url_refusal(url, ctx.webhooks_allow_loopback)
    if refusal is not None:
        violation = Violation("/url", "url_policy", f"{url!r} is refused: {refusal}")
        raise invalid("The webhook URL is not allowed", [violation], "webhook-url-refused")


def _seal(ctx: Context, now: datetime) -> tuple[str, SealedSecret]:
    secret = new_signing_secret()
    return secret, SealedSecret(sealed=ctx.secret_box.seal(secret), created_at=now)


async def create(
    ctx: Context, who: Principal, consumer_id: str, body: SubscriptionIn
) -> SubscriptionCreated:
    """Register a subscription; the answer is the only time its signing secret is shown."""
    _check_url(ctx, body.url)
    async with ctx.store.write() as tx:
        consumer = await _consumer(tx, who, consumer_id)
        secret, sealed = _seal(ctx, tx.now)
        row = SubscriptionRow(
            id=f"wh-{random.token_hex(6)}",
            consumer_id=consumer.id,
            topic=consumer.topic,
            url=body.url,
            description=body.description,
            status=SubscriptionStatus.ACTIVE,
            secrets=[sealed],
            created_at=tx.now,
        )
        await rows.insert(tx.conn, row)
        await tx.emit(KIND, row.id, 1, row.event_data())
    return SubscriptionCreated(**row.public().model_dump(), secret=secret)


async def _visible_consumer(conn: AsyncConnection, who: Principal, consumer_id: str) -> None:
    """Refuse unless the caller is the operator, an auditor or the consumer's organisation."""
    consumer = await repo.consumer(conn, consumer_id)
    if consumer is None:
        raise not_found("consumer", consumer_id)
    if not (who.reads_everything or who.organisation == consumer.organisation_id):
        raise forbidden(f"{who.name} may not see the subscriptions of {consumer_id!r}")


async def list_of(ctx: Context, who: Principal, consumer_id: str) -> list[Subscription]:
    """Return a consumer's subscriptions (never a secret) to whom may see them."""
    async with ctx.store.read() as conn:
        await _visible_consumer(conn, who, consumer_id)
        return [row.public() for row in await rows.of_consumer(conn, consumer_id)]


async def get(ctx: Context, who: Principal, consumer_id: str, sub_id: str) -> Subscription:
    """Return one subscription (never a secret) to whom may see it."""
    async with ctx.store.read() as conn:
        await _visible_consumer(conn, who, consumer_id)
        row = await rows.one(conn, sub_id)
    if row is None or row.consumer_id != consumer_id:
        raise not_found("webhook subscription", sub_id)
    return row.public()


async def _change(tx: Tx, row: SubscriptionRow) -> Subscription:
    version = await rows.save(tx.conn, row)
    await tx.emit(KIND, row.id, version, row.event_data())
    return row.public()


async def set_status(
    ctx: Context, who: Principal, consumer_id: str, sub_id: str, status: SubscriptionStatus
) -> Subscription:
    """Pause or resume a subscription; repeating is harmless."""
    async with ctx.store.write() as tx:
        row = await _own(tx, who, consumer_id, sub_id)
        if row.status is status:
            return row.public()
        return await _change(tx, row.model_copy(update={"status": status}))


async def rotate(
    ctx: Context, who: Principal, consumer_id: str, sub_id: str, overlap_s: int | None
) -> SubscriptionCreated:
    """Add a new secret (shown once); the ones in use now expire after the overlap."""
    overlap = timedelta(seconds=ctx.webhook_secret_overlap_s if overlap_s is None else overlap_s)
    async with ctx.store.write() as tx:
        row = await _own(tx, who, consumer_id, sub_id)
        until = tx.now + overlap
        kept = [
            s.model_copy(update={"expires_at": min(s.expires_at or until, until)})
            for s in live_secrets(row.secrets, tx.now)
            if overlap.total_seconds() > 0
        ]
        secret, sealed = _seal(ctx, tx.now)
        public = await _change(tx, row.model_copy(update={"secrets": [*kept, sealed]}))
    return SubscriptionCreated(**public.model_dump(), secret=secret)


async def replay(
    ctx: Context, who: Principal, consumer_id: str, sub_id: str, body: ReplayIn
) -> Subscription:
    """Ask the workers to deliver again from a position (each replay id is applied once)."""
    async with ctx.store.write() as tx:
        row = await _own(tx, who, consumer_id, sub_id)
        request = Replay(
            id=random.token_hex(8),
            position=body.position,
            offsets=dict(body.offsets) if body.offsets else None,
            requested_at=tx.now,
        )
        return await _change(tx, row.model_copy(update={"replay": request}))


async def delete(ctx: Context, who: Principal, consumer_id: str, sub_id: str) -> None:
    """Delete a subscription; the workers stop delivering it."""
    async with ctx.store.write() as tx:
        await _own(tx, who, consumer_id, sub_id)
        await delete_in(tx, sub_id)


async def delete_in(tx: Tx, sub_id: str) -> None:
    """Delete one subscription inside a write (also used when its consumer goes)."""
    version = await rows.delete(tx.conn, sub_id)
    await tx.emit_delete(KIND, sub_id, version)


async def delete_of_consumer(tx: Tx, consumer_id: str) -> None:
    """Delete every subscription of a consumer inside a write."""
    for row in await rows.of_consumer(tx.conn, consumer_id):
        await delete_in(tx, row.id)
