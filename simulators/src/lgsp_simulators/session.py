"""One simulation run from start to end: onboard, run the plan, write the ground truth.

Used by `lgsp simulate`, by `lgsp dev up` (as a background process) and by the end-to-end
tests (in-process, with their own tracer).
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

import httpx
from opentelemetry import trace

from lgsp_cli.registry_client import RegistryClient
from lgsp_common.settings import repo_root
from lgsp_simulators.consumers import Sharing
from lgsp_simulators.departments.plan import Plan
from lgsp_simulators.gateway import GatewayClient
from lgsp_simulators.ground_truth import GroundTruth
from lgsp_simulators.history import HistoryBuilder
from lgsp_simulators.history_import import (
    import_history,
    registry_client,
    try_police_key,
    verification_requester,
)
from lgsp_simulators.onboarding import Onboarded, Onboarding, seed_sources
from lgsp_simulators.runner import Runner, Stats
from lgsp_simulators.scenario import Scenario


def _root() -> Path:
    return repo_root()


@dataclass
class Target:
    """The platform the simulators talk to, and the files they read."""

    gateway_url: str = "http://127.0.0.1:8080"
    registry_url: str = "http://127.0.0.1:8081"
    token: str | None = None
    contracts_dir: Path = field(default_factory=lambda: _root() / "contracts")
    seed_file: Path = field(default_factory=lambda: _root() / "services" / "registry" / "seed.json")
    kpis_dir: Path = field(default_factory=lambda: _root() / "services" / "ioc-collector" / "kpis")


@dataclass
class Options:
    """How to run: rate, size, where outputs go."""

    rate: float
    events: int | None
    batch_size: int
    run_id: str = field(default_factory=lambda: secrets.token_hex(4))
    truth_path: Path | None = None
    record_path: Path | None = None
    offline: bool = False
    warmup_s: float = 60.0
    # Run the two consumer departments (pull and webhook); their receiver's loopback port.
    consumers_port: int | None = None
    # Months of history imported (one import run through the batch endpoint) before the run.
    history_months: int = 0


def participants(scenario: Scenario) -> list[str]:
    """Return the departments the scenario runs."""
    return [name for name, weight in scenario.weights().items() if weight > 0]


async def onboard(scenario: Scenario, target: Target, say: Callable[[str], None]) -> Onboarded:
    """Onboard the scenario's departments over HTTP (the registry client is synchronous)."""
    client = RegistryClient(url=target.registry_url.rstrip("/"), token=target.token)
    onboarding = Onboarding(client, target.contracts_dir, target.seed_file, say)
    names = participants(scenario)
    verifies = "health" in names and scenario.health.verify_share > 0
    link = scenario.population if verifies else None
    return await asyncio.to_thread(onboarding.run, names, link)


@contextlib.contextmanager
def _recording(path: Path | None) -> Iterator[IO[str] | None]:
    if path is None:
        yield None
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as handle:
        yield handle


