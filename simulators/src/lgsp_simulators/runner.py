"""Runs a plan against the gateway at a rate: verify, publish, record the outcome of each event.

Single events at gentle rates (each one a span wrapping its verification and its publish, the
shape of a clinic's check-in), batches per topic for throughput. The pace is kept against the
start time, so a slow gateway slows the run down rather than piling requests up.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import IO

from opentelemetry import trace

from lgsp_simulators.departments.drafts import Draft
from lgsp_simulators.departments.plan import Plan
from lgsp_simulators.gateway import GatewayClient, Outcome, structured
from lgsp_simulators.ground_truth import GroundTruth
from lgsp_simulators.onboarding import Onboarded

Clock = Callable[[], datetime]
VERIFY_CONCURRENCY = 16


@dataclass
class Stats:
    """Counters shown by the progress bar and at the end."""

    planned: int = 0
    accepted: int = 0
    rejected: int = 0  # broken on purpose and refused, as expected
    refused: int = 0  # valid yet refused: a finding
    failed: int = 0  # never acknowledged
    verified: Counter[str] = field(default_factory=Counter)
    started: float = field(default_factory=time.monotonic)

    def rate(self) -> float:
        """Return events sent per second so far."""
        elapsed = time.monotonic() - self.started
        return self.planned / elapsed if elapsed > 0 else 0.0


class Runner:
    """Sends a plan's events through the gateway (or, offline, only records them)."""

    def __init__(
        self,
        plan: Plan,
        truth: GroundTruth,
        onboarded: Onboarded,
        gateway: GatewayClient | None,
        tracer: trace.Tracer,
        *,
        rate: float,
        batch_size: int,
        record: IO[str] | None = None,
        clock: Clock = lambda: datetime.now(UTC),
    ) -> None:
        self.plan = plan
        self.truth = truth
        self.onboarded = onboarded
        self.gateway = gateway
        self.tracer = tracer
        self.rate = rate
        self.batch_size = batch_size
        self.record = record
        self.clock = clock
        self.stats = Stats()
        self.verifying = onboarded.consumer_key is not None
        self._stop = asyncio.Event()
        self._verify_slots = asyncio.Semaphore(VERIFY_CONCURRENCY)

    def stop(self) -> None:
        """Ask the run to end after the events in flight (which are no longer retried)."""
        self._stop.set()
        if self.gateway is not None:
            self.gateway.abandon()

    async def run(self, progress: Callable[[Stats], None] = lambda _: None) -> Stats:
        """Send the plan until it ends or `stop()` is called; returns the counters."""
        self.stats = Stats()
        while not self._stop.is_set():
            drafts = self._take(self.batch_size)
            if not drafts:
                break
            due = self.stats.started + self.stats.planned / self.rate
            delay = due - time.monotonic()
            if delay > 0 and self.gateway is not None:  # offline runs go as fast as they can
                with contextlib.suppress(TimeoutError):  # not wait_for: it can lose a cancel
                    async with asyncio.timeout(delay):
                        await self._stop.wait()
            self.stats.planned += len(drafts)
            await self._send(drafts)
            progress(self.stats)
        return self.stats

    def _take(self, count: int) -> list[Draft]:
        drafts = []
        for _ in range(count):
            draft = self.plan.next(self.clock())
            if draft is None:
                break
            self.truth.planned[draft.department] += 1
            drafts.append(draft)
        return drafts

    async def _send(self, drafts: Sequence[Draft]) -> None:
        if self.gateway is None:
            for draft in drafts:  # offline: what the gateway would say of each
                self._settle(draft, Outcome(422 if draft.broken else 202, None, self.clock()))
            return
        if len(drafts) == 1:
            await self._send_one(drafts[0], self.gateway)
            return
        await asyncio.gather(*(self._checked(d) for d in drafts if d.identity is not None))
        by_topic: dict[str, list[Draft]] = {}
        for draft in drafts:
            by_topic.setdefault(draft.topic, []).append(draft)
        await asyncio.gather(*(self._send_batch(t, ds, self.gateway) for t, ds in by_topic.items()))

    async def _send_one(self, draft: Draft, gateway: GatewayClient) -> None:
        name = f"simulate {draft.department} {draft.topic}"
        with self.tracer.start_as_current_span(name, kind=trace.SpanKind.PRODUCER) as span:
            span.set_attribute("messaging.message.id", draft.event_id)
            await self._verify(draft, gateway)
            topic = draft.topic
            source = self.onboarded.sources[topic]
            outcome = await gateway.publish_one(topic, self.onboarded.keys[topic], source, draft)
            span.set_attribute("http.response.status_code", outcome.status)
        self._settle(draft, outcome)

    async def _send_batch(self, topic: str, drafts: list[Draft], gateway: GatewayClient) -> None:
        with self.tracer.start_as_current_span(f"simulate batch {topic}") as span:
            span.set_attribute("messaging.batch.message_count", len(drafts))
            source = self.onboarded.sources[topic]
            outcomes = await gateway.publish_batch(
                topic, self.onboarded.keys[topic], source, drafts
            )
        for draft, outcome in zip(drafts, outcomes, strict=True):
            self._settle(draft, outcome)

    async def _checked(self, draft: Draft) -> None:
        assert self.gateway is not None
        async with self._verify_slots:
            with self.tracer.start_as_current_span(f"simulate {draft.department} check-in"):
                await self._verify(draft, self.gateway)

    async def _verify(self, draft: Draft, gateway: GatewayClient) -> None:
        """Verify the patient's chip CCCD; the visit carries the verification id on a match."""
        identity, key = draft.identity, self.onboarded.consumer_key
        if identity is None or key is None or not self.verifying:
            return
        status, answer = await gateway.verify(key, identity)
        if status == 200:
            draft.payload["verification_id"] = str(answer["verification_id"])
            requester = self.onboarded.requester or ""
            purpose = self.plan.scenario.population.purpose
            self.truth.verified(answer, requester, purpose, identity.cccd)
            self.stats.verified[str(answer["outcome"])] += 1
        elif status in (401, 403):
            self.verifying = False  # not authorised: stop asking (no outcome is published)
            self.truth.notes["verification_stopped"] = f"{status}: {answer.get('detail', '')}"
        else:
            self.truth.unsure("verify", draft, f"status {status}")
            self.stats.verified["failed"] += 1

    def _settle(self, draft: Draft, outcome: Outcome) -> None:
        if self.record is not None:
            source = self.onboarded.sources.get(draft.topic, draft.department)
            event = structured(draft, source, outcome.time or self.clock())
            self.record.write(json.dumps({"topic": draft.topic, "event": event}) + "\n")
        if outcome.status == 202:
            self.truth.accept(draft, outcome.time or self.clock())
            self.stats.accepted += 1
        elif outcome.status == 0 or outcome.status >= 500:
            self.truth.unsure("publish", draft, f"status {outcome.status}")
            self.stats.failed += 1
        else:
            self.truth.refuse(draft, outcome.status, outcome.problem)
            if draft.broken is None:
                self.stats.refused += 1
            else:
                self.stats.rejected += 1
