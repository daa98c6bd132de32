"""Webhook subscriptions: a consumer asks the platform to push its approved records to a URL.

A subscription belongs to one consumer and so reads that consumer's topic with that consumer's
approved fields; it stops delivering as soon as the consumer is no longer approved. Its signing
secrets are Standard Webhooks secrets: made here, shown once, and kept (and published) only as
ciphertext (`lgsp_common.webhooks.SecretBox`). A rotation adds a secret; the previous one stays
valid until `expires_at`, and meanwhile every delivery carries both signatures. A replay names a
position (`earliest`, `latest`, or offsets per partition); workers apply each replay id once.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, StringConstraints, model_validator

from lgsp_registry.domain.entities import Body, Entity, Label

WebhookUrl = Annotated[str, StringConstraints(strip_whitespace=True, min_length=8, max_length=2000)]
PartitionNumber = Annotated[str, StringConstraints(pattern=r"^(0|[1-9][0-9]{0,5})$")]


class SubscriptionStatus(StrEnum):
    """Whether a subscription delivers."""

    ACTIVE = "active"
    PAUSED = "paused"


class SubscriptionIn(Body):
    """A new webhook subscription of a consumer (the signing secret is made by the platform)."""

    url: WebhookUrl = Field(examples=["https://thongke.example.gov.vn/lgsp/webhooks"])
    description: Label | None = Field(default=None, examples=["Cục Thống kê: thu ngân sách"])


class RotateSecretIn(Body):
    """How long the previous secret keeps being used beside the new one."""

    overlap_s: int | None = Field(default=None, ge=0, le=30 * 86_400)


class ReplayIn(Body):
    """Where deliveries start again: `position` for every partition, or offsets per partition."""

    position: Literal["earliest", "latest"] | None = None
    offsets: dict[PartitionNumber, Annotated[int, Field(ge=0)]] | None = Field(
        default=None, examples=[{"0": 120, "2": 0}]
    )

    @model_validator(mode="after")
    def _exactly_one(self) -> ReplayIn:
        if (self.position is None) == (not self.offsets):
            raise ValueError("give either position or a non-empty offsets, not both")
        return self


class SecretInfo(Entity):
    """What may be shown of a signing secret: when it was made and when it stops being used."""

    created_at: datetime
    expires_at: datetime | None = None


class SealedSecret(SecretInfo):
    """A signing secret as stored and published: its ciphertext only."""

    sealed: str


class Replay(Entity):
    """A requested replay; workers apply each `id` once per partition."""

    id: str
    position: Literal["earliest", "latest"] | None = None
    offsets: dict[str, int] | None = None
    requested_at: datetime


class Subscription(Entity):
    """A webhook subscription as the API shows it (never a secret, nor its ciphertext)."""

    id: str
    consumer_id: str
    topic: str
    url: str
    description: str | None = None
    status: SubscriptionStatus
    secrets: list[SecretInfo]
    replay: Replay | None = None
    created_at: datetime


class SubscriptionCreated(Subscription):
    """A subscription with its new signing secret: shown once, in this answer only."""

    secret: str = Field(description="whsec_… signing secret; it cannot be shown again")


class SubscriptionRow(BaseModel):
    """A subscription as stored: with the sealed secrets."""

    id: str
    consumer_id: str
    topic: str
    url: str
    description: str | None = None
    status: SubscriptionStatus
    secrets: list[SealedSecret]
    replay: Replay | None = None
    created_at: datetime

    def public(self) -> Subscription:
        """Return what the API shows."""
        data = self.model_dump(exclude={"secrets"})
        infos = [SecretInfo.model_validate(s.model_dump(exclude={"sealed"})) for s in self.secrets]
        return Subscription.model_validate({**data, "secrets": infos})

    def event_data(self) -> dict[str, Any]:
        """Return the state `lgsp.registry` carries: the ciphertexts, never a secret."""
        return self.model_dump(mode="json")


def live_secrets(secrets: list[SealedSecret], now: datetime) -> list[SealedSecret]:
    """Keep the secrets still in use at `now`."""
    return [s for s in secrets if s.expires_at is None or s.expires_at > now]
