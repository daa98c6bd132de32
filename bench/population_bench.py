"""Population adapter: verifications/s and p99, cold and warm cache, against the upstream alone.

    uv run python bench/population_bench.py [--count 100000] [--generate 1000000]
        [--requests 3000] [--concurrency 32] [--latency-ms 0]

Measures, on this machine:
1. the time to generate `--generate` synthetic citizens (the generator alone, then generator +
   SQLite store with its index, i.e. `lgsp population build-db`);
2. the baseline: POST /citizens/verify straight to the simulated upstream process;
3. the adapter process (gateway token, registry consumer check, audit record and verification
   event acknowledged by Kafka on every call) with a cold cache (every id read from the
   upstream) and a warm cache (the same ids again).
Starts a local Kafka unless KAFKA_BOOTSTRAP_SERVERS is set. Client, adapter, upstream and broker
share the machine's cores, so the figures are a floor, comparable only within one run.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from lgsp_cli.kafka_local import LocalKafka, free_port
from lgsp_cli.testing import publish_registry_changes
from lgsp_common.settings import KafkaSettings
from lgsp_common.topics import TopicSpec, ensure_topics
from population_adapter.domain.citizen import Citizen
from population_adapter.upstream.generator import generate_citizens
from population_adapter.upstream.process import UpstreamProcess
from population_adapter.upstream.store import build_database

ROOT = Path(__file__).resolve().parents[1]
SEED = 6
TOKEN = "bench-gateway-token"  # noqa: S105 - a local, throw-away shared secret
PURPOSE = "health_insurance_check"


@dataclass
class Result:
    """One scenario's figures."""

    name: str
    requests: int
    seconds: float
    latencies: list[float]
    errors: int

    @property
    def rate(self) -> float:
        """Return requests per second."""
        return self.requests / self.seconds

    def percentile(self, share: float) -> float:
        """Return a latency percentile in milliseconds."""
        ordered = sorted(self.latencies)
        return 1000 * ordered[min(len(ordered) - 1, int(share * len(ordered)))]

    def line(self, baseline: Result | None) -> str:
        """Format one table row."""
        ratio = f"{self.rate / baseline.rate:6.2f}x" if baseline else "   base"
        return (
            f"{self.name:<28}{self.rate:>10,.0f}/s {ratio}  p50 {self.percentile(0.5):7.2f} ms"
            f"  p99 {self.percentile(0.99):7.2f} ms  errors {self.errors}"
        )


def time_generation(count: int, folder: Path) -> tuple[float, float]:
    """Return seconds to generate `count` citizens, and to generate and store them."""
    started = time.perf_counter()
    for _ in generate_citizens(SEED, count):
        pass
    generated = time.perf_counter() - started
    report = build_database(folder / f"generate-{count}.sqlite", count, SEED)
    (folder / f"generate-{count}.sqlite").unlink()
    return generated, report.seconds


async def drive(
    name: str, http: httpx.AsyncClient, calls: list[Callable[[], Any]], concurrency: int
) -> Result:
    """Run the calls with `concurrency` workers; measure each call's latency."""
    queue: asyncio.Queue[Callable[[], Any]] = asyncio.Queue()
    for call in calls:
        queue.put_nowait(call)
    latencies: list[float] = []
    errors = 0

    async def worker() -> None:
        nonlocal errors
        while not queue.empty():
            call = queue.get_nowait()
            started = time.perf_counter()
            response: httpx.Response = await call()
            latencies.append(time.perf_counter() - started)
            if response.status_code != 200 or response.json().get("outcome") == "no_match":
                errors += 1

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return Result(name, len(calls), time.perf_counter() - started, latencies, errors)


def identity(citizen: Citizen) -> dict[str, str]:
    """Return the verification body of a citizen's true identity."""
    return {
        "cccd": citizen.cccd,
        "full_name": citizen.full_name,
        "date_of_birth": citizen.date_of_birth.isoformat(),
    }


async def prepare_kafka(kafka: KafkaSettings, run: str) -> dict[str, str]:
    """Create the run's topics, register the bench consumer; return the adapter's topic env."""
    topics = {
        "REGISTRY_TOPIC": f"bench.registry-{run}",
        "AUDIT_TOPIC": f"bench.audit-{run}",
        "VERIFICATION_TOPIC": f"bench.verification-{run}",
    }
    specs = [TopicSpec(name, 1 if key == "REGISTRY_TOPIC" else 3) for key, name in topics.items()]
    await ensure_topics(kafka, specs)
    consumer = {
        "id": "bench",
        "organisation_id": "org-bench",
        "topic": "population.citizen",
        "purpose": PURPOSE,
        "fields": ["/full_name", "/date_of_birth"],
        "status": "approved",
    }
    await publish_registry_changes(
        kafka,
        topics["REGISTRY_TOPIC"],
        [
            ("organisation", "org-bench", {"id": "org-bench", "code": "000.00.17.H03"}),
            ("consumer", "bench", consumer),
        ],
    )
    return {f"POPULATION_ADAPTER_{key}": value for key, value in topics.items()}


