"""Tourism (Sở VHTTDL): monthly reports of accommodation establishments (Circular 18/2021).

"As of 24/9/2024, 476 accommodation establishments file reports" (DOMAIN.md). Each filing
establishment sends one report for the period; some file late (last), some not at all, which
is what the IOC's reporting rate shows. Once every filer has reported, the department is done
for the period, as a monthly source is.
"""

from __future__ import annotations

import calendar
import random
from dataclasses import dataclass
from datetime import date, datetime

from lgsp_simulators.departments.drafts import Draft, iso, local, pick, pick_district
from lgsp_simulators.scenario import TourismMix

TOPIC = "tourism.accommodation-report.v1"
EVENT_TYPE = "vn.gov.lgsp.tourism.accommodation-report.submitted"
# Where establishments are: the coast (Vũng Tàu, Long Hải, Hồ Tràm) and Côn Đảo.
_DISTRICTS = {"747": 45.0, "753": 22.0, "751": 14.0, "755": 9.0, "748": 5.0, "754": 3.0,
              "750": 2.0}  # fmt: skip
# (type, weight, rooms range, occupancy range, stay in nights range)
_TYPES: dict[str, tuple[float, tuple[int, int], tuple[float, float], tuple[float, float]]] = {
    "hotel": (0.35, (20, 250), (0.45, 0.85), (1.3, 2.2)),
    "resort": (0.08, (40, 400), (0.4, 0.8), (2.0, 3.5)),
    "guesthouse": (0.3, (6, 25), (0.3, 0.75), (1.1, 1.8)),
    "homestay": (0.15, (2, 10), (0.25, 0.7), (1.2, 2.5)),
    "apartment": (0.07, (10, 120), (0.35, 0.8), (2.0, 5.0)),
    "other": (0.05, (4, 30), (0.2, 0.6), (1.0, 2.0)),
}
_LAST_FILING_DAY = 15  # after it, the month in progress is reported (see TourismMix.period)


@dataclass(frozen=True, slots=True)
class Establishment:
    """An accommodation establishment that files monthly reports."""

    establishment_id: str
    district_code: str
    kind: str
    rooms: int


def establishments(rng: random.Random, count: int) -> list[Establishment]:
    """Return the registered establishments LT-0001... (deterministic for a seeded rng)."""
    weights = {kind: spec[0] for kind, spec in _TYPES.items()}
    found = []
    for n in range(1, count + 1):
        kind = pick(rng, weights)
        low, high = _TYPES[kind][1]
        district = pick_district(rng, list(_DISTRICTS)) if kind != "homestay" else "755"
        if kind == "homestay" and rng.random() < 0.5:
            district = pick_district(rng, list(_DISTRICTS))
        found.append(Establishment(f"LT-{n:04d}", district, kind, rng.randint(low, high)))
    return found


def reported_period(now: datetime, mode: str) -> str:
    """Return the month reported (YYYY-MM) so that its IOC window is still open."""
    today = local(now).date()
    previous = date(today.year - (today.month == 1), (today.month - 2) % 12 + 1, 1)
    if mode == "previous" or (mode == "auto" and today.day <= _LAST_FILING_DAY):
        return f"{previous:%Y-%m}"
    return f"{today:%Y-%m}"


class TourismSim:
    """The tourism department's reporting software, one round of monthly reports."""

    name = "tourism"

    def __init__(self, mix: TourismMix, rng: random.Random, run_tag: str) -> None:
        self._mix = mix
        self._rng = rng
        self._tag = run_tag
        registered = establishments(random.Random(rng.random()), mix.establishments)
        order = registered[:]
        rng.shuffle(order)
        filers = order[: round(len(order) * mix.filing_share)]
        self.late = filers[len(filers) - round(len(filers) * mix.late_share) :]
        self.missing = order[len(filers) :]
        self._queue = filers  # on-time filers first, the late ones at the end
        self._period: str | None = None

    def next_draft(self, now: datetime) -> Draft | None:
        """Return the next establishment's report, or None once every filer has reported."""
        if not self._queue:
            return None
        if self._period is None:
            self._period = reported_period(now, self._mix.period)
        return self._report(self._queue.pop(0), self._period, now)

    def _report(self, place: Establishment, period: str, now: datetime) -> Draft:
        rng = self._rng
        _, _, occupancy, stay = _TYPES[place.kind]
        year, month = (int(part) for part in period.split("-"))
        available = place.rooms * calendar.monthrange(year, month)[1]
        sold = round(available * rng.uniform(*occupancy))
        nights = round(sold * rng.uniform(1.2, 2.0))  # guests per room
        arrivals = min(nights, round(nights / rng.uniform(*stay)))
        international = round(arrivals * rng.uniform(0.0, 0.25))
        payload = {
            "report_id": f"BC-{place.establishment_id}-{period}-{self._tag}",
            "establishment_id": place.establishment_id,
            "district_code": place.district_code,
            "period": period,
            "establishment_type": place.kind,
            "rooms_available": available,
            "rooms_sold": sold,
            "guest_arrivals": arrivals,
            "international_arrivals": international,
            "guest_nights": nights,
            "submitted_at": iso(now),
        }
        return Draft(self.name, TOPIC, EVENT_TYPE, payload)
