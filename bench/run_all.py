"""Run every bench on one broker and publish the figures: bench/results.json and bench/RESULTS.md.

    uv run --frozen python bench/run_all.py [--quick] [--only gateway,population] [--out DIR]
    make bench

Starts one local Kafka for the whole run (or uses KAFKA_BOOTSTRAP_SERVERS) and runs each bench
as its own process, one after the other, streaming its output. Each bench writes its figures
and its growth with `--json` (`figures.py`). The results file holds the machine (CPU model,
cores), the versions (Python, aiokafka, Kafka), the git commit, the load average before and
after each bench and the whole run, and every figure with its baseline, ratio, target and
whether it was met.
The exit status is 1 if any bench failed or any figure is invalid.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from machine_info import cpu_times, load_average, machine, stolen_share
from results_table import markdown

from lgsp_devkit.kafka_local import LocalKafka

HERE = Path(__file__).resolve().parent
Parser = Callable[[str], list[dict[str, Any]]]


@dataclass(frozen=True)
class Bench:
    """One bench script, its arguments (full and quick) and how its figures are read."""

    name: str
    script: str
    args: list[str]
    quick: list[str]
    parse: Parser | None = None  # None: the bench writes --json itself
    needs_kafka: bool = True


BENCHES = [
    Bench("gateway", "gateway_bench.py", ["--seconds", "15"], ["--seconds", "3"]),
    Bench(
        "collector",
        "collector_bench.py",
        ["--events", "60000", "--rounds", "2", "--rate", "3000", "--seconds", "20"],
        [
            "--events",
            "20000",
            "--rounds",
            "1",
            "--rate",
            "500",
            "--seconds",
            "3",
            "--growth-events",
            "10000",
        ],
    ),
    Bench(
        "registry", "registry_bench.py", ["--seconds", "3"], ["--seconds", "0.5"], needs_kafka=False
    ),
    Bench(
        "population",
        "population_bench.py",
        ["--generate", "0", "--seconds", "10"],
        ["--generate", "0", "--count", "20000", "--seconds", "2"],
    ),
    Bench(
        "share pull",
        "share_pull_bench.py",
        ["--records", "50000", "--rounds", "7", "--seconds", "10", "--growth-records", "50000"],
        ["--records", "5000", "--seconds", "2", "--growth-records", "5000"],
    ),
    Bench(
        "share webhooks",
        "share_webhook_bench.py",
        ["--events", "20000", "--growth-events", "10000"],
        ["--events", "2000", "--growth-events", "1000"],
    ),
    Bench(
        "audit verify",
        "audit_verify_bench.py",
        ["--records", "100000"],
        ["--records", "5000"],
        needs_kafka=False,
    ),
    Bench(
        "collector commit",
        "collector_commit_bench.py",
        ["--sizes", "10000,100000,1000000", "--commits", "30"],
        ["--sizes", "1000,10000,100000", "--commits", "10"],
        needs_kafka=False,
    ),
    Bench(
        "collector backfill",
        "collector_backfill_bench.py",
        ["--events", "200000", "--rate", "1000", "--seconds", "10", "--growth-events", "25000"],
        ["--events", "5000", "--rate", "200", "--seconds", "2", "--growth-events", "2000"],
    ),
]


@dataclass
class BenchRun:
    """What one bench's process did."""

    name: str
    command: list[str]
    status: int = 0
    seconds: float = 0.0
    load_before: list[float] = field(default_factory=list)
    load_after: list[float] = field(default_factory=list)
    cpu_stolen: float = 0.0  # share of the machine's CPU time the host took during the run
    figures: list[dict[str, Any]] = field(default_factory=list)
    growth: list[dict[str, Any]] = field(default_factory=list)  # growth.Growth.as_dict()
    error: str = ""

    @property
    def ok(self) -> bool:
        """Tell whether the bench exited 0 with figures and growth that are all valid."""
        valid = all(f["valid"] for f in self.figures) and all(g["valid"] for g in self.growth)
        return self.status == 0 and bool(self.figures) and valid


