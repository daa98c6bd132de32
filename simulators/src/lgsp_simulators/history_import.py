"""Send a history through the gateway's batch endpoint as one import run, before the live run.

Each department's topics go in parallel, a topic's batches (1,000 events) one after the other
with the source's key and the batch's `lgsp-import-run` header; what the gateway answers goes
into the ground truth like a live event's outcome (accepted events count in the KPIs' values).
The police's verification outcomes are published live by the population adapter; their history
needs the police source's own publishing key, which `police_key` gets from the registry.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from lgsp_cli.registry_client import RegistryClient, RegistryError
from lgsp_simulators.gateway import GatewayClient, Outcome
from lgsp_simulators.ground_truth import VERIFICATION_TOPIC, GroundTruth
from lgsp_simulators.history import History, HistoryEvent
from lgsp_simulators.onboarding import Onboarded, Onboarding

BATCH = 1000


@dataclass
class ImportReport:
    """What an import run sent and how the gateway answered, per topic."""

    run_id: str
    sent: dict[str, int] = field(default_factory=dict)
    accepted: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0

    def note(self, history: History) -> dict[str, Any]:
        """Return the ground truth's note on the run."""
        return {"run_id": self.run_id, "from": history.start.isoformat(),
                "to": history.end.isoformat(), "sent": self.sent, "accepted": self.accepted,
                "seconds": round(self.seconds, 2)}  # fmt: skip


def police_key(onboarding: Onboarding, into: Onboarded) -> None:
    """Get a publishing key for the police's verification source (for its history only)."""
    police = Onboarded()
    onboarding.department("population", police, keys=True)
    into.sources.update(police.sources)
    into.keys.update(police.keys)


async def import_history(
    history: History,
    gateway: GatewayClient | None,
    onboarded: Onboarded,
    truth: GroundTruth,
) -> ImportReport:
    """Send every topic's history (concurrently per topic) and record each event's outcome."""
    report = ImportReport(history.run_id)
    started = time.monotonic()
    topics = [t for t in history.events if gateway is None or t in onboarded.keys]
    await asyncio.gather(
        *(_topic(history, topic, gateway, onboarded, truth, report) for topic in topics)
    )
    report.seconds = time.monotonic() - started
    return report


async def _topic(
    history: History, topic: str, gateway: GatewayClient | None, onboarded: Onboarded,
    truth: GroundTruth, report: ImportReport,
) -> None:  # fmt: skip
    events = history.events[topic]
    report.sent[topic] = len(events)
    accepted = 0
    for start in range(0, len(events), BATCH):
        chunk = events[start : start + BATCH]
        if gateway is None:  # offline: what the gateway would say
            outcomes = [Outcome(202, None, event.at) for event in chunk]
        else:
            outcomes = await gateway.publish_batch(
                topic, onboarded.keys[topic], onboarded.sources[topic],
                [event.draft for event in chunk], times=[event.at for event in chunk],
                import_run=history.run_id,
            )  # fmt: skip
        accepted += _settle(truth, chunk, outcomes)
    report.accepted[topic] = accepted


def _settle(truth: GroundTruth, chunk: list[HistoryEvent], outcomes: list[Outcome]) -> int:
    accepted = 0
    for event, outcome in zip(chunk, outcomes, strict=True):
        if outcome.status == 202:
            truth.accept(event.draft, event.at)
            accepted += 1
        elif outcome.status == 0 or outcome.status >= 500:
            truth.unsure("import", event.draft, f"status {outcome.status}")
        else:
            truth.refuse(event.draft, outcome.status, outcome.problem)
    return accepted


def verification_requester(onboarded: Onboarded) -> str | None:
    """Return who requests the verifications (Health's agency), if Health reads them."""
    return onboarded.requester if onboarded.consumer_key is not None else None


def registry_client(url: str, token: str | None) -> RegistryClient:
    """Return a client of the registry (as the operator)."""
    return RegistryClient(url=url.rstrip("/"), token=token)


def try_police_key(onboarding: Onboarding, into: Onboarded, say: Callable[[str], None]) -> bool:
    """Get the police source's key; False (said why) when the registry refuses."""
    try:
        police_key(onboarding, into)
    except RegistryError as exc:
        say(f"history: no key for {VERIFICATION_TOPIC}: {exc.describe()}")
        return False
    return True
