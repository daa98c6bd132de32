"""The multi-host platform of the suite: which host runs what, and how each is started.

| host | address     | runs                                                        |
|------|-------------|-------------------------------------------------------------|
| k1-3 | 10.251.0.11-13 | one Kafka node each (combined broker+controller, KRaft) |
| reg  | 10.251.0.20 | the registry, its database on the pg host                   |
| g1-2 | 10.251.0.21-22 | a gateway each                                           |
| cl   | 10.251.0.30 | the load client (`load_client.py`), both gateways           |
| pg   | 10.251.0.40 | PostgreSQL (`LocalPostgres` on the host; the registry's database, and the
|      |             | collectors' store: a database of its own)                  |
| c1-2 | 10.251.0.31-32 | a collector each, sharing the store (`collectors_env.py`; only the |
|      |             | collector suite starts them)                                |

The test process itself is 10.251.0.1 (the bridge): it creates topics, seeds the registry over
HTTP and reads the data topic to count by ce_id. Topics have three replicas, min ISR 2; the
gateways produce with acks=all (the project's producer).
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.client import AIOKafkaClient
from pydantic_settings import BaseSettings

from lgsp_cli.registry_client import RegistryClient
from lgsp_cli.registry_seed import default_seed_file, seed
from lgsp_common.settings import KafkaSettings, repo_root, sample_secrets
from lgsp_common.topics import TopicSpec, ensure_topics, platform_topics
from lgsp_devkit.kafka_local import LocalKafka
from lgsp_devkit.netns import SUBNET, Host, TestNetwork
from lgsp_devkit.postgres_local import LocalPostgres
from lgsp_gateway.settings import GatewaySettings
from lgsp_registry.settings import RegistrySettings

BROKERS = {"k1": "10.251.0.11", "k2": "10.251.0.12", "k3": "10.251.0.13"}
REGISTRY = ("reg", "10.251.0.20")
GATEWAYS = {"g1": "10.251.0.21", "g2": "10.251.0.22"}
CLIENT = ("cl", "10.251.0.30")
POSTGRES = ("pg", "10.251.0.40")
DATA_TOPIC = "tthc.dossier.v1"
SOURCE = "dvc-ho-so-tthc"
LOAD_CLIENT = Path(__file__).with_name("load_client.py")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
FIGURES: dict[str, Any] = {}  # per fault; printed by conftest's terminal summary


def record(name: str, figures: dict[str, Any]) -> None:
    """Keep one fault's figures for the summary and write them all to the artifact file."""
    FIGURES[name] = figures
    ARTIFACTS.mkdir(exist_ok=True)
    text = json.dumps(FIGURES, indent=2, ensure_ascii=False)
    (ARTIFACTS / "multihost.json").write_text(text + "\n", encoding="utf-8")


def real_secrets(settings_class: type[BaseSettings], host: str) -> dict[str, str]:
    """Return a fresh random value for each secret the service refuses to keep beyond loopback."""
    found = sample_secrets(settings_class(**{"host": host}))
    return {variable: secrets.token_urlsafe(32) for variable in found}


