"""When to try again: exponential backoff with jitter, or the receiver's Retry-After."""

from __future__ import annotations

import random
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime


def retry_delay(
    attempt: int,
    base_s: float,
    max_s: float,
    retry_after_s: float | None = None,
    rand: random.Random | None = None,
) -> float:
    """Return the wait before attempt `attempt + 1`.

    Exponential (`base * 2^(attempt-1)`, capped at `max_s`) with "equal jitter": half fixed, half
    random, so retries of many subscriptions spread out yet never come back at once. A
    Retry-After from the receiver wins when it asks for longer.
    """
    ceiling = min(max_s, base_s * (2 ** max(attempt - 1, 0)))
    delay: float = ceiling / 2 + (rand or random).uniform(0, ceiling / 2)
    return max(delay, retry_after_s) if retry_after_s is not None else delay


def parse_retry_after(
    value: str | None, limit_s: float, now: datetime | None = None
) -> float | None:
    """Return the seconds a Retry-After header asks for (delta or HTTP date), capped at limit."""
    if not value:
        return None
    text = value.strip()
    if text.isdigit():
        return min(float(text), limit_s)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    seconds = (when - (now or datetime.now(UTC))).total_seconds()
    return min(max(seconds, 0.0), limit_s)
