"""Routes for a consumer's webhook subscriptions (đăng ký nhận dữ liệu qua webhook)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Response

from lgsp_registry.api.deps import WRITE_PROBLEMS, CallerDep, ContextDep, problems
from lgsp_registry.domain.webhooks import (
    ReplayIn,
    RotateSecretIn,
    Subscription,
    SubscriptionCreated,
    SubscriptionIn,
    SubscriptionStatus,
)
from lgsp_registry.service import webhooks as service

router = APIRouter(prefix="/v1/consumers/{consumer_id}/subscriptions", tags=["webhooks"])


@router.post("", status_code=201, response_model=SubscriptionCreated, responses=WRITE_PROBLEMS)
async def create_subscription(
    consumer_id: str, body: SubscriptionIn, ctx: ContextDep, who: CallerDep
) -> SubscriptionCreated:
    """Register a webhook (https, public host); the signing secret is shown only in this answer."""
    return await service.create(ctx, who, consumer_id, body)


@router.get("", response_model=list[Subscription], responses=problems(401, 403, 404))
async def list_subscriptions(
    consumer_id: str, ctx: ContextDep, who: CallerDep
) -> list[Subscription]:
    """List a consumer's webhook subscriptions, never a secret (operator, auditor, its org)."""
    return await service.list_of(ctx, who, consumer_id)


@router.get("/{subscription_id}", response_model=Subscription, responses=problems(401, 403, 404))
async def get_subscription(
    consumer_id: str, subscription_id: str, ctx: ContextDep, who: CallerDep
) -> Subscription:
    """Return one webhook subscription, never a secret (operator, auditor, its org)."""
    return await service.get(ctx, who, consumer_id, subscription_id)


@router.post("/{subscription_id}/pause", response_model=Subscription, responses=WRITE_PROBLEMS)
async def pause(
    consumer_id: str, subscription_id: str, ctx: ContextDep, who: CallerDep
) -> Subscription:
    """Stop deliveries; the position is kept (Tạm dừng)."""
    return await service.set_status(
        ctx, who, consumer_id, subscription_id, SubscriptionStatus.PAUSED
    )


@router.post("/{subscription_id}/resume", response_model=Subscription, responses=WRITE_PROBLEMS)
async def resume(
    consumer_id: str, subscription_id: str, ctx: ContextDep, who: CallerDep
) -> Subscription:
    """Deliver again from the kept position (Tiếp tục)."""
    return await service.set_status(
        ctx, who, consumer_id, subscription_id, SubscriptionStatus.ACTIVE
    )


@router.post(
    "/{subscription_id}/rotate-secret",
    status_code=201,
    response_model=SubscriptionCreated,
    responses=WRITE_PROBLEMS,
)
async def rotate_secret(
    consumer_id: str,
    subscription_id: str,
    ctx: ContextDep,
    who: CallerDep,
    body: Annotated[RotateSecretIn | None, Body()] = None,
) -> SubscriptionCreated:
    """Add a new signing secret (shown once); the old one is also signed with until it expires."""
    overlap = body.overlap_s if body is not None else None
    return await service.rotate(ctx, who, consumer_id, subscription_id, overlap)


@router.post("/{subscription_id}/replay", response_model=Subscription, responses=WRITE_PROBLEMS)
async def replay(
    consumer_id: str, subscription_id: str, body: ReplayIn, ctx: ContextDep, who: CallerDep
) -> Subscription:
    """Deliver again from `earliest`, `latest` or given offsets per partition (Phát lại)."""
    return await service.replay(ctx, who, consumer_id, subscription_id, body)


@router.delete("/{subscription_id}", status_code=204, responses=WRITE_PROBLEMS)
async def delete_subscription(
    consumer_id: str, subscription_id: str, ctx: ContextDep, who: CallerDep
) -> Response:
    """Delete a subscription; deliveries stop."""
    await service.delete(ctx, who, consumer_id, subscription_id)
    return Response(status_code=204)