def start_adapter(bootstrap: str, upstream_url: str, env: dict[str, str], log: Path) -> Any:
    """Start the adapter as its own process and wait until it is ready; return (process, url)."""
    port = free_port()
    full_env = {
        **os.environ,
        **env,
        "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
        "POPULATION_ADAPTER_PORT": str(port),
        "POPULATION_ADAPTER_UPSTREAM_URL": upstream_url,
        "POPULATION_ADAPTER_GATEWAY_TOKEN": TOKEN,
        "POPULATION_ADAPTER_CACHE_TTL_S": "600",
        "POPULATION_ADAPTER_LOG_LEVEL": "WARNING",
    }
    handle = log.open("ab")
    process = subprocess.Popen(
        [sys.executable, "-m", "population_adapter"], env=full_env, stdout=handle, stderr=handle
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the adapter exited; see {log}")
        try:
            if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                return process, url
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    process.terminate()
    raise RuntimeError(f"the adapter was not ready in 90 s; see {log}")


async def measure(
    upstream: str, adapter: str, citizens: list[Citizen], concurrency: int
) -> list[Result]:
    """Run the three scenarios and return their results."""
    half = len(citizens) // 2
    warmup, cold = citizens[:half], citizens[half:]
    headers = {"X-LGSP-Gateway-Token": TOKEN, "X-LGSP-Consumer": "bench", "X-LGSP-Purpose": PURPOSE}
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(timeout=30, limits=limits) as http:

        def direct(c: Citizen) -> Callable[[], Any]:
            return lambda: http.post(f"{upstream}/citizens/verify", json=identity(c))

        def through(c: Citizen) -> Callable[[], Any]:
            return lambda: http.post(f"{adapter}/v1/verify", json=identity(c), headers=headers)

        # Warm both servers' connections and code paths on ids that are not measured cold.
        await drive("warm-up", http, [through(c) for c in warmup[:200]], concurrency)
        await drive("warm-up", http, [direct(c) for c in warmup[:200]], concurrency)
        baseline = await drive(
            "upstream alone (baseline)", http, [direct(c) for c in cold], concurrency
        )
        cold_run = await drive("adapter, cold cache", http, [through(c) for c in cold], concurrency)
        warm_run = await drive("adapter, warm cache", http, [through(c) for c in cold], concurrency)
    return [baseline, cold_run, warm_run]


def kafka_bootstrap(stack: ExitStack, folder: Path) -> str:
    """Return the cluster to use, starting a local broker if none is configured."""
    existing = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    if existing:
        return existing
    cluster = LocalKafka(folder / "kafka")
    bootstrap = cluster.start()
    stack.callback(cluster.stop)
    return bootstrap


def run(args: argparse.Namespace) -> None:
    """Prepare everything, measure, print the figures."""
    folder = Path(tempfile.mkdtemp(prefix="population-bench-"))
    if args.generate:
        generated, stored = time_generation(args.generate, folder)
        count = args.generate
        print(
            f"Generate {count:,} citizens: {generated:.1f} s ({count / generated:,.0f}/s); "
            f"with the SQLite store: {stored:.1f} s ({count / stored:,.0f}/s)"
        )
    db = ROOT / "var" / "bench" / f"population-{args.count}-s{SEED}.sqlite"
    report = build_database(db, args.count, SEED)
    state = "built" if report.built else "reused"
    print(f"Population database: {args.count:,} citizens ({state}: {db})")
    citizens = list(generate_citizens(SEED, min(args.count, 2 * args.requests)))
    with ExitStack() as stack:
        bootstrap = kafka_bootstrap(stack, folder)
        env = asyncio.run(
            prepare_kafka(KafkaSettings(bootstrap_servers=bootstrap), uuid.uuid4().hex[:8])
        )
        upstream = stack.enter_context(
            UpstreamProcess(
                db, folder / "upstream.log", env={"POPULATION_UPSTREAM_LOG_LEVEL": "WARNING"}
            )
        )
        if args.latency_ms:
            upstream.set_faults(latency_ms=args.latency_ms)
        process, adapter = start_adapter(bootstrap, upstream.url, env, folder / "adapter.log")
        stack.callback(lambda: (process.terminate(), process.wait(15)))
        results = asyncio.run(measure(upstream.url, adapter, citizens, args.concurrency))
    print(
        f"Verifications, {len(citizens) // 2:,} distinct ids, concurrency {args.concurrency}, "
        f"upstream latency {args.latency_ms} ms:"
    )
    for result in results:
        print("  " + result.line(None if result is results[0] else results[0]))
    mean = statistics.mean(results[2].latencies) * 1000
    print(f"  (warm mean {mean:.2f} ms; logs in {folder})")


def main() -> None:
    """Parse the options and run the benchmark."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--count", type=int, default=100_000, help="citizens in the served database"
    )
    parser.add_argument(
        "--generate", type=int, default=1_000_000, help="citizens to time generating (0: skip)"
    )
    parser.add_argument("--requests", type=int, default=3_000, help="distinct ids per scenario")
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--latency-ms", type=float, default=0.0, help="upstream latency to inject")
    run(parser.parse_args())


if __name__ == "__main__":
    main()
