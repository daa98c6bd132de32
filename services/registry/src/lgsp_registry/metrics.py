"""The registry's Prometheus series: committed changes, compatibility verdicts, the outbox."""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Gauge


@dataclass(frozen=True)
class OutboxMetrics:
    """The outbox publisher's series."""

    published: Counter
    pending: Gauge
    failures: Counter

    @classmethod
    def create(cls, registry: CollectorRegistry) -> OutboxMetrics:
        """Register the series on the app's registry."""
        return cls(
            published=Counter(
                "registry_events_published", "Change events acked by Kafka", registry=registry
            ),
            pending=Gauge(
                "registry_outbox_pending", "Change events waiting in the outbox", registry=registry
            ),
            failures=Counter(
                "registry_publish_failures", "Failed attempts to publish", registry=registry
            ),
        )


@dataclass(frozen=True)
class RegistryMetrics:
    """Every series the registry exports on /metrics."""

    changes: Counter
    checks: Counter
    outbox: OutboxMetrics
    kpi_checks: Counter

    @classmethod
    def create(cls, registry: CollectorRegistry) -> RegistryMetrics:
        """Register the series on the app's registry."""
        return cls(
            changes=Counter(
                "registry_changes", "Committed entity changes", ["kind", "op"], registry=registry
            ),
            checks=Counter(
                "registry_compatibility_checks",
                "Candidate contract versions judged, by verdict",
                ["verdict"],
                registry=registry,
            ),
            outbox=OutboxMetrics.create(registry),
            kpi_checks=Counter(
                "registry_kpi_checks",
                "KPI definitions judged at push or dry run, by verdict (refused: a 422)",
                ["verdict"],
                registry=registry,
            ),
        )

    def record_changes(self, changes: list[tuple[str, str]]) -> None:
        """Count committed changes."""
        for kind, op in changes:
            self.changes.labels(kind, op).inc()

    def record_kpi_check(self, accepted: bool) -> None:
        """Count one KPI definition judged."""
        self.kpi_checks.labels("accepted" if accepted else "refused").inc()

    def record_check(self, compatible: bool) -> None:
        """Count one dry-run verdict."""
        self.checks.labels("compatible" if compatible else "incompatible").inc()
