"""A worker group: the run's folder comes and goes; /metrics merges every worker's files."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from prometheus_client import generate_latest

from lgsp_common.workers import (
    GROUP_DIR_ENV,
    MULTIPROC_DIR_ENV,
    GroupMetrics,
    WorkerGroup,
    worker_group,
)

# A "worker": its series go to PROMETHEUS_MULTIPROC_DIR (read when prometheus-client is imported).
WORKER = """
import sys
from prometheus_client import CollectorRegistry, Counter, Gauge
registry = CollectorRegistry()
Counter("calls", "Calls", registry=registry).inc(int(sys.argv[1]))
Gauge("waiting", "Waiting", registry=registry, multiprocess_mode="livesum").set(int(sys.argv[1]))
print("ready", flush=True)
sys.stdin.read()  # stays alive until the test closes its stdin
"""


def start_worker(group: WorkerGroup, value: int) -> subprocess.Popen[str]:
    """Start a process writing `calls` and `waiting` = value into the group's folder."""
    env = os.environ | {MULTIPROC_DIR_ENV: str(group.metrics_dir)}
    process = subprocess.Popen(
        [sys.executable, "-c", WORKER, str(value)],
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    assert process.stdout.readline() == "ready\n"
    return process


def stop(process: subprocess.Popen[str]) -> None:
    """Let the worker exit (no bookkeeping of its own, as when it is killed)."""
    assert process.stdin is not None
    process.stdin.close()
    assert process.wait(30) == 0


def test_the_run_folder_is_named_to_the_workers_and_removed_at_the_end() -> None:
    saved = os.environ.get(MULTIPROC_DIR_ENV)
    with worker_group("svc") as group:
        assert group.metrics_dir.is_dir()
        assert WorkerGroup.from_env() == group
        assert os.environ[MULTIPROC_DIR_ENV] == str(group.metrics_dir)
    assert not group.directory.exists()
    assert GROUP_DIR_ENV not in os.environ
    assert os.environ.get(MULTIPROC_DIR_ENV) == saved
    assert WorkerGroup.from_env({}) is None


def test_metrics_sum_every_workers_counters_and_only_live_workers_gauges(tmp_path: Path) -> None:
    group = WorkerGroup(tmp_path)
    group.metrics_dir.mkdir()
    first, second = start_worker(group, 3), start_worker(group, 4)
    try:
        text = generate_latest(GroupMetrics(group)).decode()
        assert "calls_total 7.0" in text
        assert "waiting 7.0" in text
        stop(first)
        text = generate_latest(GroupMetrics(group)).decode()
        assert "calls_total 7.0" in text  # a gone worker's calls still count
        assert "waiting 4.0" in text  # but not what it was waiting on
    finally:
        for process in (first, second):
            if process.poll() is None:
                stop(process)
