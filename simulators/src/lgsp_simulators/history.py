"""A year of history for every department, imported before the live run starts.

Department systems keep years of figures; when they connect to the LGSP they send them once as
a historical import run (the CloudEvents extension `lgspimport`, here the batch endpoint's
`lgsp-import-run` header), so the IOC's charts start with a year of points. The history is
deterministic: the scenario's seed and the moment it ends (`end`, to the minute) give the same
events, ids and run id, so re-sending a run is recognised by the collector and changes nothing.

Realistic shapes, from the seeds and the province's calendar: Tết (January/February) slows
the one-stop shops and the Treasury and fills the hotels, the summer holidays (June to August)
fill them again, the rainy season (June to October) brings more clinic visits; weekends are
quiet for dossiers and revenue; and the digital-transformation shares (dossiers online, results
digitised, the chip CCCD at clinics, cashless payment) grow over the year. The department
simulators draft the events (`departments/`), each month with its mix and a random stream of
its own, so the live run's events are not changed by the history.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from lgsp_simulators.departments.drafts import LOCAL_TZ, DepartmentSim, Draft, iso, local
from lgsp_simulators.departments.finance import REVENUE_TOPIC, SPENDING_TOPIC, FinanceSim
from lgsp_simulators.departments.health import HealthSim
from lgsp_simulators.departments.plan import run_tag, stream
from lgsp_simulators.departments.tourism import TourismSim, reported_period
from lgsp_simulators.departments.tthc import TthcSim
from lgsp_simulators.ground_truth import VERIFICATION_TOPIC, VERIFICATION_TYPE
from lgsp_simulators.scenario import Scenario

# Events per day before the month's and the weekday's factors.
DAILY = {"finance": 14.0, "health": 18.0, "tthc": 16.0, "verification": 4.0}
# Month factors (January first): Tết, the summer holidays, the rainy season, the year's end.
SEASON = {
    "finance": (0.9, 0.7, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.05, 1.3),
    "health": (1.0, 0.8, 0.95, 0.95, 1.05, 1.15, 1.2, 1.2, 1.15, 1.1, 1.0, 1.0),
    "tthc": (1.1, 0.6, 1.0, 1.0, 1.0, 1.0, 0.95, 1.0, 1.0, 1.0, 1.05, 1.15),
    "tourism": (1.15, 1.3, 1.0, 1.05, 1.0, 1.25, 1.3, 1.2, 0.85, 0.8, 0.8, 0.95),
}
WEEKEND = {"finance": 0.3, "tthc": 0.2, "health": 0.7, "verification": 0.7}
# Each day a KPI with day windows reads gets some events (its history has no gaps).
QUOTAS: dict[str, tuple[tuple[Callable[[Draft], bool], int], ...]] = {
    "finance": ((lambda d: d.topic == REVENUE_TOPIC, 3), (lambda d: d.topic == SPENDING_TOPIC, 3)),
    "health": ((lambda d: bool(d.payload.get("telemedicine")), 1),
               (lambda d: d.payload.get("payment") in ("cash", "cashless"), 2)),
}  # fmt: skip
MASK = "*" * 7


@dataclass(slots=True)
class HistoryEvent:
    """One historical event: the draft and when it happened (its CloudEvent time)."""

    draft: Draft
    at: datetime


@dataclass
class History:
    """A run of historical events per topic, in time order, ready to import."""

    run_id: str
    start: datetime
    end: datetime
    events: dict[str, list[HistoryEvent]] = field(default_factory=dict)

    def count(self) -> int:
        """Return how many events the history holds."""
        return sum(len(found) for found in self.events.values())

    def add(self, draft: Draft, at: datetime) -> None:
        """Add an event (in time order within its topic)."""
        self.events.setdefault(draft.topic, []).append(HistoryEvent(draft, at))


def history_run_id(seed: int, end: datetime) -> str:
    """Return the run id of the history that ends at `end` (deterministic)."""
    return f"history-{seed}-{local(end):%Y%m%dT%H%M}"


def _months_back(moment: datetime, months: int) -> datetime:
    year, month = moment.year, moment.month - months
    while month < 1:
        year, month = year - 1, month + 12
    return moment.replace(year=year, month=month, day=min(moment.day, 28))


def _days(start: datetime, end: datetime) -> Iterator[date]:
    day = start.date()
    while day <= end.date():
        yield day
        day += timedelta(days=1)


def _moments(
    rng: random.Random, day: date, count: int, start: datetime, end: datetime
) -> list[datetime]:
    """Return `count` times in office-ish hours of a local day, inside [start, end), sorted."""
    base = datetime(day.year, day.month, day.day, tzinfo=LOCAL_TZ)
    found = [base + timedelta(seconds=rng.uniform(6.5 * 3600, 21 * 3600)) for _ in range(count)]
    return sorted(local(at) for at in found if start <= at < end)


def _daily_count(rng: random.Random, kind: str, day: date, season: str) -> int:
    factor = DAILY[kind] * SEASON[season][day.month - 1]
    if day.weekday() >= 5:
        factor *= WEEKEND[kind]
    return max(0, round(factor * rng.uniform(0.75, 1.25)))


class HistoryBuilder:
    """Drafts a scenario's history month by month (each month its own mix and streams)."""

    def __init__(self, scenario: Scenario, end: datetime, months: int) -> None:
        self.scenario = scenario
        self.end = local(end)
        self.start = _months_back(self.end, months)
        self.months = months
        self.run_id = history_run_id(scenario.seed, end)
        self._ids = stream(scenario.seed, self.run_id, "history-ids")

    def build(self, requester: str | None) -> History:
        """Return the history of every department the scenario runs (and verifications)."""
        history = History(self.run_id, self.start, self.end)
        weights: dict[str, float] = dict(self.scenario.weights().items())
        month_of: dict[tuple[int, int], dict[str, DepartmentSim]] = {}
        rng = stream(self.scenario.seed, "history", "days")
        for day in _days(self.start, self.end):
            sims = month_of.get((day.year, day.month))
            if sims is None:
                sims = month_of[(day.year, day.month)] = self._sims(day, weights)
            for name, sim in sims.items():
                self._day(history, rng, name, sim, day)
            if requester is not None and weights["health"] > 0:
                count = max(2, _daily_count(rng, "verification", day, "health"))
                for at in _moments(rng, day, count, self.start, self.end):
                    self._add(history, self._verification(rng, requester, at), at)
        if weights["tourism"] > 0:
            self._tourism(history)
        return history

    def _day(
        self, history: History, rng: random.Random, name: str, sim: DepartmentSim, day: date
    ) -> None:
        """Add a department's events of one day, then top up what each daily KPI needs."""
        drafted: list[Draft] = []
        for at in _moments(rng, day, _daily_count(rng, name, day, name), self.start, self.end):
            draft = sim.next_draft(at)
            if draft is not None:
                drafted.append(draft)
                self._add(history, draft, at)
        for wanted, minimum in QUOTAS.get(name, ()):
            found = sum(1 for draft in drafted if wanted(draft))
            for _ in range(200):  # a day's KPI never shows a gap: draw until it has some
                if found >= minimum:
                    break
                moments = _moments(rng, day, 1, self.start, self.end)
                draft = sim.next_draft(moments[0]) if moments else None
                if draft is None:
                    break
                if wanted(draft):
                    found += 1
                    self._add(history, draft, moments[0])

    def _add(self, history: History, draft: Draft, at: datetime) -> None:
        draft.event_id = str(uuid.UUID(int=self._ids.getrandbits(128), version=4))
        draft.identity = None  # history is not verified again
        history.add(draft, at)

    def _progress(self, day: date) -> float:
        """Return how far into the history a day is, 0 (first month) to 1 (the last)."""
        span = (self.end.date() - self.start.date()).days or 1
        return min(1.0, max(0.0, (day - self.start.date()).days / span))

    def _sims(self, day: date, weights: Mapping[str, float]) -> dict[str, DepartmentSim]:
        """Return the month's department systems, their shares as they were that month."""
        scenario, seed, grow = self.scenario, self.scenario.seed, 0.8 + 0.2 * self._progress(day)
        tag = run_tag(f"{self.run_id}-{day:%Y%m}")
        label = f"{day:%Y-%m}"
        tthc = scenario.tthc.model_copy(update={
            "online_share": scenario.tthc.online_share * grow,
            "digitised": {k: v * grow for k, v in scenario.tthc.digitised.items()},
        })  # fmt: skip
        identification = dict(scenario.health.identification)
        identification["cccd_chip"] = identification.get("cccd_chip", 0.0) * grow
        payment = dict(scenario.health.payment)
        payment["cashless"] = payment.get("cashless", 0.0) * grow
        health = scenario.health.model_copy(update={
            "identification": identification, "payment": payment, "verify_share": 0.0,
        })  # fmt: skip
        builders: dict[str, Callable[[], DepartmentSim]] = {
            "finance": lambda: FinanceSim(scenario.finance,
                                          stream(seed, "history", "finance", label), tag),
            "health": lambda: HealthSim(health, scenario.population,
                                        stream(seed, "history", "health", label), tag),
            "tthc": lambda: TthcSim(tthc, stream(seed, "history", "tthc", label), tag),
        }  # fmt: skip
        return {name: build() for name, build in builders.items() if weights[name] > 0}

    def _tourism(self, history: History) -> None:
        """Add the monthly reports of the months before the one the live run reports."""
        live = reported_period(self.end, self.scenario.tourism.period)
        year, month = (int(part) for part in live.split("-"))
        for back in range(self.months, 0, -1):
            y, m = year, month - back
            while m < 1:
                y, m = y - 1, m + 12
            filed = datetime(y + (m == 12), m % 12 + 1, 5, 9, tzinfo=LOCAL_TZ)  # the 5th, after
            rng = stream(self.scenario.seed, "history", "tourism", f"{y}-{m:02d}")
            sim = TourismSim(self.scenario.tourism, rng, run_tag(f"{self.run_id}-{y}{m:02d}"))
            factor = SEASON["tourism"][m - 1]
            step = 0
            while (draft := sim.next_draft(filed)) is not None:
                at = local(filed + timedelta(minutes=step))
                step += 1
                if at >= self.end:
                    break
                _season(draft.payload, factor, at)
                self._add(history, draft, at)

    def _verification(self, rng: random.Random, requester: str, at: datetime) -> Draft:
        outcome = "match" if rng.random() < 0.93 else "no_match"
        province = rng.choice(["077", "077", "077", "079", "072", "068", "001"])
        payload: dict[str, Any] = {
            "verification_id": f"XT-{at:%Y%m%d}-{rng.getrandbits(48):012x}",
            "requester": requester,
            "purpose": self.scenario.population.purpose,
            "outcome": outcome,
            "cccd_masked": f"{province}{MASK}{rng.randint(0, 99):02d}",
            "province_code": province,
            "verified_at": iso(at),
        }
        return Draft("population", VERIFICATION_TOPIC, VERIFICATION_TYPE, payload)


def _season(payload: dict[str, Any], factor: float, at: datetime) -> None:
    """Scale a monthly report's guests by the month's season (rooms sold within those free)."""
    sold = min(payload["rooms_available"], round(payload["rooms_sold"] * factor))
    scale = sold / payload["rooms_sold"] if payload["rooms_sold"] else 1.0
    payload["rooms_sold"] = sold
    for name in ("guest_arrivals", "international_arrivals", "guest_nights"):
        payload[name] = round(payload[name] * scale)
    payload["guest_arrivals"] = min(payload["guest_arrivals"], payload["guest_nights"])
    payload["international_arrivals"] = min(payload["international_arrivals"],
                                            payload["guest_arrivals"])  # fmt: skip
    payload["submitted_at"] = iso(at)
