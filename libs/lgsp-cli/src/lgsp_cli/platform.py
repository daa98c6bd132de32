"""Run the whole platform on one machine: Kafka plus the four services, stopped cleanly."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from lgsp_cli.kafka_local import LocalKafka, die_with_parent
from lgsp_common.settings import KafkaSettings, repo_root
from lgsp_common.topics import TopicSpec, contract_topics, ensure_topics, platform_topics


@dataclass(frozen=True)
class ServiceSpec:
    """How to start one service and the env prefix of its settings."""

    name: str
    package: str
    env_prefix: str
    port: int


SERVICES = (
    ServiceSpec("registry", "lgsp_registry", "LGSP_REGISTRY_", 8081),
    ServiceSpec("lgsp-gateway", "lgsp_gateway", "LGSP_GATEWAY_", 8080),
    ServiceSpec("ioc-collector", "ioc_collector", "IOC_COLLECTOR_", 8082),
    ServiceSpec("population-adapter", "population_adapter", "POPULATION_ADAPTER_", 8083),
)


@dataclass
class RunningService:
    """A started service process and where it listens."""

    spec: ServiceSpec
    url: str
    process: subprocess.Popen[bytes]
    log_path: Path


@dataclass
class Platform:
    """Starts and stops Kafka (unless KAFKA_BOOTSTRAP_SERVERS is set) and the services."""

    var_dir: Path
    kafka_port: int = 9092
    port_offset: int = 0
    say: Callable[[str], None] = print
    kafka: LocalKafka | None = None
    services: list[RunningService] = field(default_factory=list)
    bootstrap: str = ""

    def start(self) -> None:
        """Bring everything up and wait until every service is ready."""
        started = time.monotonic()
        self.bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "")
        if self.bootstrap:
            self.say(f"Kafka: using the existing cluster at {self.bootstrap}")
        else:
            self.say("Kafka: starting a local broker (first run fetches its jars with Maven)…")
            self.kafka = LocalKafka(self.var_dir / "kafka", ports=[self.kafka_port])
            self.bootstrap = self.kafka.start()
            self.say(f"Kafka: ready at {self.bootstrap} ({time.monotonic() - started:.1f}s)")
        self._ensure_topics()
        for spec in SERVICES:
            self.services.append(self._launch(spec))
        self._wait_ready(timeout_s=90)
        self.say(f"Platform ready in {time.monotonic() - started:.1f}s")

    def _ensure_topics(self) -> None:
        kafka = KafkaSettings(bootstrap_servers=self.bootstrap)
        contracts = repo_root() / "contracts"
        specs = platform_topics() + [TopicSpec(t) for t in contract_topics(contracts)]
        created = asyncio.run(ensure_topics(kafka, specs))
        self.say(f"Topics: {len(specs)} in place ({len(created)} created now)")

    def _launch(self, spec: ServiceSpec) -> RunningService:
        port = spec.port + self.port_offset
        env = dict(os.environ)
        env["KAFKA_BOOTSTRAP_SERVERS"] = self.bootstrap
        env[f"{spec.env_prefix}PORT"] = str(port)
        env[f"{spec.env_prefix}HOST"] = "127.0.0.1"
        log_path = self.var_dir / "logs" / f"{spec.name}.log"
        log_path.parent.mkdir(parents=True, exist_ok=True)
        command = [sys.executable, "-m", spec.package]
        process = subprocess.Popen(
            command,
            env=env,
            stdout=log_path.open("ab"),
            stderr=subprocess.STDOUT,
            preexec_fn=die_with_parent,  # noqa: PLW1509
        )
        return RunningService(spec, f"http://127.0.0.1:{port}", process, log_path)

    def _wait_ready(self, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        pending = list(self.services)
        with httpx.Client(timeout=2.0) as client:
            while pending:
                for service in list(pending):
                    self.check_alive(service)
                    try:
                        if client.get(service.url + "/readyz").status_code == 200:
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
        """Stop the services first (they flush to Kafka), then the broker."""
        for service in self.services:
            if service.process.poll() is None:
                service.process.send_signal(signal.SIGTERM)
        for service in self.services:
            try:
                service.process.wait(20)
            except subprocess.TimeoutExpired:
                service.process.kill()
                service.process.wait()
        if self.kafka is not None:
            self.kafka.stop()
