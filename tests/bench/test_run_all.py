"""run_all: figures read back from each bench's JSON, a failing bench fails the run, the
published table marks invalid figures; a smoke run of one quick bench."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import run_all
from results_table import markdown, tried_notes


def test_every_bench_writes_its_figures_as_json() -> None:
    assert all(bench.parse is None for bench in run_all.BENCHES)


def test_a_bench_that_exits_non_zero_fails_the_run(tmp_path: Path) -> None:
    script = tmp_path / "broken_bench.py"
    script.write_text(
        "import json, sys\n"
        "out = sys.argv[sys.argv.index('--json') + 1]\n"
        "json.dump({'bench': 'b', 'figures': [{'name': 'x', 'value': 1.0, 'unit': '/s',"
        " 'valid': True}]}, open(out, 'w'))\n"
        "sys.exit(1)\n"
    )
    bench = run_all.Bench("broken", str(script), [], [], needs_kafka=False)
    run = run_all.run_bench(bench, True, {}, tmp_path)
    assert run.status == 1 and not run.ok
    assert run.error == "exit status 1"


GROWTH = {
    "name": "single events/s", "unit": "req/s", "axis": "load", "scale_unit": "connections",
    "baseline_name": "raw producer", "factors": [1, 2, 4], "valid": True, "points": [
        {"factor": f, "scale": 64 * f, "value": v, "growth": v / 4000, "p99_ms": p,
         "baseline": 30000.0, "ratio": v / 30000, "valid": True, "note": ""}
        for f, v, p in ((1, 4000.0, 40.0), (2, 6000.0, 60.0), (4, 7000.0, 120.0))],
}  # fmt: skip


def test_a_benchs_growth_is_collected_and_an_invalid_growth_fails_the_run(
    tmp_path: Path,
) -> None:
    script = tmp_path / "growing_bench.py"
    script.write_text(
        "import json, sys\n"
        "out = sys.argv[sys.argv.index('--json') + 1]\n"
        "growth = json.loads(sys.argv[1])\n"
        "json.dump({'bench': 'b', 'figures': [{'name': 'x', 'value': 1.0, 'unit': '/s',"
        " 'valid': True}], 'growth': [growth]}, open(out, 'w'))\n"
    )
    bench = run_all.Bench("growing", str(script), [json.dumps(GROWTH)], [], needs_kafka=False)
    run = run_all.run_bench(bench, False, {}, tmp_path)
    assert run.ok and run.growth == [GROWTH]
    broken = GROWTH | {"valid": False}
    bench = run_all.Bench("growing", str(script), [json.dumps(broken)], [], needs_kafka=False)
    assert not run_all.run_bench(bench, False, {}, tmp_path).ok


def test_the_table_has_a_growth_row_per_bench_with_each_factor() -> None:
    results = {
        "machine": {"cpu_model": "cpu", "cores": 2, "platform": "p", "python": "3.11",
                    "aiokafka": "0.14", "kafka": "4.1", "commit": "abc", "date": "d"},
        "quick": False, "load_average": {"before": [1.0], "after": [1.0]},
        "benches": [{"name": "gateway", "status": 0, "seconds": 3.0, "load_before": [1.0],
                     "load_after": [2.0], "error": "", "figures": [], "growth": [GROWTH]},
                    {"name": "old", "status": 0, "seconds": 1.0, "load_before": [1.0],
                     "load_after": [1.0], "error": "", "figures": []}],
    }  # fmt: skip
    table = markdown(results)
    assert "## Growth at 1x, 2x and 4x" in table
    (row,) = [line for line in table.splitlines() if line.startswith("| gateway | single")]
    assert "load: 64/128/256 connections" in row
    assert "4,000 (x1.00), p99 40.00 ms" in row and "6,000 (x1.50)" in row
    assert "7,000 (x1.75), p99 120 ms; 0.23 of baseline" in row
    assert "30,000 / 30,000 / 30,000 (raw producer)" in row
    broken = GROWTH | {"valid": False, "points": [GROWTH["points"][0]]}  # type: ignore[index]
    results["benches"][0]["growth"] = [broken]  # type: ignore[index]
    (row,) = [line for line in markdown(results).splitlines() if "| gateway | single" in line]
    assert row.endswith("| **invalid** |") and "| - | - |" in row, "missing factors show as -"


def test_the_table_marks_invalid_figures_and_prints_the_load_average() -> None:
    results = {
        "machine": {"cpu_model": "cpu", "cores": 2, "platform": "p", "python": "3.11",
                    "aiokafka": "0.14", "kafka": "4.1", "commit": "abc", "date": "d"},
        "quick": False,
        "load_average": {"before": [1.0, 2.0, 3.0], "after": [4.0, 5.0, 6.0]},
        "benches": [{"name": "b", "status": 1, "seconds": 3.0, "load_before": [1.0],
                     "load_after": [2.0], "error": "", "figures": [
                         {"name": "x", "value": 5.0, "unit": "req/s", "baseline": 10.0,
                          "baseline_name": "raw", "ratio": 0.5, "target": ">= 6", "met": False,
                          "valid": False, "errors": 2, "note": ""}]}],
    }  # fmt: skip
    table = markdown(results)
    assert "**invalid**" in table and "2 failed" in table and "**not met**" in table
    assert "[1.0, 2.0, 3.0] before" in table
    assert "make bench" in table


def test_a_quick_run_writes_results_json_and_the_table(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, str(run_all.HERE / "run_all.py"), "--quick", "--only", "audit verify",
         "--out", str(tmp_path)],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    results = json.loads((tmp_path / "results.json").read_text())
    assert results["ok"] and results["machine"]["cores"]
    assert {"python", "aiokafka", "kafka", "commit", "cpu_model"} <= set(results["machine"])
    (bench,) = results["benches"]
    assert bench["figures"][0]["valid"] and bench["load_before"] and bench["load_after"]
    assert "audit verify" in (tmp_path / "RESULTS.md").read_text()


def test_every_missed_target_is_listed_with_what_was_tried() -> None:
    figure = {"name": "single events/s", "value": 2100.0, "unit": "req/s", "baseline": 8000.0,
              "baseline_name": "raw", "ratio": 0.26, "target": ">= 5000", "met": False,
              "valid": True, "errors": 0, "note": ""}  # fmt: skip
    met = figure | {"name": "batch", "met": True}
    results = {
        "machine": {"cpu_model": "cpu", "cores": 2, "platform": "p", "python": "3.11",
                    "aiokafka": "0.14", "kafka": "4.1", "commit": "abc", "date": "d"},
        "quick": False, "load_average": {"before": [1.0], "after": [1.0]},
        "benches": [{"name": "gateway", "status": 0, "seconds": 3.0, "load_before": [1.0],
                     "load_after": [2.0], "error": "", "figures": [figure, met]},
                    {"name": "other", "status": 0, "seconds": 1.0, "load_before": [1.0],
                     "load_after": [1.0], "error": "", "figures": [figure]}],
    }  # fmt: skip
    notes = tried_notes("# Tried\n\n## gateway\n\nProfiled with py-spy: grouped audit.\n")
    table = markdown(results, notes)
    gaps = table[table.index("## Targets not met") :]
    assert "| gateway | single events/s | 2,100 req/s | >= 5000 | 0.26 |" in gaps
    assert "| gateway | batch |" not in gaps
    assert "### gateway\n\nProfiled with py-spy: grouped audit." in gaps
    assert "### other\n\n_Nothing recorded in bench/TRIED.md._" in gaps
    assert "## Targets not met" not in markdown(results | {"benches": []}, notes)
