"""The adapter's Prometheus series. Labels are closed sets: never an identifier of a citizen."""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


@dataclass(frozen=True)
class AdapterMetrics:
    """Every series the adapter exports besides the shared HTTP latency."""

    breaker_state: Gauge
    breaker_transitions: Counter
    cache_hits: Counter
    cache_misses: Counter
    cache_entries: Gauge
    upstream_retries: Counter
    upstream_in_flight: Gauge
    upstream_calls: Counter
    upstream_latency: Histogram
    requests: Counter
    denied: Counter
    audit_failures: Counter
    event_failures: Counter

    @classmethod
    def create(cls, registry: CollectorRegistry) -> AdapterMetrics:
        """Register the series on the app's registry."""
        return cls(
            breaker_state=Gauge(
                "population_upstream_breaker_state",
                "Upstream circuit: 0 closed, 1 open, 2 half-open",
                registry=registry,
            ),
            breaker_transitions=Counter(
                "population_upstream_breaker_transitions",
                "Circuit state changes, by new state",
                ["state"],
                registry=registry,
            ),
            cache_hits=Counter(
                "population_cache_hits", "Records served from the cache", registry=registry
            ),
            cache_misses=Counter(
                "population_cache_misses", "Reads the cache could not serve", registry=registry
            ),
            cache_entries=Gauge(
                "population_cache_entries", "Records held in the cache", registry=registry
            ),
            upstream_retries=Counter(
                "population_upstream_retries", "Upstream attempts retried", registry=registry
            ),
            upstream_in_flight=Gauge(
                "population_upstream_in_flight", "Upstream calls in flight", registry=registry
            ),
            upstream_calls=Counter(
                "population_upstream_calls",
                "Upstream attempts by result",
                ["result"],
                registry=registry,
            ),
            upstream_latency=Histogram(
                "population_upstream_call_seconds",
                "Latency of one upstream attempt",
                registry=registry,
                buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
            ),
            requests=Counter(
                "population_requests",
                "Answered requests by operation and result",
                ["operation", "result"],
                registry=registry,
            ),
            denied=Counter(
                "population_access_denied",
                "Refused requests by reason code",
                ["reason"],
                registry=registry,
            ),
            audit_failures=Counter(
                "population_audit_failures",
                "Audit records the broker did not acknowledge",
                registry=registry,
            ),
            event_failures=Counter(
                "population_verification_event_failures",
                "Verification events the broker did not acknowledge",
                registry=registry,
            ),
        )
