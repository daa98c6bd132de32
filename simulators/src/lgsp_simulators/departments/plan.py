"""The event plan: departments interleaved by weight, ids, broken events, a department silenced.

Deterministic: each department draws from its own random stream derived from the scenario's
seed, so silencing or removing one department does not change what the others send. Event
ids come from a stream seeded by the seed and the run id, so two runs of one scenario never
reuse an id (the collector would take the second for a duplicate) unless asked to.
"""

from __future__ import annotations

import random
import uuid
from collections import Counter
from collections.abc import Callable
from datetime import datetime

from lgsp_simulators.departments.drafts import DepartmentSim, Draft
from lgsp_simulators.departments.faults import break_draft
from lgsp_simulators.departments.finance import FinanceSim
from lgsp_simulators.departments.health import HealthSim
from lgsp_simulators.departments.tourism import TourismSim
from lgsp_simulators.departments.tthc import TthcSim
from lgsp_simulators.scenario import Department, Scenario


def stream(seed: int, *labels: str) -> random.Random:
    """Return a random stream of its own for a seed and labels (stable across Python runs)."""
    return random.Random(":".join([str(seed), *labels]))


def run_tag(run_id: str) -> str:
    """Return the short tag that keeps entity ids of different runs apart."""
    return uuid.uuid5(uuid.NAMESPACE_URL, f"lgsp-run:{run_id}").hex[:6].upper()


def departments(scenario: Scenario, run_id: str) -> dict[Department, DepartmentSim]:
    """Build the department simulators of a scenario (those with a weight above zero)."""
    seed, tag = scenario.seed, run_tag(run_id)
    builders: dict[Department, Callable[[], DepartmentSim]] = {
        "finance": lambda: FinanceSim(scenario.finance, stream(seed, "finance"), tag),
        "health": lambda: HealthSim(
            scenario.health, scenario.population, stream(seed, "health"), tag
        ),
        "tourism": lambda: TourismSim(scenario.tourism, stream(seed, "tourism"), tag),
        "tthc": lambda: TthcSim(scenario.tthc, stream(seed, "tthc"), tag),
    }
    return {name: build() for name, build in builders.items() if scenario.weights()[name] > 0}


class Plan:
    """Hands out the scenario's events one at a time, in order."""

    def __init__(self, scenario: Scenario, run_id: str, limit: int | None = None) -> None:
        self.scenario = scenario
        self.limit = limit
        self.sims = departments(scenario, run_id)
        self.sent: Counter[str] = Counter()
        self.finished: set[str] = set()
        self._mix = stream(scenario.seed, "mix")
        self._faults = stream(scenario.seed, "faults")
        self._ids = stream(scenario.seed, run_id, "ids")
        self.planned = 0

    def is_silenced(self, name: str) -> bool:
        """Tell whether the scenario has silenced this department by now."""
        silence = self.scenario.faults.silence
        return (
            silence is not None
            and silence.department == name
            and (self.sent[name] >= silence.after_events)
        )

    def active(self) -> list[Department]:
        """Return the departments still sending."""
        return [d for d in self.sims if not self.is_silenced(d) and d not in self.finished]

    def next(self, now: datetime) -> Draft | None:
        """Return the next event, or None when the plan is over (limit reached or all done)."""
        if self.limit is not None and self.planned >= self.limit:
            return None
        while active := self.active():
            weights = self.scenario.weights()
            name = self._mix.choices(active, weights=[weights[d] for d in active], k=1)[0]
            draft = self.sims[name].next_draft(now)
            if draft is None:
                self.finished.add(name)
                continue
            return self._finish(name, draft)
        return None

    def _finish(self, name: Department, draft: Draft) -> Draft:
        draft.event_id = str(uuid.UUID(int=self._ids.getrandbits(128), version=4))
        if self._faults.random() < self.scenario.faults.invalid_share:
            draft = break_draft(draft, self._faults)
        self.planned += 1
        self.sent[name] += 1
        return draft
