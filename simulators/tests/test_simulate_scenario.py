"""Scenario files load and are checked; `lgsp simulate --offline` writes its record and truth."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from lgsp_cli.main import app
from lgsp_simulators.replay import read_stream
from lgsp_simulators.scenario import Scenario, ScenarioError, load_scenario

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("path", sorted((ROOT / "scenarios").glob("*.yaml")), ids=lambda p: p.name)
def test_every_scenario_in_the_repository_loads(path: Path) -> None:
    scenario = load_scenario(path)
    assert scenario.name == path.stem
    assert sum(scenario.weights().values()) > 0


def test_default_scenario_reproduces_the_seeds_shares() -> None:
    scenario = load_scenario(ROOT / "scenarios/default.yaml")
    assert scenario.tthc.online_share == 0.536
    assert scenario.tourism.establishments == 476
    assert scenario.faults.invalid_share > 0


def test_unknown_keys_and_bad_weights_are_named(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("name: bad\nhealth:\n  verify_shares: 0.5\n")
    with pytest.raises(ScenarioError, match=r"bad\.yaml: health\.verify_shares"):
        load_scenario(path)
    path.write_text("tthc:\n  levels: {ward: 1}\n")
    with pytest.raises(ScenarioError, match="unknown keys"):
        load_scenario(path)
    path.write_text("departments: {finance: 0, health: 0, tourism: 0, tthc: 0}\n")
    with pytest.raises(ScenarioError, match="not all be zero"):
        load_scenario(path)


def test_batch_size_is_single_events_at_gentle_rates() -> None:
    assert Scenario().chosen_batch_size(5) == 1
    assert Scenario().chosen_batch_size(50) == 10
    assert Scenario().chosen_batch_size(100_000) == 500
    assert Scenario(batch_size=7).chosen_batch_size(5) == 7


def test_offline_run_writes_a_record_and_a_ground_truth(tmp_path: Path) -> None:
    truth, record = tmp_path / "truth.json", tmp_path / "stream.jsonl"
    result = CliRunner().invoke(app, [
        "simulate", "--offline", "--events", "800", "--run-id", "offline-test",
        "--ground-truth", str(truth), "--record", str(record), "--quiet",
    ])  # fmt: skip
    assert result.exit_code == 0, result.output
    document = json.loads(truth.read_text())
    accepted = sum(topic["count"] for topic in document["topics"].values())
    assert accepted + len(document["invalid"]) == 800
    assert all(item["rule"] and item["pointer"].startswith("/") for item in document["invalid"])
    visits = document["topics"]["health.medical-visit.v1"]["count"]
    chip_share = document["kpis"]["medical-visits-cccd-chip-share"]["windows"]
    assert visits > 0 and chip_share and 20 < chip_share[0]["value"] < 70
    streamed = list(read_stream(record))
    assert len(streamed) == 800
    sources = {event["source"] for _, event in streamed}
    assert "/sources/syt-kham-chua-benh" in sources
    assert all(source.startswith("/sources/") and "-" in source for source in sources)
    assert {event["id"] for _, event in streamed} >= set(
        document["topics"]["tthc.dossier.v1"]["accepted"]
    )


def test_a_broken_record_line_is_named(tmp_path: Path) -> None:
    path = tmp_path / "stream.jsonl"
    path.write_text('{"topic": "t", "event": {}}\nnot json\n')
    with pytest.raises(ValueError, match=r"stream\.jsonl:2"):
        list(read_stream(path))
