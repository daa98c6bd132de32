"""Figures: an error invalidates, ratios against the baseline, targets, the exit status."""

from __future__ import annotations

import json
from pathlib import Path

from figures import Figure, Target, finish, invalid, percentile


def test_a_figure_with_any_error_is_invalid_and_never_meets_its_target() -> None:
    figure = Figure("single events/s", 9000.0, "req/s", 10000.0, target=Target(">=", 5000))
    assert figure.valid and figure.met
    figure.errors = 1
    assert not figure.valid
    assert figure.met is False


def test_the_ratio_is_value_over_the_baseline_and_a_ratio_target_reads_it() -> None:
    figure = Figure("batch", 40.0, "events/s", 100.0, target=Target(">=", 0.5, "ratio"))
    assert figure.ratio == 0.4
    assert figure.met is False
    figure.value = 60.0
    assert figure.met is True
    assert Figure("no baseline", 1.0, "x").ratio is None
    assert Figure("zero baseline", 1.0, "x", 0.0).ratio is None


def test_upper_bound_targets() -> None:
    assert Figure("p99", 9.9, "ms", target=Target("<", 10)).met is True
    assert Figure("p99", 10.0, "ms", target=Target("<", 10)).met is False
    assert Figure("no target", 1.0, "ms").met is None


def test_a_figure_that_could_not_be_measured_is_invalid() -> None:
    figure = invalid("freshness p99", "ms", "RuntimeError('boom')", Target("<", 100))
    assert not figure.valid
    assert figure.met is False
    assert figure.as_dict()["valid"] is False


def test_finish_exits_1_on_any_invalid_figure_and_writes_the_json(
    tmp_path: Path, capsys: object
) -> None:
    good = Figure("a", 1.0, "/s", 2.0, "base", Target(">=", 0.4, "ratio"))
    bad = Figure("b", 5.0, "/s", errors=3)
    out = tmp_path / "figures.json"
    assert finish("bench", [good], out) == 0
    assert finish("bench", [good, bad], out) == 1
    assert finish("bench", [], None) == 1, "no figures at all is a failure too"
    saved = json.loads(out.read_text())
    assert saved["bench"] == "bench"
    assert [f["valid"] for f in saved["figures"]] == [True, False]
    assert (
        saved["figures"][0] | {"ratio": 0.5, "met": True, "target": "ratio >= 0.4"}
        == (saved["figures"][0])
    )


def test_percentile_is_nearest_rank() -> None:
    values = [float(n) for n in range(1, 101)]
    assert percentile(values, 0.5) == 50.0
    assert percentile(values, 0.99) == 99.0
    assert percentile([3.0], 0.99) == 3.0
