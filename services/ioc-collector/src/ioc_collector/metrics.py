"""The collector's Prometheus series, registered once per app on its own registry."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram


class CollectorMetrics:
    """Every series the collector exports besides the shared HTTP ones."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
        self.events = Counter(
            "collector_events", "Events applied to the KPIs", ["topic"], registry=registry
        )
        self.poison = Counter(
            "collector_poison_records",
            "Records skipped as unusable, by reason",
            ["topic", "reason"],
            registry=registry,
        )
        self.commits = Histogram(
            "collector_store_commit_seconds",
            "Time to commit one batch's state and positions",
            registry=registry,
        )
        self.conflicts = Counter(
            "collector_store_conflicts",
            "Commits refused because another replica moved a partition on",
            registry=registry,
        )
        self.backfill_records = Counter(
            "collector_backfill_records",
            "Records a backfill applied to a KPI added at runtime",
            ["kpi"],
            registry=registry,
        )
        self.invalid_kpis = Counter(
            "collector_kpi_definitions_invalid",
            "KPI definitions from the registry the collector cannot use (skipped)",
            registry=registry,
        )
        self.snapshots = Counter(
            "collector_kpi_snapshots", "KPI snapshots published", registry=registry
        )