@dataclass
class Platform:
    """Kafka on three hosts, the registry, two gateways; started and stopped by the suite."""

    network: TestNetwork
    folder: Path
    kafka: LocalKafka | None = None
    postgres: LocalPostgres | None = None
    gateways: dict[str, str] = field(default_factory=dict)  # host name -> base URL
    api_key: str = ""
    registry_url: str = ""
    began: float = field(default_factory=time.monotonic)
    start_s: float = 0.0  # how long `start` took

    @property
    def bootstrap(self) -> str:
        """Return the cluster's bootstrap list (the three brokers' host addresses)."""
        return ",".join(f"{address}:9092" for address in BROKERS.values())

    def host(self, name: str) -> Host:
        """Return the host called `name`."""
        return self.network.hosts[name]

    def broker_host(self, node_id: int) -> Host:
        """Return the host of Kafka node `node_id` (1-based)."""
        return self.host(list(BROKERS)[node_id - 1])

    def start(self) -> None:
        """Make the hosts and start everything on them, waiting until each part serves."""
        for name, address in [*BROKERS.items(), REGISTRY, *GATEWAYS.items(), CLIENT, POSTGRES]:
            self.network.add_host(name, address)
        self.postgres = LocalPostgres(
            port=5432,
            host=POSTGRES[1],
            clients=str(SUBNET),
            launch_prefix=self.host(POSTGRES[0]).exec_prefix(),
        )
        self.postgres.start()
        hosts = [self.host(name) for name in BROKERS]
        self.kafka = LocalKafka(
            self.folder / "kafka",
            brokers=3,
            heap="384m",
            hosts=list(BROKERS.values()),
            launch_prefix=lambda node: hosts[node.node_id - 1].exec_prefix(),
        )
        self.kafka.start(timeout_s=150)
        asyncio.run(self._topics())
        self._start_registry()
        for name, address in GATEWAYS.items():
            self.gateways[name] = self._start_gateway(name, address)
        wait_ready([self.registry_url, *self.gateways.values()], 120)
        self._seed()
        self.start_s = time.monotonic() - self.began

    def stop(self) -> None:
        """Stop the cluster's nodes cleanly; the network's stop kills whatever else runs."""
        if self.kafka is not None:
            self.kafka.stop()
        if self.postgres is not None:
            self.postgres.stop()

    def kafka_settings(self) -> KafkaSettings:
        """Return the project's client settings for this cluster (three replicas)."""
        return KafkaSettings(bootstrap_servers=self.bootstrap, replication_factor=3)

    async def _topics(self) -> None:
        specs = [*platform_topics(), TopicSpec(DATA_TOPIC, 3)]
        await ensure_topics(self.kafka_settings(), specs)

    def _environment(self, prefix: str, host: str, settings: type[BaseSettings]) -> dict[str, str]:
        return {
            **os.environ,
            "PYTHONUNBUFFERED": "1",
            "KAFKA_BOOTSTRAP_SERVERS": self.bootstrap,
            "KAFKA_REPLICATION_FACTOR": "3",
            f"{prefix}HOST": host,
            f"{prefix}LOG_JSON": "false",
            **real_secrets(settings, host),
        }

    def _start_registry(self) -> None:
        name, address = REGISTRY
        assert self.postgres is not None
        self.operator_token = secrets.token_urlsafe(32)
        env = self._environment("LGSP_REGISTRY_", address, RegistrySettings) | {
            "LGSP_REGISTRY_PORT": "8081",
            "LGSP_REGISTRY_DATA_DIR": str(self.folder / "registry"),
            "LGSP_REGISTRY_OPERATOR_TOKEN": self.operator_token,
            "LGSP_REGISTRY_DATABASE_URL": self.postgres.create_database("registry"),
        }
        self.host(name).run(
            [sys.executable, "-m", "lgsp_registry"], env=env, log_path=self.log_path(name)
        )
        self.registry_url = f"http://{address}:8081"

    def _start_gateway(self, name: str, address: str) -> str:
        env = self._environment("LGSP_GATEWAY_", address, GatewaySettings) | {
            "LGSP_GATEWAY_PORT": "8080",
            "LGSP_GATEWAY_INSTANCE_ID": name,
            "LGSP_GATEWAY_REPLICAS": str(len(GATEWAYS)),
            "LGSP_GATEWAY_RETRY_AFTER_S": "1",
        }
        self.host(name).run(
            [sys.executable, "-m", "lgsp_gateway"], env=env, log_path=self.log_path(name)
        )
        return f"http://{address}:8080"

    def log_path(self, name: str) -> Path:
        """Return where the processes of host `name` write their output."""
        return self.folder / "logs" / f"{name}.log"

    def _seed(self) -> None:
        """Register the departments and contracts, then a key of the dossier source."""
        client = RegistryClient(url=self.registry_url, token=self.operator_token)
        seed(client, repo_root() / "contracts", default_seed_file(), self.folder / "no-kpis")
        self.api_key = str(client.request("POST", f"/v1/sources/{SOURCE}/keys")["key"])

    def start_load(self, label: str, rate: float = 30.0, submitted_at: str = "") -> LoadRun:
        """Start the load client on its host, publishing through both gateways."""
        out = self.folder / f"load-{label}.jsonl"
        command = [sys.executable, str(LOAD_CLIENT), "--key", self.api_key, "--label", label,
                   "--out", str(out), "--rate", f"{rate:g}", "--timeout", "4"]  # fmt: skip
        command += ["--submitted-at", submitted_at] if submitted_at else []
        for url in self.gateways.values():
            command += ["--gateway", url]
        process = self.host(CLIENT[0]).run(command, log_path=self.log_path(CLIENT[0]))
        return LoadRun(label, out, process)


