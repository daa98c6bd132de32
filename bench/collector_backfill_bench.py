"""Backfill of a KPI pushed at runtime, while the collector keeps serving its other KPIs live.

    uv run python bench/collector_backfill_bench.py [--events 1000000] [--rate 1000]
                                                    [--seconds 20]
                                                    [--growth-events N | --no-growth]
                                                    [--json PATH]

Starts a local Kafka (or uses KAFKA_BOOTSTRAP_SERVERS).

1. Pre-fills a 3-partition "history" topic with `--events` valid dossier events, in time order
   over the last 30 days (as recorded history is), with the gateway's encoding.
2. Raw baseline: a plain aiokafka consumer reads them all, built from the same settings function
   as the collector's backfill consumer (`ioc_collector.stream.backfill.backfill_consumer`),
   with the same records per fetch.
3. Starts the gateway and one collector process that follows the registry: sources for the
   history topic and a live topic, the repository's dossier KPIs and the freshness probe KPI on
   the live topic. Waits until the collector has consumed the whole history topic.
4. Freshness without a backfill: `--seconds` of steady `--rate` events/s through the gateway on
   the live topic, probes timed from their send to the API (as in `collector_bench.py`).
5. Pushes a KPI on the history topic to the registry and keeps the same traffic up until the
   backfill has handed over: backfill events/s (records over the time from push to hand-over),
   freshness p50/p99 during it, and a check that the KPI's values add up to every event.

Growth (`growth.py`), on the data size axis: three more history topics, pre-filled in step 1
with 1x, 2x and 4x `--growth-events` events (default `--events`; set it smaller for a large
`--events`), each read by the plain consumer right after its pre-fill, registered as sources
with the others. After step 5, one KPI per factor is pushed on its topic, in turn, with the
same steady traffic up (no probes): backfill events/s, push to hand-over, against the plain
consumer at the same size. A KPI whose values do not add up to every event, a failed request
of the traffic or a backfill not handed over in time makes its point invalid. `--no-growth`
leaves it out.

`--json PATH` writes the figures and the growth for `run_all.py`; the exit status is 1 if any
figure or growth point is invalid.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from collector_backfill_support import (
    DAYS,
    HISTORY_KPI,
    backfill_kpi,
    plain_rate,
    prefill,
    processes_env,
    register,
)
from collector_bench import Freshness, percentile
from collector_bench_support import AUTH, start_process
from figures import Figure, finish
from growth import FACTORS, Growth, Point, agrow

from lgsp_common.settings import KafkaSettings
from lgsp_common.topics import TopicSpec, ensure_topics
from lgsp_devkit.kafka_local import LocalKafka, free_port
from lgsp_devkit.testing import publish_registry_changes

BACKFILL = "backfill events/s, push to hand-over"


async def counted(http: httpx.AsyncClient, url: str, topic: str) -> int:
    body = (await http.get(url + "/v1/streams/counts", timeout=10, headers=AUTH)).json()
    return sum(s["events"] for s in body["sources"] if s["topic"] == topic)


async def history_tile(
    http: httpx.AsyncClient, url: str, kpi_id: str = HISTORY_KPI
) -> dict[str, Any] | None:
    tiles = (await http.get(url + "/v1/kpis", timeout=10, headers=AUTH)).json()["kpis"]
    return next((t for t in tiles if t["id"] == kpi_id), None)


async def history_total(http: httpx.AsyncClient, url: str, kpi_id: str = HISTORY_KPI) -> int:
    """The backfilled KPI's values over every day, added up."""
    since = (datetime.now(UTC) - timedelta(days=DAYS + 2)).date().isoformat()
    answer = await http.get(url + f"/v1/kpis/{kpi_id}/series", params={"from": since}, headers=AUTH)
    return int(sum(p["value"] or 0 for p in answer.json()["points"]))


async def traffic_until(
    run: Freshness, http: httpx.AsyncClient, done: asyncio.Event, most_s: float,
    probes: bool = True,
) -> None:  # fmt: skip
    """Keep the steady traffic (with probes) going until `done` is set, `most_s` at most."""
    deadline = time.monotonic() + most_s
    while not done.is_set() and time.monotonic() < deadline:
        await run.send(http, 1.0, probes=probes)


