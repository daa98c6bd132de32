"""Pull reads against a plain aiokafka consumer, same broker, same records, same run.

    uv run python bench/share_pull_bench.py [--records 50000] [--rate 1000] [--seconds 10]
        [--rounds 1] [--client ahead|aiohttp|httpx] [--throughput-only] [--growth-readers 1]
        [--growth-records N | --no-growth] [--json PATH]

Starts a local Kafka (or uses KAFKA_BOOTSTRAP_SERVERS), registers a source, a contract and an
approved consumer (four fields), puts `--records` events on a 3-partition topic and starts the
gateway as its own process. Then, one reader each, sequentially:

- throughput: the gateway's `GET /v1/topics/{topic}/records?max_records=500` following its
  cursors (every page minimised, rendered and audited with an acknowledged record; the client,
  `share_pull_clients.py`, decodes each answer with orjson and by default asks for the next page
  named by the answer's `Link` header while it decodes this one, as aiokafka fetches ahead of
  the application that reads the baseline) against a plain consumer built by
  `share_pull_support.raw_consumer`
  (`lgsp_common.kafka.create_consumer` with the options of the gateway's pooled readers,
  `TopicFeed._consumer`) reading the same records with `getmany(max_records=500)` and decoding
  each value with orjson;
- wake-up latency: events produced at `--rate`/s for `--seconds`, from the moment each is handed
  to the producer until a long poll (`wait_ms=2000`) answers it, against the same events
  consumed by a plain consumer tailing the topic (an event produced but never read counts as a
  failure of its side's figures).

With `--rounds N` the two throughput readers take turns N times on the same gateway and broker,
the gateway first in odd rounds and the raw consumer first in even ones (each round prints its
figures, the share of CPU time the virtual machine's host took meanwhile, and the CPU time per
500 records of the gateway process, of the bench's client and of the raw consumer; the table
shows the medians), so that a load spike of a shared machine hits both sides alike.
`--throughput-only` leaves out the wake-up latency (for iterating). Only 200 answers count: any
other makes the measurement fail and its figure invalid.

Growth (`growth.py`), on the load axis: pull records/s of all readers together at 1x, 2x and 4x
`--growth-readers` concurrent readers (each its own HTTP client following its own cursors from
the beginning, `--growth-records` records each, default `--records`), against as many raw
consumers reading as many records each, concurrently, at the same factor; the p99 is a page's
answer time. The gateway keeps its default pool of pooled readers per topic (2): readers beyond
it wait for one, as they would in production. `--no-growth` leaves it out.

`--json PATH` writes the figures and the growth for `run_all.py`; the exit status is 1 if any
figure or growth point is invalid.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import uuid
from pathlib import Path
from typing import Any

from figures import Figure, Target, finish, invalid
from growth import Growth, Point, grow
from machine_info import cpu_times, stolen_share
from share_pull_clients import CLIENTS, pull_throughput
from share_pull_support import (
    PAGE,
    Woken,
    cpu_seconds,
    fill,
    percentiles,
    prepare,
    pull_latency,
    raw_latency,
    raw_throughput,
    start_gateway,
)

from lgsp_common.settings import KafkaSettings
from lgsp_devkit.kafka_local import LocalKafka

PULL = "pull records/s"
THROUGHPUT_TARGET = Target(">=", 0.5, "ratio")  # of the raw consumer's


def throughput_round(
    n: int,
    kafka: KafkaSettings,
    gateway: Any,
    url: str,
    topic: str,
    key: str,
    records: int,
    client: str,
) -> tuple[float, float]:
    """Run the gateway reader and the raw consumer once each (the gateway first in odd rounds,
    the raw consumer first in even ones); print the round; return both."""
    pages = records / PAGE
    ticks = cpu_times()
    if n % 2 == 0:
        raw, plain = _raw_round(kafka, topic, records, pages)
    print(f"» gateway pull, {PAGE} per request ({client} client)")
    cpu = cpu_seconds(gateway.pid), cpu_seconds()
    pulled = asyncio.run(pull_throughput(url, topic, key, records, client))
    served = (cpu_seconds(gateway.pid) - cpu[0]) / pages * 1000
    spent = (cpu_seconds() - cpu[1]) / pages * 1000
    if n % 2 == 1:
        raw, plain = _raw_round(kafka, topic, records, pages)
    print(
        f"  round {n}: CPU stolen by the host {stolen_share(ticks, cpu_times()):.0%}; "
        f"gateway {pulled.rate:.0f}/s, raw {raw:.0f}/s, "
        f"ratio {pulled.rate / raw:.2f}; "
        f"CPU ms per {PAGE} records: gateway {served:.2f} + its client {spent:.2f}, raw "
        f"consumer {plain:.2f}; wall ms per {PAGE}: {PAGE / pulled.rate * 1000:.2f} against "
        f"{PAGE / raw * 1000:.2f}; {pulled.records / pulled.answers:.0f} records per answer"
    )
    return pulled.rate, raw


def _raw_round(kafka: KafkaSettings, topic: str, records: int, pages: float) -> tuple[float, float]:
    """Read the records with the raw consumer; return records/s and its CPU ms per page."""
    print("» raw aiokafka consumer, same records")
    cpu = cpu_seconds()
    raw = asyncio.run(raw_throughput(kafka, topic, records))
    return raw, (cpu_seconds() - cpu) / pages * 1000


def readers_growth(
    kafka: KafkaSettings, url: str, topic: str, key: str, count: int, base: int, client: str
) -> Growth:
    """Pull records/s of 1x, 2x, 4x `base` concurrent readers (`count` records each), against
    as many raw consumers reading as many records each, concurrently."""

    def point(readers: int) -> Point:
        pulled = asyncio.run(pull_throughput(url, topic, key, count, client, readers))
        raw = asyncio.run(raw_throughput(kafka, topic, count, readers))
        return Point(pulled.rate, pulled.p99_ms, raw, note=f"{count:,} records per reader")

    return grow(f"{PULL} (all readers together)", "records/s", "load", "readers", base, point,
                "raw aiokafka consumers, one per reader")  # fmt: skip


def throughput_figure(rounds: list[tuple[float, float]]) -> Figure:
    """Return the pull throughput (the medians of the rounds) against the raw consumer's."""
    pulled = statistics.median(p for p, _ in rounds)
    raw = statistics.median(r for _, r in rounds)
    ratios = ", ".join(f"{p / r:.2f}" for p, r in sorted(rounds, key=lambda x: x[0] / x[1]))
    note = f"{PAGE} per request; median of {len(rounds)} round(s)"
    if len(rounds) > 1:
        note += f", ratio per round {ratios}"
    return Figure(PULL, pulled, "records/s", raw, "raw aiokafka consumer", THROUGHPUT_TARGET,
                  note=note, extra={"rounds": [list(r) for r in rounds]})  # fmt: skip


