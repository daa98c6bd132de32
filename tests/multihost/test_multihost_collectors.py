"""Two collectors on two test hosts sharing a PostgreSQL store, under faults, counted exactly.

The platform of `conftest.platform` (Kafka on three hosts, the registry, two gateways, the load
client) plus two collector hosts (`collectors_env.py`) in one consumer group, their state in a
database of its own on the pg host. Faults in sequence, each under its own load run through the
gateways, with its own hour window of the count KPI `mh-dossiers`:

- (a) a collector host killed whole (every process in its namespace): the other replica takes
  its partitions; the victim is started again afterwards;
- (b) a collector host cut off (link down) for `CUT_S` seconds, then healed: the other takes its
  partitions; the victim's writes of what it still believed it owned are refused by the store
  (compare-and-set on the revision), counted from its `collector_store_conflicts_total`;
- (c) PostgreSQL stopped under load (fast shutdown: every session ended) for `PG_DOWN_S`
  seconds and started again: the collectors and the registry recover.

Per fault, counted by ce_id after the load stopped: acknowledged events lost = 0 (read from the
data topic); then both replicas' KPI figures equal the ground truth exactly, for this fault's
window and every earlier one (each window's count is the number of its acknowledged events:
every event is acknowledged in the end, the topic holds no other, and the collector dedups by
event id). Measured: the time from the fault until the surviving replica serves fresh figures
again, "fresh" meaning its figure counts every event acknowledged `FRESH_LAG_S` before the read
(a read at least `FRESH_LAG_S` after the fault, so the events counted were acknowledged after
it); the partitions' move in the store; refused zombie writes. A table per fault is printed in
pytest's terminal summary and written to test-artifacts/multihost-collectors.json (and .md).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from collectors_env import COLLECTORS, Collectors, TopicEnds, window_of
from hosts_env import (
    ARTIFACTS,
    FIGURES,
    SOURCE,
    LoadRun,
    Platform,
    record,
    wait_ready,
    wait_until,
)
from test_multihost_faults import RATE, count, window_figures

from lgsp_cli.registry_client import RegistryClient

pytestmark = [pytest.mark.kafka, pytest.mark.slow, pytest.mark.timeout(300)]
CUT_S = float(os.environ.get("LGSP_MULTIHOST_CUT_S", "30"))
PG_DOWN_S = 5.0  # how long PostgreSQL stays stopped
FRESH_LAG_S = 3.0  # "fresh": counts every event acknowledged this long before the read
EXPECTED: dict[datetime, float] = {}  # the ground truth of every fault so far, per window


@pytest.fixture(scope="module")
def collectors(platform: Platform, tmp_path_factory: pytest.TempPathFactory) -> Collectors:
    """Start the two collectors (killed with the network) and wait until both answer a viewer."""
    found = Collectors(platform)
    found.start(tmp_path_factory.mktemp("collectors"))
    asyncio.run(wait_serving(found, list(COLLECTORS), 180))
    return found


async def wait_serving(collectors: Collectors, names: list[str], timeout_s: float) -> float:
    """Wait until each replica answers the KPI series to a viewer; return how long it took."""

    async def check() -> bool:
        async with httpx.AsyncClient() as http:
            for name in names:
                await collectors.series(http, name)
        return True

    return await wait_until(f"collectors {names} answering", check, timeout_s)


def acknowledged(load: LoadRun, until: float) -> int:
    """Return how many distinct events of the run were acknowledged by `until` (monotonic)."""
    return len({a["ce_id"] for a in load.answers() if a["status"] == 202 and a["done"] <= until})


async def fresh(
    collectors: Collectors, name: str, run: Run, after: float, timeout_s: float = 120.0
) -> float:
    """Wait until replica `name` serves fresh figures, read at least FRESH_LAG_S after `after`;
    return the moment of that read (monotonic).

    Fresh at a read at t: the store holds every partition up to its end offset at t -
    FRESH_LAG_S (the other replicas' partitions are served as stored), and the replica's figure
    counts every event acknowledged by t - FRESH_LAG_S. Per partition, so a replica's own
    partitions running ahead cannot hide a partition nobody reads.
    """
    deadline = time.monotonic() + timeout_s
    async with httpx.AsyncClient() as http:
        while time.monotonic() < deadline:
            read_at = time.monotonic()
            ends = run.ends.at(read_at - FRESH_LAG_S)
            if read_at - FRESH_LAG_S > after and ends is not None:
                wanted = acknowledged(run.load, read_at - FRESH_LAG_S)
                with contextlib.suppress(Exception):  # the store restarting: ask again
                    stored = await collectors.heads()
                    caught_up = all(stored.get(p, ("", 0))[1] >= e for p, e in ends.items())
                    value = await collectors.value(http, name, run.window)
                    if caught_up and value is not None and value >= wanted:
                        return read_at
            await asyncio.sleep(0.3)
    raise AssertionError(f"collector {name} did not serve fresh figures within {timeout_s:.0f}s")


async def owned_by(collectors: Collectors, names: set[str], timeout_s: float = 120.0) -> float:
    """Wait until the store shows the last commit of every partition by one of `names`, and
    by each of them for at least one."""

    async def check() -> bool:
        found = await collectors.owners()
        return len(found) == 3 and set(found.values()) == names

    return await wait_until(f"partitions committed by {sorted(names)}", check, timeout_s)


async def conflicts(collectors: Collectors, name: str) -> float:
    """Return replica `name`'s refused writes, waiting until it answers /metrics."""
    async with httpx.AsyncClient() as http:
        for _ in range(120):
            found = await collectors.conflicts(http, name)
            if found is not None:
                return found
            await asyncio.sleep(0.5)
    raise AssertionError(f"collector {name} does not answer /metrics")


@dataclass
class Run:
    """One fault's load run: its window of the KPI, the topic's end offsets, its figures."""

    load: LoadRun
    window: datetime
    ends: TopicEnds
    figures: dict[str, Any]


@contextlib.asynccontextmanager
async def fault_load(
    platform: Platform, collectors: Collectors, label: str, index: int
) -> AsyncIterator[Run]:
    """Start a load run in its own window, sample the topic's ends; wait until both replicas
    serve fresh figures."""
    window = window_of(index)
    load = platform.start_load(label, RATE, window.isoformat())
    started = time.monotonic()
    async with TopicEnds(platform.bootstrap) as ends:
        for url in platform.gateways.values():
            await load.wait_for_202(started, 90, gateway=url)
        run = Run(load, window, ends, {})
        for name in COLLECTORS:
            await fresh(collectors, name, run, started)
        run.figures["partitions_before"] = dict(sorted((await collectors.owners()).items()))
        yield run


def victim_of(owners: dict[int, str]) -> tuple[str, str]:
    """Return (victim, survivor): the replica committing the most partitions is the victim."""
    names = sorted(COLLECTORS, key=lambda n: -sum(o == n for o in owners.values()))
    return names[0], names[1]


async def exact(platform: Platform, collectors: Collectors, run: Run) -> None:
    """Stop the load and count it by ce_id (nothing acknowledged lost); then wait until both
    replicas' figures equal the ground truth of every window so far."""
    load, window, figures = run.load, run.window, run.figures
    await count(platform, load, figures)  # asserts: no acknowledged event lost, all acknowledged
    EXPECTED[window] = float(figures["acknowledged"])
    stopped = time.monotonic()
    found: dict[str, dict[datetime, float]] = {}

    async def check() -> bool:
        async with httpx.AsyncClient() as http:
            for name in COLLECTORS:
                found[name] = await collectors.series(http, name)
        return all(series == EXPECTED for series in found.values())

    try:
        await wait_until("KPIs equal the ground truth", check, 120)
    except AssertionError:
        figures["kpi_found"] = {n: {str(k): v for k, v in s.items()} for n, s in found.items()}
        figures["kpi_expected"] = {str(k): v for k, v in EXPECTED.items()}
        record(load.label, figures)
        raise
    figures |= {
        "kpi_windows_checked": len(EXPECTED),
        "kpi_window": window.isoformat(),
        "kpi_expected_this_window": EXPECTED[window],
        "kpis_equal_ground_truth": True,
        "kpis_exact_after_load_stopped_s": round(time.monotonic() - stopped, 2),
    }
    record(load.label, figures)
    write_tables()


async def test_collector_host_killed(platform: Platform, collectors: Collectors) -> None:
    """(a) Every process of a collector host SIGKILLed: the other replica takes its partitions."""
    async with fault_load(platform, collectors, "kill-collector", 0) as run:
        victim, survivor = victim_of(run.figures["partitions_before"])
        start = time.monotonic()
        killed = platform.host(victim).kill_all()
        moved = await owned_by(collectors, {survivor})
        served = await fresh(collectors, survivor, run, start)
        back = time.monotonic()
        collectors.launch(victim)
        await wait_serving(collectors, [victim], 120)
        rejoined = await owned_by(collectors, set(COLLECTORS))
        run.figures |= {
            "fault": f"collector host {victim} killed ({killed} processes)",
            "survivor_fresh_again_s": round(served - start, 2),
            "partitions_moved_in_store_s": round(moved, 2),
            "victim_restarted_owns_again_s": round(time.monotonic() - back, 2),
            "refused_writes_survivor": await conflicts(collectors, survivor),
            "refused_writes_victim_after_restart": await conflicts(collectors, victim),
            "fresh_lag_s": FRESH_LAG_S,
        } | window_figures(run.load.answers(), start, time.monotonic())
        run.figures["rejoined_in_s"] = round(rejoined, 2)
        await exact(platform, collectors, run)


async def test_collector_host_cut_off(platform: Platform, collectors: Collectors) -> None:
    """(b) A collector host's link down for CUT_S seconds: the other takes its partitions, the
    cut one's writes are refused once it can reach the store again; then it rejoins."""
    async with fault_load(platform, collectors, "cut-collector", 1) as run:
        victim, survivor = victim_of(run.figures["partitions_before"])
        before = await conflicts(collectors, victim)
        host = platform.host(victim)
        start = time.monotonic()
        host.cut()
        try:
            moved = await owned_by(collectors, {survivor})
            served = await fresh(collectors, survivor, run, start)
            await asyncio.sleep(max(0.0, start + CUT_S - time.monotonic()))  # the cut itself
        finally:
            host.heal()
        healed = time.monotonic()
        rejoined = await owned_by(collectors, set(COLLECTORS))
        victim_fresh = await fresh(collectors, victim, run, healed)
        refused = await conflicts(collectors, victim) - before
        run.figures |= {
            "fault": f"collector host {victim} cut off {CUT_S:.0f}s",
            "survivor_fresh_again_s": round(served - start, 2),
            "partitions_moved_in_store_s": round(moved, 2),
            "victim_commits_again_after_heal_s": round(rejoined, 2),
            "victim_fresh_after_heal_s": round(victim_fresh - healed, 2),
            "refused_zombie_writes_victim": refused,
            "refused_writes_survivor": await conflicts(collectors, survivor),
            "fresh_lag_s": FRESH_LAG_S,
        } | window_figures(run.load.answers(), start, healed)
        await exact(platform, collectors, run)


async def test_postgres_restarted(platform: Platform, collectors: Collectors) -> None:
    """(c) PostgreSQL stopped (fast shutdown) for PG_DOWN_S, then started again, under load:
    both collectors and the registry recover; nothing is lost or counted twice."""
    assert platform.postgres is not None
    async with fault_load(platform, collectors, "restart-postgres", 2) as run:
        before = {name: await conflicts(collectors, name) for name in COLLECTORS}
        start = time.monotonic()
        await asyncio.to_thread(platform.postgres.restart, down_s=PG_DOWN_S)
        up = time.monotonic()
        registry = RegistryClient(url=platform.registry_url, token=platform.operator_token)

        async def registry_writes() -> bool:
            await asyncio.to_thread(registry.request, "POST", f"/v1/sources/{SOURCE}/keys")
            return True

        *served, wrote = await asyncio.gather(
            *(fresh(collectors, name, run, up) for name in COLLECTORS),
            wait_until("the registry writes again", registry_writes, 120),
        )
        wait_ready([platform.registry_url], 60)
        run.figures |= {
            "fault": f"PostgreSQL (registry and collector store) stopped {PG_DOWN_S:.0f}s "
            "(fast shutdown), started again",
            "postgres_down_s": round(up - start, 2),
            **{
                f"{n}_fresh_after_restart_s": round(t - up, 2)
                for n, t in zip(COLLECTORS, served, strict=True)
            },
            "registry_writes_after_restart_s": round(wrote, 2),
            **{
                f"refused_writes_{n}": await conflicts(collectors, n) - before[n]
                for n in COLLECTORS
            },
            "fresh_lag_s": FRESH_LAG_S,
        } | window_figures(run.load.answers(), start, time.monotonic())
        await exact(platform, collectors, run)


def write_tables() -> None:
    """Write the collector faults' figures as Markdown tables next to multihost.json."""
    lines = ["# Multi-host collector faults", ""]
    for name, figures in FIGURES.items():
        if "collector" not in name and "postgres" not in name:
            continue
        lines += [f"## {name}", "", "| figure | value |", "|---|---|"]
        lines += [f"| {key} | {value} |" for key, value in figures.items()]
        lines.append("")
    ARTIFACTS.mkdir(exist_ok=True)
    Path(ARTIFACTS / "multihost-collectors.md").write_text("\n".join(lines), encoding="utf-8")