async def timed_backfill(
    kafka: KafkaSettings, http: httpx.AsyncClient, url: str, registry: str,
    kpi: dict[str, Any], most_s: float,
) -> float:  # fmt: skip
    """Push a KPI to the registry; return the seconds until its backfill has handed over."""
    await publish_registry_changes(kafka, registry, [("kpi", kpi["id"], kpi)])
    pushed = time.perf_counter()
    while (tile := await history_tile(http, url, kpi["id"])) is None or tile["backfill"]:
        if time.perf_counter() - pushed > most_s:
            raise TimeoutError(f"backfill of {kpi['id']} not handed over in {most_s:.0f} s")
        await asyncio.sleep(0.2)
    return time.perf_counter() - pushed


def handover_limit(events: int) -> float:
    """The longest a backfill of `events` may take before it counts as failed (500/s)."""
    return 120 + events / 500


async def bench(
    kafka: KafkaSettings, events: int, rate: int, seconds: float, growth: int
) -> tuple[list[Figure], list[Growth]]:
    """Run the whole measurement (and the growth, unless `growth` is 0); return the figures."""
    run_id = uuid.uuid4().hex[:8]
    roles = ("registry", "dlq", "kpi", "audit")
    sizes = {"history": events} | ({f"grow{f}": growth * f for f in FACTORS} if growth else {})
    topics = {"history": f"bench.hist-{run_id}.v1", "live": f"bench.live-{run_id}.v1",
              **{name: f"bench.{name}-{run_id}.v1" for name in sizes if name != "history"},
              **{role: f"bench.{role}-{run_id}" for role in roles}}  # fmt: skip
    await ensure_topics(kafka, [
        TopicSpec(name, 1 if role == "registry" else 3,
                  config={"cleanup.policy": "compact"} if role in {"registry", "kpi"} else {})
        for role, name in topics.items()
        ] + [TopicSpec(f"{topics['audit']}.checkpoints", 1,
                       config={"cleanup.policy": "compact"})])  # fmt: skip
    root = Path(tempfile.mkdtemp(prefix="collector-backfill-bench-"))
    plain: dict[str, float] = {}
    for name, count in sizes.items():  # each pre-fill read at once by the plain consumer
        started = time.perf_counter()
        await prefill(kafka, topics[name], count)
        took = time.perf_counter() - started
        print(f"pre-filled {count} events on {topics[name]} in {took:.0f} s")
        plain[name] = await plain_rate(kafka, topics[name], count)
    key = await register(kafka, topics["registry"], {n: topics[n] for n in sizes}, topics["live"])
    gateway_env, collector_env = processes_env(kafka, root, topics)
    gw_port, ioc_port = free_port(), free_port()
    gateway_url, url = f"http://127.0.0.1:{gw_port}", f"http://127.0.0.1:{ioc_port}"
    processes = []
    try:
        processes.append(
            start_process(
                "lgsp_gateway",
                gateway_env | {"LGSP_GATEWAY_PORT": str(gw_port)},
                gateway_url,
                root / "gateway.log",
            )
        )
        processes.append(start_process("ioc_collector", collector_env | {
            "IOC_COLLECTOR_PORT": str(ioc_port)}, url, root / "collector.log"))  # fmt: skip
        measured = await measure(
            kafka, (url, gateway_url), topics, key, (sizes, rate), seconds, plain
        )
    finally:
        for process in processes:
            process.terminate()
            process.wait(30)
    print(f"logs in {root}")
    return measured