def latency_figures(woke: Woken, tailed: Woken) -> list[Figure]:
    """Return the wake-up p50/p99 against the raw tail's; an event never read invalidates."""
    errors = woke.missing + tailed.missing
    note = f"events read: gateway {len(woke.latencies)}, raw {len(tailed.latencies)} of " + (
        f"{woke.sent} and {tailed.sent}"
    )
    found = []
    for n, (share, target) in enumerate((("p50", None), ("p99", Target("<", 50)))):
        ours = percentiles(woke.latencies)[n] if woke.latencies else None
        raw = percentiles(tailed.latencies)[n] if tailed.latencies else None
        found.append(Figure(f"produce-to-wake-up {share}", ours, "ms", raw, "raw consumer tailing",
                            target, errors, note))  # fmt: skip
    return found


def invalid_latency(reason: str) -> list[Figure]:
    """Return the wake-up figures of a measurement that failed."""
    return [
        invalid("produce-to-wake-up p50", "ms", reason),
        invalid("produce-to-wake-up p99", "ms", reason, Target("<", 50)),
    ]


def parse_args() -> argparse.Namespace:
    """Return the command line's options."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=50_000)
    parser.add_argument("--rate", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--rounds", type=int, default=1, help="throughput rounds, medians shown")
    parser.add_argument("--throughput-only", action="store_true", help="no wake-up latency")
    parser.add_argument("--client", choices=CLIENTS, default=CLIENTS[0])
    parser.add_argument("--growth-readers", type=int, default=1, help="growth base: readers")
    parser.add_argument("--growth-records", type=int, help="per reader (default --records)")
    parser.add_argument("--growth", action=argparse.BooleanOptionalAction, default=True)
    parser.add_argument("--json", type=Path, help="write the figures here (run_all.py)")
    args = parser.parse_args()
    if (args.growth_records or 0) > args.records:
        parser.error("--growth-records cannot exceed --records (the readers would wait for more)")
    return args


def through_gateway(
    args: argparse.Namespace, kafka: KafkaSettings, gateway: Any, url: str, names: dict[str, str]
) -> tuple[list[Figure], list[Growth], Woken | None]:
    """Measure what goes through the gateway: throughput rounds, wake-up latency, growth."""
    found: list[Figure] = []
    curves: list[Growth] = []
    woke = None
    topic, key = names["topic"], names["key"]
    try:
        rounds = [
            throughput_round(n, kafka, gateway, url, topic, key, args.records, args.client)
            for n in range(1, args.rounds + 1)
        ]
        found.append(throughput_figure(rounds))
    except Exception as exc:  # a failed answer or reader: the figure is invalid
        found.append(invalid(PULL, "records/s", repr(exc)[:200], THROUGHPUT_TARGET))
    if not args.throughput_only:
        print(f"» long-poll wake-up at {args.rate} events/s for {args.seconds:.0f}s")
        try:
            woke = asyncio.run(
                pull_latency(kafka, url, names["live"], names["live_key"], args.rate, args.seconds)
            )
        except Exception as exc:
            found += invalid_latency(repr(exc)[:200])
    if args.growth:
        count = args.growth_records or args.records
        print(f"» growth: {args.growth_readers} x 1, 2, 4 readers, {count} records each")
        curves.append(
            readers_growth(kafka, url, topic, key, count, args.growth_readers, args.client)
        )
    return found, curves, woke


def measure(args: argparse.Namespace, kafka: KafkaSettings) -> tuple[list[Figure], list[Growth]]:
    """Prepare the topics and the gateway, run every measurement; return figures and growth."""
    run = uuid.uuid4().hex[:8]
    topic, registry, keys = asyncio.run(prepare(kafka, run))
    key, live_key = keys.split()
    names = {"topic": topic, "key": key, "live": f"bench.live-{run}.v1", "live_key": live_key}
    print(f"» filling {topic} with {args.records} events")
    asyncio.run(fill(kafka, topic, args.records))
    gateway, url = start_gateway(kafka, run, registry)
    try:
        print(f"» gateway process {gateway.pid} at {url}")
        found, curves, woke = through_gateway(args, kafka, gateway, url, names)
    finally:
        gateway.terminate()
        gateway.wait(30)
    if woke is not None:
        print("» raw aiokafka consumer tailing, same rate")
        try:
            tailed = asyncio.run(raw_latency(kafka, names["live"], args.rate, args.seconds))
            found += latency_figures(woke, tailed)
        except Exception as exc:
            found += invalid_latency(repr(exc)[:200])
    return found, curves


def main() -> None:
    """Run every measurement, print the table, exit 1 if a figure or growth is invalid."""
    args = parse_args()
    cluster = None
    bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    if not bootstrap:
        cluster = LocalKafka(Path(tempfile.mkdtemp(prefix="bench-kafka-")))
        bootstrap = cluster.start()
    try:
        found, curves = measure(args, KafkaSettings(bootstrap_servers=bootstrap))
    finally:
        if cluster:
            cluster.stop()
    print(f"targets: pull >= 0.50 of raw; wake-up p99 < 50 ms at {args.rate:,} events/s "
          f"(load average {os.getloadavg()[0]:.1f})")  # fmt: skip
    sys.exit(finish("share pull", found, args.json, curves))


if __name__ == "__main__":
    main()
