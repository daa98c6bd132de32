"""What a simulated department produces: drafts of events, before ids, faults and sending."""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol, TypeVar
from zoneinfo import ZoneInfo

# The province runs on Vietnam time: dates, months and KPI windows are local.
LOCAL_TZ = ZoneInfo("Asia/Ho_Chi_Minh")
T = TypeVar("T")

# The district codes departments' legacy systems send: Bà Rịa - Vũng Tàu's districts as they
# stood on 30/6/2025 (names: lgsp_vn.admin_units.legacy_unit), with a rough weight by population.
# The collector maps them to today's units (Thành phố Hồ Chí Minh, its communes and wards).
DISTRICTS: dict[str, float] = {
    "747": 31.0,  # Thành phố Vũng Tàu
    "748": 11.0,  # Thành phố Bà Rịa
    "750": 14.0,  # Huyện Châu Đức
    "751": 13.0,  # Huyện Xuyên Mộc
    "753": 19.0,  # Huyện Long Đất (Long Điền and Đất Đỏ, merged early in 2025)
    "754": 11.5,  # Thành phố Phú Mỹ
    "755": 0.5,  # Huyện Côn Đảo
}


@dataclass(frozen=True, slots=True)
class Identity:
    """A citizen's identity as a clinic reads it from the chip CCCD, to verify."""

    cccd: str = field(repr=False)
    full_name: str = field(repr=False)
    date_of_birth: str
    expected: str  # "match", or "no_match" when the clinic typed the name wrong


@dataclass(frozen=True, slots=True)
class Broken:
    """How a deliberately invalid event breaks its contract, and the rule the gateway names."""

    mutation: str
    rule: str
    pointer: str


@dataclass(slots=True)
class Draft:
    """One event a department wants to publish."""

    department: str
    topic: str
    event_type: str
    payload: dict[str, Any]
    event_id: str = ""
    identity: Identity | None = None
    broken: Broken | None = None


class DepartmentSim(Protocol):
    """A department's system: the next event it would send at `now`, or None when done."""

    name: str

    def next_draft(self, now: datetime) -> Draft | None:
        """Return the next event, or None when the department has nothing more to send."""
        ...


def pick(rng: random.Random, weights: Mapping[T, float]) -> T:
    """Return one key chosen with probability proportional to its weight."""
    keys = list(weights)
    return rng.choices(keys, weights=[weights[k] for k in keys], k=1)[0]


def pick_district(rng: random.Random, among: Sequence[str] | None = None) -> str:
    """Return a district code, weighted by population."""
    codes = list(among) if among else list(DISTRICTS)
    return rng.choices(codes, weights=[DISTRICTS[c] for c in codes], k=1)[0]


def local(moment: datetime) -> datetime:
    """Return an aware datetime in Vietnam time, to the second."""
    return moment.astimezone(LOCAL_TZ).replace(microsecond=0)


def before(now: datetime, rng: random.Random, max_seconds: float) -> datetime:
    """Return a local time up to `max_seconds` before `now` (never after it)."""
    return local(now - timedelta(seconds=rng.uniform(0, max_seconds)))


def iso(moment: datetime) -> str:
    """Return RFC 3339 text with the local offset."""
    return local(moment).isoformat()


def round_to(value: float, unit: int) -> int:
    """Return a non-negative integer amount rounded to a unit (e.g. a million dong)."""
    return max(0, round(value / unit) * unit)