async def measure(
    kafka: KafkaSettings, urls: tuple[str, str], topics: dict[str, str], key: str,
    load: tuple[dict[str, int], int], seconds: float, plain: dict[str, float],
) -> tuple[list[Figure], list[Growth]]:  # fmt: skip
    """Freshness without, then during, the backfill of a KPI pushed now; then the growth."""
    (url, gateway_url), (sizes, rate) = urls, load
    events = sizes["history"]
    limits = httpx.Limits(max_connections=64)
    async with httpx.AsyncClient(timeout=30, limits=limits) as http:
        started = time.perf_counter()
        for name, count in sizes.items():
            while await counted(http, url, topics[name]) < count:  # noqa: ASYNC110 - over HTTP
                await asyncio.sleep(0.5)
        print(f"collector consumed the history live in {time.perf_counter() - started:.0f} s")
        run = Freshness(gateway_url, url, topics["live"], key, rate)
        await run.send(http, 3, probes=False)  # warm-up
        stop = asyncio.Event()
        watcher = asyncio.create_task(run.watch(http, stop))
        await run.send(http, seconds, probes=True)
        quiet_probes = len(run.acked)
        done = asyncio.Event()
        traffic = asyncio.create_task(traffic_until(run, http, done, 1800))
        try:
            elapsed = await timed_backfill(kafka, http, url, topics["registry"],
                                           backfill_kpi(topics["history"]),
                                           handover_limit(events))  # fmt: skip
        finally:
            done.set()
            await traffic
        stop.set()
        # A probe whose request failed never shows: stop waiting for it after a while.
        await asyncio.wait([watcher], timeout=30)
        watcher.cancel()
        total = await history_total(http, url)
        curves = []
        if len(sizes) > 1:
            curves.append(await backfill_growth(kafka, http, urls, topics, key, rate, sizes, plain))
    quiet, during = run.samples[:quiet_probes], run.samples[quiet_probes:]
    failed = run.errors + run.unseen
    backfill = events / elapsed
    print(f"backfill of one KPI over {events} recorded events (3 partitions), live traffic on")
    print(f"  values: every event counted : {total == events} ({total} of {events})")
    found = [
        Figure(BACKFILL, backfill, "events/s", plain["history"],
               "plain consumer (backfill options)", errors=0 if total == events else 1,
               note=f"{elapsed:.1f} s; {total} of {events} counted"),
    ]  # fmt: skip
    for name, samples in (("without backfill", quiet), ("during backfill", during)):
        p99 = percentile(samples, 0.99) * 1000 if samples else None
        found.append(Figure(f"freshness p99 {name} ({rate}/s)", p99, "ms", errors=failed,
                            note=f"{len(samples)} probes"))  # fmt: skip
    return found, curves


async def backfill_growth(
    kafka: KafkaSettings, http: httpx.AsyncClient, urls: tuple[str, str],
    topics: dict[str, str], key: str, rate: int, sizes: dict[str, int], plain: dict[str, float],
) -> Growth:  # fmt: skip
    """Backfill events/s of a KPI pushed on each growth topic (1x, 2x, 4x the base), with the
    steady traffic up; the plain consumer's rate over the same topic."""
    (url, gateway_url), base = urls, sizes["grow1"]

    async def point(events: int) -> Point:
        name = f"grow{events // base}"
        run = Freshness(gateway_url, url, topics["live"], key, rate)
        done = asyncio.Event()
        most = handover_limit(events)
        traffic = asyncio.create_task(traffic_until(run, http, done, most, probes=False))
        kpi = backfill_kpi(topics[name], f"{name}-by-district")
        try:
            elapsed = await timed_backfill(kafka, http, url, topics["registry"], kpi, most)
        finally:
            done.set()
            await traffic
        total = await history_total(http, url, kpi["id"])
        return backfill_point(events, elapsed, total, plain[name], run.errors)

    return await agrow(BACKFILL, "events/s", "data size", "events", base, point,
                       "plain consumer (backfill options)")  # fmt: skip


def backfill_point(events: int, elapsed: float, total: int, plain: float, failed: int) -> Point:
    """Return one growth point: invalid unless the KPI counts every event and no request of
    the traffic failed."""
    note = f"{elapsed:.1f} s; {total} of {events} counted"
    note += f"; {failed} requests of the traffic failed" if failed else ""
    return Point(events / elapsed, baseline=plain, errors=int(total != events) + failed, note=note)


def kafka_servers() -> str:
    return os.environ["KAFKA_BOOTSTRAP_SERVERS"]


def main() -> None:
    """Parse arguments, start Kafka if needed, run the bench."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--rate", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--growth-events", type=int, help="growth base (default --events)")
    parser.add_argument("--growth", action=argparse.BooleanOptionalAction, default=True)
    parser.add_argument("--json", type=Path, help="write the figures here (run_all.py)")
    args = parser.parse_args()
    growth = (args.growth_events or args.events) if args.growth else 0
    cluster = None
    if not os.environ.get("KAFKA_BOOTSTRAP_SERVERS"):
        cluster = LocalKafka(Path(tempfile.mkdtemp(prefix="bench-kafka-")))
        os.environ["KAFKA_BOOTSTRAP_SERVERS"] = cluster.start()
    try:
        kafka = KafkaSettings(bootstrap_servers=kafka_servers())
        found, curves = asyncio.run(bench(kafka, args.events, args.rate, args.seconds, growth))
    finally:
        if cluster is not None:
            cluster.stop()
    sys.exit(finish("collector backfill", found, args.json, curves))


if __name__ == "__main__":
    main()
