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
import random
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import yaml
from aiokafka import AIOKafkaProducer
from collector_bench import Freshness, percentile
from collector_bench_support import (
    AUTH,
    BASE,
    DISTRICTS,
    PROBE_KPI,
    ROOT,
    SCHEMA,
    start_process,
    viewer_change,
)
from figures import Figure, finish
from growth import FACTORS, Growth, Point, agrow

from ioc_collector.stream.backfill import backfill_consumer
from lgsp_common.api_keys import hash_api_key
from lgsp_common.envelope import CloudEvent, to_kafka
from lgsp_common.settings import KafkaSettings
from lgsp_common.topics import TopicSpec, ensure_topics
from lgsp_devkit.kafka_local import LocalKafka, free_port
from lgsp_devkit.testing import new_api_key, publish_registry_changes

FETCH_RECORDS = 5000  # the collector's default backfill_max_batch
DAYS = 30


BACKFILL = "backfill events/s, push to hand-over"
HISTORY_KPI = "history-by-district"


def backfill_kpi(topic: str, kpi_id: str = HISTORY_KPI) -> dict[str, Any]:
    """The KPI pushed at runtime: dossiers per district and day."""
    return {"id": kpi_id, "title_vi": "Hồ sơ theo huyện (lịch sử)",
            "title_en": "Dossiers by district (history)", "topic": topic,
            "measure": {"kind": "count"}, "dimensions": ["district_code"],
            "time_field": "submitted_at", "window": "day", "allowed_lateness": "PT1H",
            "idle_timeout": "P3650D", "unit": "dossiers", "version": 1,
            "status": "active"}  # fmt: skip


def live_kpis(topic: str) -> list[dict[str, Any]]:
    """The KPIs served live during the backfill: the repository's dossier KPIs and the probe."""
    found = [yaml.safe_load(PROBE_KPI.format(topic=topic))]
    for path in sorted((ROOT / "services/ioc-collector/kpis").glob("*.yaml")):
        kpi = yaml.safe_load(path.read_text(encoding="utf-8"))
        if kpi["topic"] == "tthc.dossier.v1":
            found.append({**kpi, "topic": topic})
    return [{**kpi, "version": 1, "status": "active"} for kpi in found]


async def prefill(kafka: KafkaSettings, topic: str, count: int) -> None:
    """Write `count` dossiers in time order over the last DAYS days (binary mode, entity key)."""
    producer = AIOKafkaProducer(bootstrap_servers=kafka.bootstrap_servers, acks="all",
                                linger_ms=20, max_batch_size=512 * 1024)  # fmt: skip
    await producer.start()
    rng = random.Random(1)
    first = datetime.now(UTC) - timedelta(days=DAYS)
    step = timedelta(days=DAYS) / count
    try:
        for start in range(0, count, 5000):
            futures = []
            for n in range(start, min(count, start + 5000)):
                data = {**BASE, "dossier_id": f"H-{n:08d}", "district_code": rng.choice(DISTRICTS),
                        "channel": rng.choice(["online", "paper"]),
                        "submitted_at": (first + step * n).isoformat()}  # fmt: skip
                event = CloudEvent(source="/sources/history", type="t.submitted", data=data)
                record = to_kafka(event, data["dossier_id"], carrier={})
                futures.append(await producer.send(topic, record.value, key=record.key,
                                                   headers=record.headers))  # fmt: skip
            await asyncio.gather(*futures)
    finally:
        await producer.stop()


async def plain_rate(kafka: KafkaSettings, topic: str, count: int) -> float:
    """Events/s of a plain consumer over the whole topic (clock from its first batch; a topic
    read in one batch, as a small one is, is timed from the first request instead)."""
    consumer = backfill_consumer(kafka, "bench-plain")
    consumer.subscribe([topic])
    await consumer.start()
    seen, first, started = 0, 0, 0.0
    asked = time.perf_counter()
    try:
        while seen < count:
            batches = await consumer.getmany(timeout_ms=1000, max_records=FETCH_RECORDS)
            seen += sum(len(records) for records in batches.values())
            if batches and not started:
                first, started = seen, time.perf_counter()
        ended = time.perf_counter()  # the last batch, not the consumer's stop
    finally:
        await consumer.stop()
    if first >= count:  # nothing after the first batch to time
        return count / (ended - asked)
    return (count - first) / (ended - started)


async def register(
    kafka: KafkaSettings, registry: str, histories: dict[str, str], live: str
) -> str:
    """Register the sources (each history topic, by name, and the live one), their contracts,
    the live KPIs and a gateway key; return the key."""
    key_id, key = new_api_key()
    # The probes keep the bench's own ce-type (collector_bench.Freshness): no eventType rule.
    extension = {k: v for k, v in SCHEMA.get("x-lgsp", {}).items() if k != "eventType"}
    schema = {**SCHEMA, "x-lgsp": extension}
    changes: list[tuple[str, str, dict[str, Any] | None]] = []
    for name, topic in [*histories.items(), ("live", live)]:
        changes.append(
            (
                "source",
                name,
                {
                    "id": name,
                    "topic": topic,
                    "status": "active",
                    "cadence": "realtime",
                    "organisation_id": "bench",
                },
            )
        )
        changes.append(("contract", f"c-{name}", {"id": f"c-{name}", "subject": topic,
                                                  "version": 1, "schema": schema}))  # fmt: skip
    changes.append(("api_key", key_id, {"id": key_id, "source_id": "live",
                                        "key_hash": hash_api_key(key)}))  # fmt: skip
    changes += [("kpi", kpi["id"], kpi) for kpi in live_kpis(live)]
    changes.append(viewer_change())
    await publish_registry_changes(kafka, registry, changes)
    return key


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


def processes_env(
    kafka: KafkaSettings, root: Path, topics: dict[str, str]
) -> tuple[dict[str, str], dict[str, str]]:
    gateway = {
        "KAFKA_BOOTSTRAP_SERVERS": kafka.bootstrap_servers,
        "LGSP_GATEWAY_REGISTRY_TOPIC": topics["registry"], "LGSP_GATEWAY_LOG_LEVEL": "WARNING",
        "LGSP_GATEWAY_DLQ_TOPIC": topics["dlq"], "LGSP_GATEWAY_AUDIT_TOPIC": topics["audit"],
        "LGSP_GATEWAY_RATE_LIMIT_PER_SOURCE": "1000000", "LGSP_GATEWAY_RATE_LIMIT_BURST": "1000000",
        "LGSP_GATEWAY_MAX_BATCH_EVENTS": "1000",
    }  # fmt: skip
    (root / "kpis").mkdir(parents=True, exist_ok=True)  # a seed, unused: the registry has KPIs
    (root / "kpis" / "bench-probes.yaml").write_text(PROBE_KPI.format(topic=topics["live"]))
    collector = {
        "KAFKA_BOOTSTRAP_SERVERS": kafka.bootstrap_servers, "IOC_COLLECTOR_GROUP_ID": "bench",
        "IOC_COLLECTOR_KPIS_DIR": str(root / "kpis"),
        "IOC_COLLECTOR_STORE_PATH": str(root / "collector.sqlite3"),
        "IOC_COLLECTOR_REGISTRY_TOPIC": topics["registry"],
        "IOC_COLLECTOR_DLQ_TOPIC": topics["dlq"], "IOC_COLLECTOR_KPI_TOPIC": topics["kpi"],
        "IOC_COLLECTOR_LOG_LEVEL": "WARNING", "IOC_COLLECTOR_MAX_BATCH": "2000",
    }  # fmt: skip
    return gateway, collector


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
