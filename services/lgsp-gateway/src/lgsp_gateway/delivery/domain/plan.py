"""What a worker should deliver, read from the registry copy: subscriptions and their consumers.

A subscription is delivered while it is `active`, its consumer exists, is `approved`, and still
reads the subscription's topic. Everything else on the plan (URL, secrets, fields, purpose) is
read again for every record, so a rotation or a narrowed approval applies at once.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

KIND = "webhook_subscription"


@dataclass(frozen=True)
class Plan:
    """One deliverable subscription as the registry copy has it now."""

    id: str
    consumer_id: str
    topic: str
    url: str
    purpose: str | None
    fields: tuple[str, ...]
    sealed_secrets: tuple[tuple[str, datetime | None], ...]
    replay_id: str | None
    replay: Mapping[str, Any] | None

    def live_secrets(self, now: datetime) -> list[str]:
        """Return the sealed secrets still in use at `now` (newest last)."""
        return [s for s, until in self.sealed_secrets if until is None or until > now]


def _when(text: object) -> datetime | None:
    return datetime.fromisoformat(text) if isinstance(text, str) else None


def plan_of(sub: Mapping[str, Any], consumer: Mapping[str, Any] | None) -> Plan | None:
    """Return the plan of a subscription, or None when nothing may be delivered for it."""
    if sub.get("status") != "active" or consumer is None:
        return None
    if consumer.get("status") != "approved" or consumer.get("topic") != sub.get("topic"):
        return None
    replay = sub.get("replay") if isinstance(sub.get("replay"), Mapping) else None
    secrets = tuple(
        (str(s["sealed"]), _when(s.get("expires_at")))
        for s in sub.get("secrets") or []
        if isinstance(s, Mapping) and isinstance(s.get("sealed"), str)
    )
    return Plan(
        id=str(sub["id"]),
        consumer_id=str(consumer["id"]),
        topic=str(sub["topic"]),
        url=str(sub["url"]),
        purpose=consumer.get("purpose"),
        fields=tuple(consumer.get("fields") or ()),
        sealed_secrets=secrets,
        replay_id=str(replay["id"]) if replay and replay.get("id") else None,
        replay=replay,
    )


def group_of(subscription_id: str) -> str:
    """Return the Kafka consumer group that holds a subscription's positions."""
    return f"lgsp.webhook.{subscription_id}"
