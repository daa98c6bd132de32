"""The gateway's own Prometheus series, registered on the app's registry.

With several worker processes (`WORKERS` > 1) the series live in prometheus-client's
multiprocess files and `/metrics` sums them over the workers (`lgsp_common.workers`). Each gauge
says how the workers' values combine: long polls waiting and audit records pending add up over
the live workers (`livesum`); a consumer's read lag is the value last written by any worker
(`mostrecent`). A gauge read through a callback (the audit records pending) is only visible in
its own process, so in that mode `sample_gauges` writes its value each second.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from lgsp_gateway.adapters.audit_log import AuditSeries


@dataclass
class GatewayMetrics:
    """The gateway's own Prometheus series."""

    accepted: Counter
    rejected: Counter
    failures: Counter
    publish_seconds: Histogram
    records_read: Counter
    read_bytes: Counter
    read_lag: Gauge
    read_waiting: Gauge
    audit: AuditSeries
    replicas: SampledGauge
    sampled: list[SampledGauge] = field(default_factory=list)

    @classmethod
    def create(cls, registry: CollectorRegistry) -> GatewayMetrics:
        """Register the series on the app's registry."""
        failures = Counter(
            "gateway_side_records_failed",
            "DLQ or audit records Kafka did not take",
            ["kind"],
            registry=registry,
        )
        pending = SampledGauge(
            "gateway_audit_pending_records",
            "Audit records handed to Kafka and not yet acknowledged (bounded by AUDIT_MAX_PENDING)",
            registry=registry,
            multiprocess_mode="livesum",
        )
        read_lag, read_waiting = _read_gauges(registry)
        replicas = _replicas_gauge(registry)
        return cls(
            accepted=Counter(
                "gateway_events_accepted",
                "Events acknowledged by Kafka",
                ["source", "topic"],
                registry=registry,
            ),
            rejected=Counter(
                "gateway_events_rejected",
                "Events refused, by reason",
                ["source", "topic", "reason"],
                registry=registry,
            ),
            failures=failures,
            publish_seconds=Histogram(
                "gateway_publish_seconds",
                "Time from request to broker ack, per topic",
                ["topic"],
                registry=registry,
                buckets=(0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10),
            ),
            records_read=Counter(
                "gateway_records_read",
                "Records answered to pull consumers, per consumer",
                ["consumer", "topic"],
                registry=registry,
            ),
            read_bytes=Counter(
                "gateway_read_bytes",
                "Payload bytes read for pull consumers (before minimisation)",
                ["consumer", "topic"],
                registry=registry,
            ),
            read_lag=read_lag,
            read_waiting=read_waiting,
            audit=_audit_series(registry, pending, failures),
            replicas=replicas,
            sampled=[pending, replicas],
        )

    @contextlib.asynccontextmanager
    async def sample_gauges(self, every_s: float = 1.0) -> AsyncIterator[None]:
        """Write the callback gauges' values every `every_s` while the block runs."""

        async def sample() -> None:
            while True:
                for gauge in self.sampled:
                    gauge.sample()
                await asyncio.sleep(every_s)

        task = asyncio.create_task(sample(), name="gateway-gauge-sampler")
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


class SampledGauge(Gauge):
    """A gauge read through a callback that also writes the callback's value on `sample()`.

    prometheus-client's multiprocess mode reads only the values written to its files, never
    `set_function`'s callback, so a worker samples it into its file.
    """

    _callback: Callable[[], float] | None = None

    def set_function(self, f: Callable[[], float]) -> None:
        """Read the gauge through `f` (this process) and keep `f` for `sample()`."""
        self._callback = f
        super().set_function(f)

    def sample(self) -> None:
        """Write the callback's current value where other processes read it."""
        if self._callback is not None:
            self.set(self._callback())


def _read_gauges(registry: CollectorRegistry) -> tuple[Gauge, Gauge]:
    """Return the pull reads' gauges: a consumer's lag, the long polls waiting."""
    lag = Gauge(
        "gateway_read_lag_records",
        "Records between a consumer's last answered cursor and the topic's end",
        ["consumer", "topic"],
        registry=registry,
        multiprocess_mode="mostrecent",  # the last answer's lag, whichever worker gave it
    )
    waiting = Gauge(
        "gateway_read_long_polls_waiting",
        "Pull reads waiting for records (long polls) on this replica",
        ["topic"],
        registry=registry,
        multiprocess_mode="livesum",
    )
    return lag, waiting


def _replicas_gauge(registry: CollectorRegistry) -> SampledGauge:
    """Return the gauge of the replica count this replica divides every limit by."""
    return SampledGauge(
        "gateway_replicas",
        "Gateway replicas each per-source rate limit is divided by: the live count from the "
        "membership group, else the last one it gave, else REPLICAS",
        registry=registry,
        multiprocess_mode="mostrecent",  # every worker writes the replica's one count
    )


def _audit_series(registry: CollectorRegistry, pending: Gauge, failures: Counter) -> AuditSeries:
    return AuditSeries(
        pending=pending,
        unavailable=Counter(
            "gateway_audit_unavailable",
            "Calls answered 503 (or refusals answered unaudited) because their audit record was "
            "not acknowledged, by reason (overloaded, timeout, refused, closing)",
            ["reason"],
            registry=registry,
        ),
        abandoned=Counter(
            "gateway_audit_records_abandoned",
            "Audit records still without an ack when the shutdown's wait ran out",
            registry=registry,
        ),
        failures=failures,
    )
