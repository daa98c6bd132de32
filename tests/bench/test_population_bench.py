"""The population bench: disjoint ids per scenario (a cold cache is cold), no wrapped ids, and
only 2xx answers count."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import population_bench
import pytest
from wrk_load import WrkResult

from lgsp_simulators.national_population.generator import generate_citizens


def _fake_wrk(requests: int, ok: int) -> Any:
    def run(*_: Any, **__: Any) -> WrkResult:
        return WrkResult(requests, ok, requests - ok, 0, 10.0, 1.0, 2.0)

    return run


def test_a_run_that_would_repeat_an_id_is_an_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    bodies = tmp_path / "cold.jsonl"
    bodies.write_text("{}\n" * 100)
    monkeypatch.setattr(population_bench, "run_wrk", _fake_wrk(101, 101))
    assert population_bench.wrk("cold", "u", bodies, 1, 1, distinct=True).errors == 1
    assert population_bench.wrk("warm", "u", bodies, 1, 1, distinct=False).errors == 0
    monkeypatch.setattr(population_bench, "run_wrk", _fake_wrk(50, 49))
    assert population_bench.wrk("x", "u", bodies, 1, 1, distinct=True).errors == 1


def test_baseline_cold_and_warm_read_disjoint_citizens(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: dict[str, set[str]] = {}

    def record(name: str, url: str, bodies: Path, *_: Any, **__: Any) -> Any:
        seen[name] = {json.loads(line)["cccd"] for line in bodies.read_text().splitlines()}
        return population_bench.Result(name, 1, 1.0, 1.0, 1.0, 0)

    async def no_warm_up(*_: Any) -> None:
        return None

    monkeypatch.setattr(population_bench, "wrk", record)
    monkeypatch.setattr(population_bench, "warm_up", no_warm_up)
    citizens = list(generate_citizens(population_bench.SEED, 3000))
    population_bench.measure("http://up", "http://ad", citizens, 1, 1)
    base, cold = seen["upstream alone (baseline)"], seen["adapter, cold cache"]
    warm = seen["adapter, warm cache"]
    assert base and cold and warm
    assert not base & cold and not base & warm and not cold & warm


def test_the_figures_compare_cold_with_the_upstream_and_any_error_invalidates() -> None:
    results = [
        population_bench.Result("base", 100, 2000.0, 5.0, 50.0, 0),
        population_bench.Result("cold", 100, 1200.0, 9.0, 80.0, 0),
        population_bench.Result("warm", 100, 6000.0, 2.0, 8.0, 1),
    ]
    _, cold, _, warm, warm_p99 = population_bench.population_figures(results)
    assert cold.ratio == 0.6 and cold.met
    assert not warm.valid and warm.met is False and not warm_p99.valid
