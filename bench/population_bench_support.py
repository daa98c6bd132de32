"""Pieces of the population benchmark: its result row, the generation timing, the run's topics
and registry entries (the adapter's and the gateway's), the adapter process, the bodies files
and the Kafka cluster (see population_bench.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from lgsp_common.api_keys import hash_api_key
from lgsp_common.settings import KafkaSettings
from lgsp_common.topics import TopicSpec, ensure_topics
from lgsp_devkit.kafka_local import LocalKafka, free_port
from lgsp_devkit.testing import new_api_key, publish_registry_changes
from lgsp_simulators.national_population.generator import generate_citizens
from lgsp_simulators.national_population.store import build_database
from lgsp_vn.citizen import Citizen

SEED = 6


TOKEN = "bench-gateway-token"  # noqa: S105 - a local, throw-away shared secret


PURPOSE = "health_insurance_check"


CONSUMER = "bench"


@dataclass
class Result:
    """One scenario's figures."""

    name: str
    requests: int
    rate: float
    p50_ms: float
    p99_ms: float
    errors: int
    note: str = ""  # why nothing was measured (e.g. the gateway did not start)

    def line(self, baseline: Result | None) -> str:
        """Format one table row."""
        ratio = f"{self.rate / baseline.rate:6.2f}x" if baseline and baseline.rate else "   base"
        return (
            f"{self.name:<32}{self.rate:>9,.0f}/s {ratio}  p50 {self.p50_ms:7.2f} ms"
            f"  p99 {self.p99_ms:7.2f} ms  requests {self.requests:,}  errors {self.errors}"
            + (f"  ({self.note})" if self.note else "")
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
    compact = {"cleanup.policy": "compact"}
    specs.append(TopicSpec(f"bench.audit-{run}.checkpoints", 1, config=compact))
    await ensure_topics(kafka, specs)
    await publish_registry_changes(kafka, topics["REGISTRY_TOPIC"], consumer_changes())
    return {f"POPULATION_ADAPTER_{key}": value for key, value in topics.items()}


def consumer_changes() -> list[tuple[str, str, dict[str, Any]]]:
    """Return the registry changes of the bench consumer, approved for population reads."""
    consumer = {
        "id": CONSUMER,
        "organisation_id": "org-bench",
        "topic": "population.citizen.v1",
        "purpose": PURPOSE,
        "fields": ["/full_name", "/date_of_birth"],
        "status": "approved",
    }
    return [
        ("organisation", "org-bench", {"id": "org-bench", "code": "000.00.17.H03"}),
        ("consumer", CONSUMER, consumer),
    ]


async def prepare_gateway(
    kafka: KafkaSettings, run: str, adapter: str
) -> tuple[dict[str, str], str]:
    """Create the gateway's own topics (registry with the consumer and its key, audit, DLQ);
    return its LGSP_GATEWAY_* settings, fronting `adapter` with the bench's token, and the key."""
    registry, audit = f"bench.gw-registry-{run}", f"bench.gw-audit-{run}"
    compact = {"cleanup.policy": "compact"}
    await ensure_topics(
        kafka,
        [
            TopicSpec(registry, 1, config=compact),
            TopicSpec(f"bench.gw-dlq-{run}", 3),
            TopicSpec(audit, 3),
            TopicSpec(f"{audit}.checkpoints", 1, config=compact),
        ],
    )
    key_id, key = new_api_key()
    api_key = {"id": key_id, "consumer_id": CONSUMER, "key_hash": hash_api_key(key)}
    await publish_registry_changes(
        kafka, registry, [*consumer_changes(), ("api_key", key_id, api_key)]
    )
    settings = {
        "LGSP_GATEWAY_REGISTRY_TOPIC": registry,
        "LGSP_GATEWAY_DLQ_TOPIC": f"bench.gw-dlq-{run}",
        "LGSP_GATEWAY_AUDIT_TOPIC": audit,
        "LGSP_GATEWAY_RATE_LIMIT_PER_SOURCE": "1000000",
        "LGSP_GATEWAY_RATE_LIMIT_BURST": "1000000",
        "LGSP_GATEWAY_POPULATION_ADAPTER_URL": adapter,
        "LGSP_GATEWAY_POPULATION_ADAPTER_TOKEN": TOKEN,
    }
    return settings, key


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


def bodies_file(folder: Path, name: str, citizens: list[Citizen]) -> Path:
    """Write one verification body per line."""
    path = folder / f"{name}.jsonl"
    path.write_text("".join(json.dumps(identity(c)) + "\n" for c in citizens))
    return path


def kafka_bootstrap(stack: ExitStack, folder: Path) -> str:
    """Return the cluster to use, starting a local broker if none is configured."""
    existing = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    if existing:
        return existing
    cluster = LocalKafka(folder / "kafka")
    bootstrap = cluster.start()
    stack.callback(cluster.stop)
    return bootstrap


def report_generation(count: int, folder: Path) -> None:
    """Time and print the generation of `count` citizens."""
    generated, stored = time_generation(count, folder)
    print(
        f"Generate {count:,} citizens: {generated:.1f} s ({count / generated:,.0f}/s); "
        f"with the SQLite store: {stored:.1f} s ({count / stored:,.0f}/s)"
    )
