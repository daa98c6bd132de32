"""Run the whole platform on one machine, with the provincial demo running on it.

Kafka (unless KAFKA_BOOTSTRAP_SERVERS is set), the simulated national population database
(built once, 100,000 citizens by default), the four services, the registry seeded with the
departments of `contracts/`, and the simulated departments publishing at a gentle rate
(`LGSP_DEMO_RATE`, default 5 events/s; 0 runs no simulator). Everything stops cleanly, the
simulators first (they write their ground truth), the broker last.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from lgsp_common.settings import KafkaSettings, repo_root
from lgsp_common.topics import TopicSpec, contract_topics, ensure_topics, platform_topics
from lgsp_devkit.kafka_local import LocalKafka, die_with_parent
from lgsp_devkit.viewers import VIEWER_TOKEN_FILE, dashboard_viewer
from lgsp_simulators.demo import (
    POPULATION_RESOURCE,
    POPULATION_SOURCE,
    DemoSettings,
    build_population,
    operator_token,
    seed_registry,
    simulator_command,
)


@dataclass(frozen=True)
class ServiceSpec:
    """How to start one service and the env prefix of its settings."""

    name: str
    package: str
    env_prefix: str
    port: int
    ready_path: str = "/readyz"


UPSTREAM = ServiceSpec(
    "population-upstream",
    "lgsp_simulators.national_population",
    "POPULATION_UPSTREAM_",
    8093,
    "/healthz",
)
# The consumer departments' webhook receiver (Sở Tư pháp), started by the simulator.
CONSUMERS_PORT = 8095
SERVICES = (
    ServiceSpec("registry", "lgsp_registry", "LGSP_REGISTRY_", 8081),
    ServiceSpec("lgsp-gateway", "lgsp_gateway", "LGSP_GATEWAY_", 8080),
    ServiceSpec("ioc-collector", "ioc_collector", "IOC_COLLECTOR_", 8082),
    ServiceSpec("population-adapter", "population_adapter", "POPULATION_ADAPTER_", 8083),
    # One webhook delivery worker (more share the subscriptions' partitions as consumer groups).
    ServiceSpec("lgsp-webhooks", "lgsp_gateway.delivery", "LGSP_WEBHOOKS_", 8084),
)
COLLECTOR = SERVICES[2]


@dataclass
class RunningService:
    """A started service process and where it listens."""

    spec: ServiceSpec
    url: str
    process: subprocess.Popen[bytes]
    log_path: Path


@dataclass
class Platform:
    """Starts and stops Kafka, the population upstream, the services and the simulators."""

    var_dir: Path
    kafka_port: int = 9092
    port_offset: int = 0
    say: Callable[[str], None] = print
    demo: DemoSettings = field(default_factory=DemoSettings)
    kafka: LocalKafka | None = None
    services: list[RunningService] = field(default_factory=list)
    simulator: RunningService | None = None
    bootstrap: str = ""
    _population_error: str | None = None

    def url(self, spec: ServiceSpec) -> str:
        """Return where a service listens."""
        return f"http://127.0.0.1:{spec.port + self.port_offset}"

    def start(self) -> None:
        """Bring everything up, wait until every service is ready, start the simulators."""
        started = time.monotonic()
        population = threading.Thread(target=self._build_population, daemon=True)
        population.start()  # in parallel with the broker's start
        self._start_kafka(started)
        self._ensure_topics()
        population.join()
        if self._population_error:
            raise RuntimeError(f"population database: {self._population_error}")
        self.services.append(self._launch(UPSTREAM))
        # The collector starts once the registry holds the catalogue: it then reads every KPI and
        # source at once before its first record, instead of a catalogue that grows one entity
        # at a time (each step a rebalance, or a backfill of KPIs over records already read).
        self.services += [self._launch(spec) for spec in SERVICES if spec is not COLLECTOR]
        self._wait_ready(timeout_s=90, only=[SERVICES[0]])  # the others go on starting
        seed_registry(self.url(SERVICES[0]), self.var_dir, self.say)
        self._wait_outbox_published(timeout_s=30)
        self.services.insert(self.services_index(COLLECTOR), self._launch(COLLECTOR))
        self._wait_ready(timeout_s=90)
        self.say(f"Platform ready in {time.monotonic() - started:.1f}s")
        self._start_simulator()
        self.say(f"Dashboard (IOC): {self.url(SERVICES[2])}/")
        viewer = dashboard_viewer(self.url(SERVICES[0]), operator_token(self.var_dir) or "",
                                  self.var_dir / VIEWER_TOKEN_FILE)  # fmt: skip
        self.say(f"  Đăng nhập / Sign in with: {viewer}")

    def _build_population(self) -> None:
        path = self.var_dir / "population" / "citizens.sqlite"
        try:
            build_population(path, self.demo.citizens, self.demo.seed, self.say)
        except Exception as exc:  # reported by start(), in the main thread
            self._population_error = repr(exc)

    def _start_kafka(self, started: float) -> None:
        self.bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "")
        if self.bootstrap:
            self.say(f"Kafka: using the existing cluster at {self.bootstrap}")
            return
        self.say("Kafka: starting a local broker (first run fetches its jars with Maven)…")
        self.kafka = LocalKafka(self.var_dir / "kafka", ports=[self.kafka_port])
        self.bootstrap = self.kafka.start()
        self.say(f"Kafka: ready at {self.bootstrap} ({time.monotonic() - started:.1f}s)")

    def _ensure_topics(self) -> None:
        kafka = KafkaSettings(bootstrap_servers=self.bootstrap)
        contracts = repo_root() / "contracts"
        specs = platform_topics() + [TopicSpec(t) for t in contract_topics(contracts)]
        created = asyncio.run(ensure_topics(kafka, specs))
        self.say(f"Topics: {len(specs)} in place ({len(created)} created now)")

    def _environment(self, spec: ServiceSpec) -> dict[str, str]:
        """Return a service's environment: the shared broker, its port, the demo's wiring."""
        env = dict(os.environ)
        env["KAFKA_BOOTSTRAP_SERVERS"] = self.bootstrap
        env[f"{spec.env_prefix}PORT"] = str(spec.port + self.port_offset)
        env[f"{spec.env_prefix}HOST"] = "127.0.0.1"
        wiring = {
            "LGSP_REGISTRY_DATA_DIR": str(self.var_dir / "registry"),
            "IOC_COLLECTOR_STORE_PATH": str(self.var_dir / "ioc-collector" / "collector.sqlite3"),
            "POPULATION_UPSTREAM_DB_PATH": str(self.var_dir / "population" / "citizens.sqlite"),
            "POPULATION_UPSTREAM_BUILD_IF_MISSING": "false",
            "POPULATION_ADAPTER_UPSTREAM_URL": self.url(UPSTREAM),
            # The adapter publishes outcomes as the police's registered source.
            "POPULATION_ADAPTER_EVENT_SOURCE": POPULATION_SOURCE,
            # The registry only accepts topic-shaped subjects, so readers ask for this name.
            "POPULATION_ADAPTER_CONSUMER_RESOURCE": POPULATION_RESOURCE,
            "LGSP_GATEWAY_POPULATION_RESOURCE": POPULATION_RESOURCE,
            "LGSP_GATEWAY_POPULATION_ADAPTER_URL": self.url(SERVICES[3]),
            # Local runs deliver webhooks to receivers on this machine.
            "LGSP_REGISTRY_WEBHOOKS_ALLOW_LOOPBACK": "true",
            "LGSP_WEBHOOKS_ALLOW_LOOPBACK": "true",
        }
        for name, value in wiring.items():
            env.setdefault(name, value)
        return env

    def _spawn(
        self, name: str, command: list[str], env: dict[str, str]
    ) -> tuple[Path, subprocess.Popen[bytes]]:
        log_path = self.var_dir / "logs" / f"{name}.log"
        log_path.parent.mkdir(parents=True, exist_ok=True)
        process = subprocess.Popen(
            command,
            env=env,
            stdout=log_path.open("ab"),
            stderr=subprocess.STDOUT,
            preexec_fn=die_with_parent,  # noqa: PLW1509
        )
        return log_path, process

    def services_index(self, spec: ServiceSpec) -> int:
        """Return where a service goes in `services` (the order of SERVICES, upstream first)."""
        order = [UPSTREAM.name, *(s.name for s in SERVICES)]
        rank = order.index(spec.name)
        return sum(1 for s in self.services if order.index(s.spec.name) < rank)

    def _wait_outbox_published(self, timeout_s: float) -> None:
        """Wait until the registry's outbox has put every change on its Kafka topic."""
        registry = self.url(SERVICES[0])
        deadline = time.monotonic() + timeout_s
        with httpx.Client(timeout=2.0) as client:
            while time.monotonic() < deadline:
                try:
                    text = client.get(registry + "/metrics").text
                except httpx.TransportError:
                    text = ""
                pending = [line.split()[-1] for line in text.splitlines()
                           if line.startswith("registry_outbox_pending")]  # fmt: skip
                if pending and all(float(value) == 0 for value in pending):
                    return
                time.sleep(0.1)
        self.say(f"Registry: outbox not drained after {timeout_s:.0f}s; the collector starts")

    def _launch(self, spec: ServiceSpec) -> RunningService:
        command = [sys.executable, "-m", spec.package]
        log_path, process = self._spawn(spec.name, command, self._environment(spec))
        return RunningService(spec, self.url(spec), process, log_path)

    def _start_simulator(self) -> None:
        if self.demo.rate <= 0:
            self.say("Simulated departments: off (LGSP_DEMO_RATE=0)")
            return
        gateway, registry = self.url(SERVICES[1]), self.url(SERVICES[0])
        command = simulator_command(
            self.demo, gateway, registry, self.var_dir, CONSUMERS_PORT + self.port_offset
        )
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        log_path, process = self._spawn("simulator", command, env)
        spec = ServiceSpec("simulator", "lgsp_cli.simulate", "LGSP_DEMO_", 0)
        self.simulator = RunningService(spec, gateway, process, log_path)
        self.say(
            f"Simulated departments: publishing {self.demo.rate:g} events/s through the "
            f"gateway (log: {log_path})"
        )
        self.say(
            "Consumer departments: Cục Thống kê tỉnh (Statistics Office) pulls "
            "finance.budget-revenue.v1; Sở Tư pháp (Justice) receives tthc.dossier.v1 results "
            f"by webhook on 127.0.0.1:{CONSUMERS_PORT + self.port_offset}"
        )

    def _wait_ready(self, timeout_s: float, only: list[ServiceSpec] | None = None) -> None:
        deadline = time.monotonic() + timeout_s
        pending = [s for s in self.services if only is None or s.spec in only]
        with httpx.Client(timeout=2.0) as client:
            while pending:
                for service in list(pending):
                    self.check_alive(service)
                    try:
                        answer = client.get(service.url + service.spec.ready_path)
                        if answer.status_code == 200:
                            pending.remove(service)
                    except httpx.TransportError:
                        pass
                if time.monotonic() > deadline:
                    names = ", ".join(s.spec.name for s in pending)
                    raise RuntimeError(f"not ready after {timeout_s:.0f}s: {names}")
                time.sleep(0.3)

    @staticmethod
    def check_alive(service: RunningService) -> None:
        """Raise with the tail of its log if the service process has exited."""
        if service.process.poll() is not None:
            tail = service.log_path.read_text(errors="replace")[-3000:]
            raise RuntimeError(
                f"{service.spec.name} exited ({service.process.returncode}):\n{tail}"
            )

    def stop(self) -> None:
        """Stop the simulators (they write their ground truth), the services, the broker."""
        if self.simulator is not None:
            _terminate([self.simulator])
        _terminate(self.services)
        if self.kafka is not None:
            self.kafka.stop()


def _terminate(services: list[RunningService], timeout_s: float = 20.0) -> None:
    """SIGTERM the processes, then wait; kill those still running after `timeout_s`."""
    for service in services:
        if service.process.poll() is None:
            service.process.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + timeout_s  # one deadline for all, not one each
    for service in services:
        try:
            service.process.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            service.process.kill()
            service.process.wait()
