"""Finance (Sở Tài chính): state-budget revenue by category and district, and investment spending.

The department imports each day's figures from the State Treasury system the day after
(DOMAIN.md). The import goes through the Treasury's receipts in batches and sends one record
per batch of one (district, category), so a day's revenue grows on the IOC as it proceeds.
Orders of magnitude follow Bà Rịa - Vũng Tàu's budget: oil and gas and import-export duties are
large and stay with the central budget; domestic revenue is shared with the locality.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from lgsp_simulators.departments.drafts import (
    DISTRICTS,
    Draft,
    local,
    pick,
    pick_district,
    round_to,
)
from lgsp_simulators.scenario import FinanceMix

REVENUE_TOPIC = "finance.budget-revenue.v1"
SPENDING_TOPIC = "finance.investment-spending.v1"
REVENUE_TYPE = "vn.gov.lgsp.finance.budget-revenue.reported"
SPENDING_TYPE = "vn.gov.lgsp.finance.investment-spending.reported"
MILLION = 1_000_000

# (category, record-id code, districts, mean amount per import batch in VND, share kept locally)
_CATEGORIES: tuple[tuple[str, str, tuple[str, ...], float, tuple[float, float]], ...] = (
    ("oil_gas", "DK", ("747",), 4.5e9, (0.0, 0.0)),
    ("import_export", "XNK", ("754", "747"), 2.4e9, (0.0, 0.0)),
    ("domestic", "ND", tuple(DISTRICTS), 0.38e9, (0.55, 0.8)),
    ("other", "K", tuple(DISTRICTS), 0.05e9, (1.0, 1.0)),
)
_CATEGORY_WEIGHTS = {0: 0.12, 1: 0.18, 2: 0.5, 3: 0.2}
_FUNDING = {"province_budget": 0.6, "central_budget": 0.3, "oda": 0.1}
_PROJECT_KINDS = ("GT", "TL", "YT", "GD", "DT", "MT", "CN")  # roads, irrigation, health...


@dataclass(frozen=True, slots=True)
class Project:
    """A development-investment project managed by the locality."""

    code: str
    district_code: str
    funding_source: str
    daily_plan_vnd: int


def projects(rng: random.Random, count: int) -> list[Project]:
    """Return the province's investment projects (deterministic for a seeded rng)."""
    found = []
    for n in range(1, count + 1):
        district = pick_district(rng)
        funding = pick(rng, _FUNDING)
        prefix = "ODA" if funding == "oda" else "DA"
        kind = rng.choice(_PROJECT_KINDS)
        code = f"{prefix}-{kind}-{district}-{2021 + n % 4}-{n:02d}"
        plan = round_to(rng.lognormvariate(20.5, 0.8), MILLION)  # ~ 0.8 billion per batch
        found.append(Project(code, district, funding, max(plan, 100 * MILLION)))
    return found


class FinanceSim:
    """The Finance Department's Treasury import."""

    name = "finance"

    def __init__(self, mix: FinanceMix, rng: random.Random, run_tag: str) -> None:
        self._mix = mix
        self._rng = rng
        self._tag = run_tag
        self._projects = projects(random.Random(rng.random()), mix.projects)
        self._sequence = 0

    def next_draft(self, now: datetime) -> Draft:
        """Return the next revenue or spending record."""
        self._sequence += 1
        days_back = 2 if self._rng.random() < self._mix.day_before_share else 1
        day = (local(now) - timedelta(days=days_back)).date()
        if self._rng.random() < self._mix.revenue_share:
            return self._revenue(day.isoformat())
        return self._spending(day.isoformat())

    def _revenue(self, day: str) -> Draft:
        rng = self._rng
        category, code, districts, mean, kept = _CATEGORIES[pick(rng, _CATEGORY_WEIGHTS)]
        district = pick_district(rng, districts)
        amount = round_to(rng.lognormvariate(0, 0.45) * mean, MILLION)
        retained = round_to(amount * rng.uniform(*kept), MILLION)
        compact = day.replace("-", "")
        payload = {
            "record_id": f"STC-THU-{compact}-{district}-{code}-{self._tag}{self._sequence:06d}",
            "report_date": day,
            "district_code": district,
            "category": category,
            "amount_vnd": amount,
            "locally_retained_vnd": min(retained, amount),
        }
        return Draft(self.name, REVENUE_TOPIC, REVENUE_TYPE, payload)

    def _spending(self, day: str) -> Draft:
        rng = self._rng
        project = rng.choice(self._projects)
        planned = project.daily_plan_vnd
        # Disbursement lags the plan (the national worry every year): 30% to 110% of it.
        disbursed = round_to(planned * rng.uniform(0.3, 1.1), MILLION)
        compact = day.replace("-", "")
        payload = {
            "record_id": f"STC-DTPT-{compact}-{self._tag}{self._sequence:06d}",
            "report_date": day,
            "district_code": project.district_code,
            "project_code": project.code,
            "funding_source": project.funding_source,
            "disbursed_vnd": disbursed,
            "planned_vnd": planned,
        }
        return Draft(self.name, SPENDING_TOPIC, SPENDING_TYPE, payload)
