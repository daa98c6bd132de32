"""The plan: deterministic by seed, shares as the scenario says, times in open windows, faults."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

from lgsp_simulators.departments.drafts import LOCAL_TZ, Draft
from lgsp_simulators.departments.plan import Plan
from lgsp_simulators.departments.tourism import reported_period
from lgsp_simulators.scenario import (
    DepartmentMix,
    Faults,
    Scenario,
    Silence,
    TourismMix,
    load_scenario,
)

ROOT = Path(__file__).resolve().parents[2]
NOW = datetime(2026, 11, 23, 7, 0, tzinfo=UTC)


def run(scenario: Scenario, count: int, run_id: str = "r1", now: datetime = NOW) -> list[Draft]:
    """Return up to `count` drafts of a plan at a fixed clock."""
    plan = Plan(scenario, run_id, count)
    return [d for _ in range(count) if (d := plan.next(now)) is not None]


def test_same_seed_and_run_give_the_same_events() -> None:
    scenario = load_scenario(ROOT / "scenarios/default.yaml")
    first, second = run(scenario, 1500), run(scenario, 1500)
    assert [(d.event_id, d.topic, d.payload) for d in first] == [
        (d.event_id, d.topic, d.payload) for d in second
    ]
    assert [d.identity for d in first] == [d.identity for d in second]


def test_another_run_id_changes_ids_only() -> None:
    scenario = load_scenario(ROOT / "scenarios/default.yaml")
    first, other = run(scenario, 500, "r1"), run(scenario, 500, "r2")
    assert {d.event_id for d in first}.isdisjoint(d.event_id for d in other)
    assert [d.topic for d in first] == [d.topic for d in other]
    amounts = [(d.payload.get("amount_vnd"), d.payload.get("district_code")) for d in first]
    assert amounts == [(d.payload.get("amount_vnd"), d.payload.get("district_code")) for d in other]


def test_another_seed_gives_other_events() -> None:
    base = load_scenario(ROOT / "scenarios/default.yaml")
    first = run(base, 300)
    other = run(base.model_copy(update={"seed": base.seed + 1}), 300)
    assert [d.payload for d in first] != [d.payload for d in other]


def test_event_ids_and_entity_ids_are_unique() -> None:
    drafts = run(load_scenario(ROOT / "scenarios/default.yaml"), 5000)
    assert len({d.event_id for d in drafts}) == len(drafts)
    keys = Counter(
        d.payload.get("visit_id") or d.payload.get("record_id") or d.payload.get("report_id")
        for d in drafts
        if d.topic != "tthc.dossier.v1"
    )
    assert keys.most_common(1)[0][1] == 1


def test_shares_follow_the_scenario() -> None:
    drafts = run(Scenario(), 20_000)
    by_department = Counter(d.department for d in drafts)
    submitted = [d for d in drafts if d.payload.get("status") == "submitted"]
    online = sum(d.payload["channel"] == "online" for d in submitted) / len(submitted)
    visits = [d for d in drafts if d.topic == "health.medical-visit.v1"]
    chip = sum(d.payload["identification"] == "cccd_chip" for d in visits) / len(visits)
    assert abs(online - 0.536) < 0.03
    assert abs(chip - 0.45) < 0.03
    # Tourism finishes its round early; the others keep their relative weights.
    assert abs(by_department["health"] / by_department["tthc"] - 1.0) < 0.06
    assert abs(by_department["finance"] / by_department["health"] - 0.15 / 0.35) < 0.03
    verified = sum(d.identity is not None for d in visits) / len(visits)
    assert abs(verified - 0.45 * 0.8) < 0.03


def test_tourism_files_one_report_per_filer_then_stops() -> None:
    scenario = Scenario(departments=DepartmentMix(finance=0, health=0, tourism=1, tthc=0),
                        tourism=TourismMix(filing_share=0.88, late_share=0.1))  # fmt: skip
    drafts = run(scenario, 2000)
    filers = round(476 * 0.88)
    assert len(drafts) == filers
    ids = [d.payload["establishment_id"] for d in drafts]
    assert len(set(ids)) == filers
    assert all(1 <= int(i[3:]) <= 476 for i in ids)
    assert {d.payload["period"] for d in drafts} == {"2026-11"}


def test_reported_period_stays_in_an_open_month() -> None:
    early = datetime(2026, 1, 10, 3, 0, tzinfo=UTC)
    late = datetime(2026, 1, 20, 3, 0, tzinfo=UTC)
    assert reported_period(early, "auto") == "2025-12"
    assert reported_period(late, "auto") == "2026-01"
    assert reported_period(late, "previous") == "2025-12"
    new_year_local = datetime(2025, 12, 31, 18, 0, tzinfo=UTC)  # 1 Jan 2026, 01:00 in Vietnam
    assert reported_period(new_year_local, "current") == "2026-01"


def test_silenced_department_stops_after_its_quota_others_go_on() -> None:
    scenario = Scenario(faults=Faults(silence=Silence(department="tthc", after_events=40)))
    drafts = run(scenario, 2000)
    tthc = [i for i, d in enumerate(drafts) if d.department == "tthc"]
    assert len(tthc) == 40
    assert len(drafts) == 2000
    assert tthc[-1] < 400  # it went quiet early; the others filled the stream


def test_invalid_share_is_respected_and_marked() -> None:
    drafts = run(Scenario(faults=Faults(invalid_share=0.1)), 5000)
    broken = sum(d.broken is not None for d in drafts) / len(drafts)
    assert abs(broken - 0.1) < 0.02


def _times(draft: Draft) -> list[datetime]:
    keys = ("visit_time", "submitted_at", "returned_at")
    return [datetime.fromisoformat(draft.payload[k]) for k in keys if k in draft.payload]


def test_event_times_are_never_ahead_and_stay_in_open_windows() -> None:
    midnight = datetime(2026, 11, 30, 17, 0, 30, tzinfo=UTC)  # 00:00:30 on 1 Dec, Vietnam time
    for now in (NOW, midnight):
        drafts = run(Scenario(), 3000, now=now)
        for draft in drafts:
            for moment in _times(draft):
                assert moment <= now
            if draft.topic == "health.medical-visit.v1":
                assert now - _times(draft)[0] <= timedelta(seconds=90)
            if draft.topic.startswith("finance."):
                day = datetime.fromisoformat(draft.payload["report_date"]).date()
                assert 1 <= (now.astimezone(LOCAL_TZ).date() - day).days <= 2
            if draft.payload.get("status") == "returned":
                assert now - datetime.fromisoformat(draft.payload["returned_at"]) <= timedelta(
                    seconds=60
                )


def test_returned_dossiers_say_whether_they_were_on_time() -> None:
    drafts = [d for d in run(Scenario(), 6000) if d.payload.get("status") == "returned"]
    for draft in drafts:
        due = datetime.fromisoformat(draft.payload["due_at"])
        returned = datetime.fromisoformat(draft.payload["returned_at"])
        assert draft.payload["on_time"] is (returned <= due)
    late = sum(not d.payload["on_time"] for d in drafts) / len(drafts)
    assert 0.02 < late < 0.25
