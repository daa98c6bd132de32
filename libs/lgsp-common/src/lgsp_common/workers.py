"""Worker processes of one service sharing a port: the run's shared directory and its /metrics.

With `WORKERS` > 1 the entrypoint's parent process opens `worker_group` before uvicorn starts
the workers: a fresh directory (in `/dev/shm` when it is writable, so nothing there reaches a
disk), named in `LGSP_WORKER_GROUP_DIR` for the workers, whose `metrics/` subfolder is
`PROMETHEUS_MULTIPROC_DIR`. prometheus-client reads that variable when it is imported, which in
a worker (a spawned process) is after the parent set it: every worker's series then live in
files there, and `/metrics` on any worker answers `GroupMetrics`, the sum over all of them. The
parent removes the directory when uvicorn returns. Services keep other state the workers share
there too (the gateway's rate-limit buckets).

What multiprocess mode cannot carry: a gauge read through a callback (`set_function`) is only
seen by the process that holds the callback, so services write such gauges' values
periodically (the gateway samples them each second). Gauges declare how the workers' values
combine (`multiprocess_mode`); `live*` modes drop the values of a worker that is gone, which
`GroupMetrics` detects at each scrape (uvicorn restarts a worker that died under a new PID).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from prometheus_client import multiprocess
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

GROUP_DIR_ENV = "LGSP_WORKER_GROUP_DIR"
MULTIPROC_DIR_ENV = "PROMETHEUS_MULTIPROC_DIR"
SHM = "/dev/shm"  # noqa: S108 - mkdtemp makes a private (0700), unguessable folder there


@dataclass(frozen=True)
class WorkerGroup:
    """The directory the worker processes of one run share."""

    directory: Path

    @property
    def metrics_dir(self) -> Path:
        """Return the folder of the workers' Prometheus files (`PROMETHEUS_MULTIPROC_DIR`)."""
        return self.directory / "metrics"

    def file(self, name: str) -> Path:
        """Return the path of a file every worker of the run reaches under this name."""
        return self.directory / name

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> WorkerGroup | None:
        """Return the group this process belongs to, or None when it serves alone."""
        value = (os.environ if environ is None else environ).get(GROUP_DIR_ENV)
        return cls(Path(value)) if value else None


@contextmanager
def worker_group(service: str) -> Iterator[WorkerGroup]:
    """Create the run's shared directory and name it to the workers; remove it at the end."""
    base = SHM if os.access(SHM, os.W_OK) else None
    group = WorkerGroup(Path(tempfile.mkdtemp(prefix=f"{service}-workers-", dir=base)))
    group.metrics_dir.mkdir()
    saved = {name: os.environ.get(name) for name in (GROUP_DIR_ENV, MULTIPROC_DIR_ENV)}
    os.environ[GROUP_DIR_ENV] = str(group.directory)
    os.environ[MULTIPROC_DIR_ENV] = str(group.metrics_dir)
    try:
        yield group
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        shutil.rmtree(group.directory, ignore_errors=True)


class GroupMetrics(Collector):
    """Every worker's series merged (prometheus-client multiprocess mode), gone workers' live
    gauges dropped."""

    def __init__(self, group: WorkerGroup) -> None:
        self._path = str(group.metrics_dir)
        self._merged = multiprocess.MultiProcessCollector(None, path=self._path)  # type: ignore[no-untyped-call]

    def collect(self) -> Iterable[Metric]:
        """Return the merged series of all workers, alive or not (their counters still count)."""
        for pid in _gone(_live_gauge_pids(self._path)):
            multiprocess.mark_process_dead(pid, self._path)  # type: ignore[no-untyped-call]
        return self._merged.collect()  # type: ignore[no-untyped-call,no-any-return]


def _live_gauge_pids(path: str) -> set[int]:
    """Return the PIDs that own a `live*` gauge file (`gauge_livesum_<pid>.db`)."""
    pids = set()
    for name in os.listdir(path):
        kind, _, rest = name.partition("_")
        mode, _, pid = rest.rpartition("_")
        if kind == "gauge" and mode.startswith("live") and pid.removesuffix(".db").isdigit():
            pids.add(int(pid.removesuffix(".db")))
    return pids


def _gone(pids: Iterable[int]) -> list[int]:
    """Return the PIDs of processes that no longer exist."""
    gone = []
    for pid in pids:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            gone.append(pid)
        except PermissionError:
            pass  # alive, another user's
    return gone
