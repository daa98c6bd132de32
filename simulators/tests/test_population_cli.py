"""`lgsp population build-db`: builds the synthetic population once, then does nothing."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from lgsp_cli.main import app
from lgsp_simulators.national_population.store import CitizenStore


def test_build_db_builds_then_is_idempotent(tmp_path: Path) -> None:
    target = tmp_path / "citizens.sqlite"
    runner = CliRunner()
    command = ["population", "build-db", "--count", "300", "--seed", "6", "--path", str(target)]
    first = runner.invoke(app, command)
    assert first.exit_code == 0, first.output
    assert "Built 300 citizens" in first.output
    with CitizenStore(target) as store:
        assert store.count() == 300
        assert store.metadata()["seed"] == "6"
    again = runner.invoke(app, command)
    assert again.exit_code == 0
    assert "Already built" in again.output


def test_faults_reports_an_unreachable_upstream() -> None:
    result = CliRunner().invoke(app, ["population", "faults", "--url", "http://127.0.0.1:9"])
    assert result.exit_code == 1
    assert "error" in result.output
