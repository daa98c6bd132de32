"""The gateway's own Prometheus series, registered on the app's registry."""

from __future__ import annotations

from dataclasses import dataclass

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

    @classmethod
    def create(cls, registry: CollectorRegistry) -> GatewayMetrics:
        """Register the series on the app's registry."""
        failures = Counter(
            "gateway_side_records_failed",
            "DLQ or audit records Kafka did not take",
            ["kind"],
            registry=registry,
        )
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
            read_lag=Gauge(
                "gateway_read_lag_records",
                "Records between a consumer's last answered cursor and the topic's end",
                ["consumer", "topic"],
                registry=registry,
            ),
            read_waiting=Gauge(
                "gateway_read_long_polls_waiting",
                "Pull reads waiting for records (long polls) on this replica",
                ["topic"],
                registry=registry,
            ),
            audit=_audit_series(registry, failures),
        )


def _audit_series(registry: CollectorRegistry, failures: Counter) -> AuditSeries:
    return AuditSeries(
        pending=Gauge(
            "gateway_audit_pending_records",
            "Audit records handed to Kafka and not yet acknowledged (bounded by AUDIT_MAX_PENDING)",
            registry=registry,
        ),
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