def wait_ready(urls: list[str], timeout_s: float) -> None:
    """Wait until every service answers its /readyz with 200."""
    deadline = time.monotonic() + timeout_s
    pending = list(urls)
    while pending:
        for url in list(pending):
            try:
                if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                    pending.remove(url)
            except httpx.HTTPError:
                pass
        if pending and time.monotonic() > deadline:
            raise AssertionError(f"not ready within {timeout_s:.0f}s: {pending}")
        time.sleep(0.3)


@dataclass
class LoadRun:
    """One run of the load client: its answers file, read while it runs."""

    label: str
    out: Path
    process: subprocess.Popen[bytes]

    def answers(self) -> list[dict[str, Any]]:
        """Return every attempt written so far (a half-written last line is skipped)."""
        found = []
        for line in self.out.read_text(encoding="utf-8").splitlines() if self.out.exists() else []:
            try:
                found.append(json.loads(line))
            except ValueError:
                continue
        return [a for a in found if "ce_id" in a]

    async def wait_for_202(
        self, after: float, timeout_s: float, gateway: str | None = None
    ) -> float:
        """Wait until an attempt sent after `after` (via `gateway`) got a 202; return when."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            done = [a["done"] for a in self.answers() if a["status"] == 202 and a["sent"] > after
                    and gateway in (None, a["gw"])]  # fmt: skip
            if done:
                return float(min(done))
            assert self.process.poll() is None, f"the load client exited: {self.out}"
            await asyncio.sleep(0.2)
        raise AssertionError(f"no 202 (via {gateway or 'any gateway'}) within {timeout_s:.0f}s")

    async def stop(self, timeout_s: float = 200.0) -> list[dict[str, Any]]:
        """SIGTERM the client, wait until it settled every event; return all its attempts."""
        self.process.terminate()
        deadline = time.monotonic() + timeout_s
        while self.process.poll() is None:
            assert time.monotonic() < deadline, "the load client did not settle its events"
            await asyncio.sleep(0.2)
        assert '"end": true' in self.out.read_text(encoding="utf-8"), "load client crashed"
        return self.answers()


async def read_ids(bootstrap: str, topic: str, label: str) -> list[str]:
    """Read `topic` to its end from the control host; return the ce_ids starting with `label`."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, auto_offset_reset="earliest")
    await consumer.start()
    ids: list[str] = []
    try:
        parts = [TopicPartition(topic, p) for p in range(3)]
        consumer.assign(parts)
        await consumer.seek_to_beginning(*parts)
        ends = await consumer.end_offsets(parts)
        while [tp for tp, end in ends.items() if await consumer.position(tp) < end]:
            for records in (await consumer.getmany(timeout_ms=500)).values():
                ids += [dict(r.headers)["ce_id"].decode() for r in records]
    finally:
        await consumer.stop()
    return [i for i in ids if i.startswith(f"{label}-")]


async def leaders(bootstrap: str, topic: str) -> dict[int, tuple[int, list[int]]]:
    """Return {partition: (leader node id or -1, in-sync replicas)} from fresh metadata."""
    client = AIOKafkaClient(bootstrap_servers=bootstrap, request_timeout_ms=5000)
    try:
        await client.bootstrap()
        metadata = await client.fetch_all_metadata()
        found = metadata._partitions.get(topic, {})  # aiokafka keeps the ISR only here
        return {p: (meta.leader, list(meta.isr)) for p, meta in sorted(found.items())}
    finally:
        await client.close()


async def wait_until(what: str, check: Any, timeout_s: float) -> float:
    """Poll the async `check` until it returns True; return how long it took."""
    started = time.monotonic()
    last: Any = None
    while time.monotonic() - started < timeout_s:
        try:
            if await check():
                return time.monotonic() - started
        except Exception as exc:  # a broker still starting or cut: ask again
            last = exc
        await asyncio.sleep(0.5)
    raise AssertionError(f"{what}: not within {timeout_s:.0f}s (last error: {last!r})")
