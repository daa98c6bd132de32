"""Fault injection for the simulated upstream: latency and failures, changeable live."""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict, Field


class Faults(BaseModel):
    """The faults in force (POST /_faults replaces them)."""

    model_config = ConfigDict(extra="forbid")

    latency_ms: float = Field(default=0.0, ge=0, le=120_000)
    latency_jitter_ms: float = Field(default=0.0, ge=0, le=120_000)
    failure_rate: float = Field(default=0.0, ge=0, le=1)


class FaultReport(Faults):
    """The faults in force and what they did so far."""

    requests: int
    failures_injected: int


@dataclass
class FaultInjector:
    """Delays citizen reads and fails a share of them, as the faults in force say."""

    faults: Faults
    rng: random.Random
    requests: int = 0
    failures_injected: int = 0

    async def apply(self) -> bool:
        """Wait the configured latency; return True when this read must fail."""
        self.requests += 1
        faults = self.faults
        delay_ms = faults.latency_ms + self.rng.uniform(0, faults.latency_jitter_ms)
        if delay_ms > 0:
            await asyncio.sleep(delay_ms / 1000)
        if faults.failure_rate > 0 and self.rng.random() < faults.failure_rate:
            self.failures_injected += 1
            return True
        return False

    def report(self) -> FaultReport:
        """Return the faults in force and the counters."""
        return FaultReport(
            **self.faults.model_dump(),
            requests=self.requests,
            failures_injected=self.failures_injected,
        )