@dataclass
class Simulation:
    """A run in progress; `runner` is set once onboarding is done (for stop and progress)."""

    scenario: Scenario
    target: Target
    options: Options
    tracer: trace.Tracer = field(default_factory=lambda: trace.get_tracer("lgsp-simulator"))
    say: Callable[[str], None] = print
    runner: Runner | None = None
    truth: GroundTruth | None = None
    document: dict[str, Any] | None = None
    stopped: bool = False

    def stop(self) -> None:
        """End the run after the events in flight (the ground truth is still written)."""
        self.stopped = True
        if self.runner is not None:
            self.runner.stop()

    async def run(self, progress: Callable[[Stats], None] = lambda _: None) -> Stats:
        """Onboard, send the plan, and write the ground truth (also when interrupted)."""
        options = self.options
        if options.offline:
            onboarded = Onboarded(sources=seed_sources(self.target.seed_file))
        else:
            onboarded = await onboard(self.scenario, self.target, self.say)
        truth = self.truth = GroundTruth(self.scenario.name, self.scenario.seed, options.run_id)
        truth.sources = dict(onboarded.sources)
        truth.notes["onboarding"] = onboarded.notes
        plan = Plan(self.scenario, options.run_id, options.events)
        sharing = await self._start_consumers()
        async with httpx.AsyncClient(base_url=self.target.gateway_url, timeout=30.0) as http:
            gateway = None
            if not options.offline:
                gateway = GatewayClient(http, self.tracer, warmup_s=options.warmup_s)
            if options.history_months and not self.stopped:
                await self._import_history(onboarded, truth, gateway)
            with _recording(options.record_path) as record:
                self.runner = Runner(plan, truth, onboarded, gateway, self.tracer,
                                     rate=options.rate, batch_size=options.batch_size,
                                     record=record)  # fmt: skip
                if self.stopped:
                    self.runner.stop()
                try:
                    return await self.runner.run(progress)
                finally:
                    if sharing is not None:
                        # Stopped early: a short wait, inside the supervisor's stop timeout.
                        wait_s = 5.0 if self.stopped else 30.0
                        await sharing.finish(truth.accepted, wait_s)
                        truth.consumers = sharing.documents(truth.accepted)
                    self._finish(plan)

    async def _import_history(
        self, onboarded: Onboarded, truth: GroundTruth, gateway: GatewayClient | None
    ) -> None:
        """Import the departments' history (one run), then write the ground truth so far."""
        options, target = self.options, self.target
        requester = verification_requester(onboarded)
        if requester is not None and gateway is not None:
            client = registry_client(target.registry_url, target.token)
            onboarding = Onboarding(client, target.contracts_dir, target.seed_file, self.say)
            if not await asyncio.to_thread(try_police_key, onboarding, onboarded, self.say):
                requester = None
        builder = HistoryBuilder(self.scenario, datetime.now(UTC), options.history_months)
        history = await asyncio.to_thread(builder.build, requester)
        report = await import_history(history, gateway, onboarded, truth)
        truth.notes["history"] = report.note(history)
        self.say(f"History: {sum(report.accepted.values()):,} of {history.count():,} events of "
                 f"{options.history_months} months imported in {report.seconds:.1f}s "
                 f"(import run {history.run_id})")  # fmt: skip
        if options.truth_path is not None:  # the ground truth covers the history already
            path, kpis = options.truth_path, target.kpis_dir
            await asyncio.to_thread(truth.write, path, kpis)

    async def _start_consumers(self) -> Sharing | None:
        """Start the consumer departments when asked (they read through the gateway)."""
        port = self.options.consumers_port
        if port is None or self.options.offline:
            return None
        client = RegistryClient(url=self.target.registry_url.rstrip("/"), token=self.target.token)
        sharing = Sharing(self.target.gateway_url, client, port)
        await sharing.start()
        self.say(f"consumers: {sharing.statistics.consumer_id} reads {sharing.statistics.topic} "
                 f"by pull; {sharing.justice.consumer_id} reads {sharing.justice.topic} "
                 "by webhook")  # fmt: skip
        return sharing

    def _finish(self, plan: Plan) -> None:
        truth = self.truth
        assert truth is not None
        silence = self.scenario.faults.silence
        if silence is not None:
            truth.notes["silenced"] = {"department": silence.department,
                                       "after_events": silence.after_events,
                                       "sent": plan.sent[silence.department]}  # fmt: skip
        for name, sim in plan.sims.items():
            late = getattr(sim, "late", None)
            if late is not None:
                truth.notes[f"{name}_late_filers"] = len(late)
                truth.notes[f"{name}_missing_filers"] = len(getattr(sim, "missing", []))
        if self.options.truth_path is not None:
            self.document = truth.write(self.options.truth_path, self.target.kpis_dir)
        else:
            self.document = truth.document(self.target.kpis_dir)
