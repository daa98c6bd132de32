"""History before the live run: valid events, deterministic, a year long, no gap in daily KPIs."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from jsonschema import Draft202012Validator

from lgsp_simulators.history import HistoryBuilder, history_run_id
from lgsp_simulators.scenario import load_scenario

ROOT = Path(__file__).resolve().parents[2]
END = datetime(2026, 12, 2, 7, 30, tzinfo=UTC)


def validator(topic: str) -> Draft202012Validator:
    schema = json.loads((ROOT / "contracts/topics" / topic / "v1.schema.json").read_text())
    return Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)


def test_a_year_of_history_is_valid_deterministic_and_without_gaps() -> None:
    scenario = load_scenario(ROOT / "scenarios/default.yaml")
    history = HistoryBuilder(scenario, END, 12).build("000.00.23.H03")
    again = HistoryBuilder(scenario, END, 12).build("000.00.23.H03")
    assert history.run_id == again.run_id == history_run_id(scenario.seed, END)
    assert [e.draft.payload for e in history.events["tthc.dossier.v1"]] == [
        e.draft.payload for e in again.events["tthc.dossier.v1"]
    ]
    assert 15_000 < history.count() < 40_000
    ids = [e.draft.event_id for found in history.events.values() for e in found]
    assert len(set(ids)) == len(ids)
    for topic, events in history.events.items():
        check = validator(topic)
        for event in events[:: max(1, len(events) // 300)]:
            assert not list(check.iter_errors(event.draft.payload)), (topic, event.draft.payload)
            assert history.start <= event.at < history.end
    visits = history.events["health.medical-visit.v1"]
    days = {e.draft.payload["visit_time"][:10] for e in visits if e.draft.payload["telemedicine"]}
    first = history.start.date() + timedelta(days=1)
    wanted = {(first + timedelta(days=n)).isoformat() for n in range((END.date() - first).days)}
    assert wanted <= days  # telemedicine visits every day: the daily chart has no gap
    periods = {e.draft.payload["period"] for e in history.events["tourism.accommodation-report.v1"]}
    assert len(periods) == 12
