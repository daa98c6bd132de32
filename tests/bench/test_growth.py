"""Growth: the factors 1, 2, 4 of a base, ratios to the 1x point, an invalid point invalidates."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from figures import Figure, finish
from growth import Growth, Point, agrow, grow


def _linear(scale: int) -> Point:
    """A throughput that doubles with the load, a baseline that stays, p99 that grows."""
    return Point(float(scale * 10), p99_ms=scale / 10, baseline=1000.0, baseline_p99_ms=1.0)


def test_each_factor_is_measured_at_base_times_factor_with_its_ratio_to_1x(
    capsys: pytest.CaptureFixture[str],
) -> None:
    asked: list[int] = []

    def measure(scale: int) -> Point:
        asked.append(scale)
        return _linear(scale)

    growth = grow("single events/s", "req/s", "load", "connections", 64, measure, "raw")
    assert asked == [64, 128, 256]
    assert [p.factor for p in growth.points] == [1, 2, 4]
    assert [p.scale for p in growth.points] == [64, 128, 256]
    assert [growth.growth(p) for p in growth.points] == [1.0, 2.0, 4.0]
    assert [p.ratio for p in growth.points] == [0.64, 1.28, 2.56]
    assert growth.valid
    saved = growth.as_dict()
    assert [p["growth"] for p in saved["points"]] == [1.0, 2.0, 4.0]
    assert [p["p99_growth"] for p in saved["points"]] == [1.0, 2.0, 4.0]
    assert [p["baseline_growth"] for p in saved["points"]] == [1.0, 1.0, 1.0]
    assert saved["axis"] == "load" and saved["scale_unit"] == "connections"
    printed = capsys.readouterr().out
    assert "» growth of single events/s: 2x = 128 connections" in printed  # progress
    assert "growth of single events/s (load: connections; baseline raw)" in printed  # the table
    assert "INVALID" not in printed


@pytest.mark.parametrize("failure", ["error", "raise"])
def test_a_failed_point_makes_the_growth_invalid_and_the_bench_exit_1(
    failure: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    def measure(scale: int) -> Point:
        if scale == 20:
            if failure == "raise":
                raise RuntimeError("broker gone")
            return Point(1.0, errors=3)
        return _linear(scale)

    growth = grow("events/s", "events/s", "data size", "events", 10, measure)
    assert [p.factor for p in growth.points] == [1, 2, 4], "the other factors still run"
    assert not growth.points[1].valid and growth.growth(growth.points[1]) is None
    assert not growth.valid
    assert "INVALID" in capsys.readouterr().out
    out = tmp_path / "figures.json"
    good = Figure("events/s", 1.0, "events/s")
    assert finish("b", [good], out, [growth]) == 1
    saved = json.loads(out.read_text())
    assert saved["growth"][0]["valid"] is False
    assert saved["growth"][0]["points"][1]["valid"] is False
    if failure == "raise":
        assert "broker gone" in saved["growth"][0]["points"][1]["note"]


def test_valid_growth_keeps_the_exit_status_0_and_is_saved_next_to_the_figures(
    tmp_path: Path,
) -> None:
    growth = asyncio.run(_agrow())
    out = tmp_path / "figures.json"
    assert finish("b", [Figure("events/s", 1.0, "events/s")], out, [growth]) == 0
    saved = json.loads(out.read_text())
    assert saved["figures"][0]["name"] == "events/s"
    assert [p["scale"] for p in saved["growth"][0]["points"]] == [5, 10, 20]
    assert finish("b", [Figure("events/s", 1.0, "events/s")], out) == 0
    assert json.loads(out.read_text())["growth"] == []


async def _agrow() -> Growth:
    async def measure(scale: int) -> Point:
        await asyncio.sleep(0)
        return _linear(scale)

    return await agrow("events/s", "events/s", "data size", "events", 5, measure)


def test_a_missing_factor_is_invalid() -> None:
    growth = grow("x", "/s", "load", "senders", 1, _linear)
    growth.points.pop()
    assert not growth.valid
