"""The ground-truth file of a run: what was sent, what was refused and why, and the KPI values.

Written at the end of every run (and on Ctrl-C), as JSON:
- `topics`: per topic, the ids of the events the gateway accepted (202), and for
  `population.verification.v1` the verification ids the adapter answered with;
- `invalid`: every deliberately broken event with the rule and pointer its DLQ record must name;
- `refused`: events refused although valid (should stay empty), and `uncertain`: calls whose
  effect cannot be known (a 503 from the population path); `exact` is true when both are empty;
- `kpis`: per KPI, every window's value, every cell (all dimensions set) and every single
  dimension's roll-up, from the independent evaluator (`kpi_eval`) over the accepted events.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from lgsp_simulators.departments.drafts import Draft
from lgsp_simulators.kpi_eval import Observed, evaluate, load_definitions

VERIFICATION_TOPIC = "population.verification.v1"
VERIFICATION_TYPE = "vn.gov.lgsp.population.verification.completed"


@dataclass
class GroundTruth:
    """Collects a run's outcomes; `document()` turns them into the ground-truth JSON."""

    scenario: str
    seed: int
    run_id: str
    started_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    sources: dict[str, str] = field(default_factory=dict)
    accepted: dict[str, list[str]] = field(default_factory=dict)
    observed: list[Observed] = field(default_factory=list)
    invalid: list[dict[str, Any]] = field(default_factory=list)
    refused: list[dict[str, Any]] = field(default_factory=list)
    uncertain: list[dict[str, Any]] = field(default_factory=list)
    verifications: Counter[str] = field(default_factory=Counter)
    planned: Counter[str] = field(default_factory=Counter)
    notes: dict[str, Any] = field(default_factory=dict)
    # What each consumer department read (pull or webhook), against what was accepted.
    consumers: dict[str, Any] = field(default_factory=dict)

    def accept(self, draft: Draft, time: datetime) -> None:
        """Record an event the gateway acknowledged."""
        self.accepted.setdefault(draft.topic, []).append(draft.event_id)
        self.observed.append(
            Observed(draft.event_id, draft.topic, draft.event_type, time, draft.payload)
        )

    def refuse(self, draft: Draft, status: int, problem: dict[str, Any] | None) -> None:
        """Record a refusal: expected for broken events, a finding for valid ones."""
        rules = sorted({str(e.get("rule")) for e in (problem or {}).get("errors", [])})
        entry = {"id": draft.event_id, "topic": draft.topic, "status": status, "rules": rules,
                 "source": self.sources.get(draft.topic)}  # fmt: skip
        if draft.broken is None:
            self.refused.append(entry)
            return
        broken = draft.broken
        self.invalid.append(
            {**entry, "mutation": broken.mutation, "rule": broken.rule, "pointer": broken.pointer}
        )

    def verified(self, answer: dict[str, Any], requester: str, purpose: str, cccd: str) -> None:
        """Record a verification the adapter answered (it publishes the same outcome)."""
        outcome = str(answer["outcome"])
        self.verifications[outcome] += 1
        payload = {
            "verification_id": answer["verification_id"],
            "requester": requester,
            "purpose": purpose,
            "outcome": outcome,
            "cccd_masked": answer["cccd_masked"],
            "province_code": cccd[:3],
            "verified_at": answer["verified_at"],
        }
        event_id = str(answer["verification_id"])
        self.accepted.setdefault(VERIFICATION_TOPIC, []).append(event_id)
        time = datetime.fromisoformat(str(answer["verified_at"]))
        self.observed.append(
            Observed(event_id, VERIFICATION_TOPIC, VERIFICATION_TYPE, time, payload)
        )

    def unsure(self, what: str, draft: Draft, detail: str) -> None:
        """Record a call whose effect on the platform cannot be known."""
        self.uncertain.append({"what": what, "id": draft.event_id, "detail": detail})

    def document(self, kpis_dir: Path) -> dict[str, Any]:
        """Return the ground truth, KPIs evaluated from the accepted events."""
        definitions = load_definitions(kpis_dir)
        return {
            "scenario": self.scenario,
            "seed": self.seed,
            "run_id": self.run_id,
            "started_at": self.started_at.isoformat(),
            "finished_at": datetime.now(UTC).isoformat(),
            "exact": not self.refused and not self.uncertain,
            "planned": dict(self.planned),
            "sources": self.sources,
            "topics": {
                topic: {"count": len(ids), "accepted": ids}
                for topic, ids in sorted(self.accepted.items())
            },
            "invalid": self.invalid,
            "refused": self.refused,
            "uncertain": self.uncertain,
            "verifications": dict(self.verifications),
            "notes": self.notes,
            "consumers": self.consumers,
            "kpis": evaluate(definitions, self.observed),
        }

    def write(self, path: Path, kpis_dir: Path) -> dict[str, Any]:
        """Write the ground-truth JSON file (atomically) and return it."""
        document = self.document(kpis_dir)
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_suffix(path.suffix + ".tmp")
        temporary.write_text(json.dumps(document, ensure_ascii=False, indent=1), "utf-8")
        temporary.replace(path)
        return document