def run_bench(bench: Bench, quick: bool, env: dict[str, str], folder: Path) -> BenchRun:
    """Run one bench, stream its output, collect its figures."""
    out = folder / f"{bench.name.replace(' ', '_')}.json"
    command = [sys.executable, str(HERE / bench.script), *(bench.quick if quick else bench.args)]
    if bench.parse is None:
        command += ["--json", str(out)]
    run = BenchRun(bench.name, command, load_before=load_average())
    started, ticks = time.monotonic(), cpu_times()
    lines: list[str] = []
    with subprocess.Popen(
        command, env=env, cwd=HERE.parent, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        text=True,
    ) as process:  # fmt: skip
        assert process.stdout is not None
        for line in process.stdout:
            lines.append(line)
            print(f"  | {line}", end="", flush=True)
        run.status = process.wait()
    run.seconds = time.monotonic() - started
    run.load_after = load_average()
    run.cpu_stolen = stolen_share(ticks, cpu_times())
    run.figures, run.growth, run.error = collect(bench, out, "".join(lines), run.status)
    return run


Collected = tuple[list[dict[str, Any]], list[dict[str, Any]], str]


def collect(bench: Bench, out: Path, text: str, status: int) -> Collected:
    """Return a bench's figures and growth (from its --json, or parsed from its output) and an
    error."""
    try:
        if bench.parse is not None:
            figures, growth = bench.parse(text), []
        else:
            found = json.loads(out.read_text(encoding="utf-8"))
            figures, growth = found["figures"], found.get("growth", [])
    except (OSError, ValueError, KeyError) as exc:
        return [], [], f"no figures ({type(exc).__name__}: {exc}); exit status {status}"
    return figures, growth, "" if status == 0 else f"exit status {status}"


def kafka_env(stack: list[Callable[[], None]]) -> dict[str, str]:
    """Return the environment of the benches, starting one local Kafka for all of them."""
    env = dict(os.environ)
    if not env.get("KAFKA_BOOTSTRAP_SERVERS"):
        cluster = LocalKafka(Path(tempfile.mkdtemp(prefix="bench-kafka-")))
        print("» starting a local Kafka broker for all the benches", flush=True)
        env["KAFKA_BOOTSTRAP_SERVERS"] = cluster.start()
        stack.append(cluster.stop)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(HERE), env.get("PYTHONPATH")]))
    return env


def run_all(benches: list[Bench], quick: bool, out_dir: Path) -> dict[str, Any]:
    """Run the benches in turn; return the results document."""
    stops: list[Callable[[], None]] = []
    started_load = load_average()
    runs: list[BenchRun] = []
    try:
        env = kafka_env(stops) if any(b.needs_kafka for b in benches) else dict(os.environ)
        with tempfile.TemporaryDirectory(prefix="bench-results-") as folder:
            for n, bench in enumerate(benches, 1):
                print(f"» [{n}/{len(benches)}] {bench.name} ({bench.script})", flush=True)
                run = run_bench(bench, quick, env, Path(folder))
                state = "ok" if run.ok else f"FAILED {run.error or 'invalid figures'}"
                print(f"» [{n}/{len(benches)}] {bench.name}: {state} in {run.seconds:.0f} s")
                runs.append(run)
    finally:
        for stop in reversed(stops):
            stop()
    return {
        "machine": machine(),
        "quick": quick,
        "load_average": {"before": started_load, "after": load_average()},
        "benches": [run.__dict__ | {"ok": run.ok} for run in runs],
        "ok": all(run.ok for run in runs),
    }


def main() -> None:
    """Parse the options, run, write results.json and RESULTS.md."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes: checks the harness")
    parser.add_argument("--only", help="comma-separated bench names")
    parser.add_argument("--out", type=Path, default=HERE, help="where results go")
    args = parser.parse_args()
    chosen = BENCHES
    if args.only:
        wanted = {name.strip() for name in args.only.split(",")}
        chosen = [b for b in BENCHES if b.name in wanted]
    results = run_all(chosen, args.quick, args.out)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "results.json").write_text(json.dumps(results, indent=2), encoding="utf-8")
    (args.out / "RESULTS.md").write_text(markdown(results), encoding="utf-8")
    print(f"» wrote {args.out / 'results.json'} and {args.out / 'RESULTS.md'}")
    sys.exit(0 if results["ok"] else 1)


if __name__ == "__main__":
    main()
