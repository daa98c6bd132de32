"""What one request did, filled in as it goes: its audit record and its event are made from it."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Literal

from population_adapter.domain.access import ConsumerGrant
from population_adapter.domain.verification import Outcome

PROVINCE_TZ = timezone(timedelta(hours=7))  # Asia/Ho_Chi_Minh, no daylight saving
Operation = Literal["verify", "lookup"]


@dataclass(frozen=True, slots=True)
class CallerHeaders:
    """What the gateway says about the caller."""

    gateway_token: str | None
    consumer_id: str | None
    purpose: str | None


def province_now() -> datetime:
    """Return the province's wall-clock time to the second."""
    return datetime.now(PROVINCE_TZ).replace(microsecond=0)


def _new_verification_id() -> str:
    return f"XT-{datetime.now(PROVINCE_TZ):%Y%m%d}-{uuid.uuid4().hex[:12]}"


@dataclass
class Access:
    """One request to the adapter, as far as it got; the audit and the event describe it."""

    operation: Operation
    headers: CallerHeaders
    authenticated: bool = False
    grant: ConsumerGrant | None = None
    cccd: str | None = None  # set only once known to be well formed
    outcome: Outcome | None = None
    denial: str | None = None
    verification_id: str = field(default_factory=_new_verification_id)
    verified_at: datetime | None = None
    disclosed: tuple[str, ...] = ()  # field names (never values) handed to the consumer
