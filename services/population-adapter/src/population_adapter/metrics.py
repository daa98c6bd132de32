"""The adapter's Prometheus series. Labels are closed sets: never an identifier of a citizen."""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


def _counter(registry: CollectorRegistry, name: str, doc: str, *labels: str) -> Counter:
    return Counter(name, doc, labels, registry=registry)


def _gauge(registry: CollectorRegistry, name: str, doc: str) -> Gauge:
    return Gauge(name, doc, registry=registry)


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
        counter = partial(_counter, registry)
        gauge = partial(_gauge, registry)
        return cls(
            breaker_state=gauge(
                "population_upstream_breaker_state",
                "Upstream circuit: 0 closed, 1 open, 2 half-open",
            ),
            breaker_transitions=counter(
                "population_upstream_breaker_transitions", "Circuit changes by new state", "state"
            ),
            cache_hits=counter("population_cache_hits", "Records served from the cache"),
            cache_misses=counter("population_cache_misses", "Reads the cache could not serve"),
            cache_entries=gauge("population_cache_entries", "Records held in the cache"),
            upstream_retries=counter("population_upstream_retries", "Upstream attempts retried"),
            upstream_in_flight=gauge("population_upstream_in_flight", "Upstream calls in flight"),
            upstream_calls=counter(
                "population_upstream_calls", "Upstream attempts by result", "result"
            ),
            upstream_latency=Histogram(
                "population_upstream_call_seconds",
                "Latency of one upstream attempt",
                registry=registry,
                buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
            ),
            requests=counter(
                "population_requests", "Answers by operation and result", "operation", "result"
            ),
            denied=counter("population_access_denied", "Refused requests by reason", "reason"),
            audit_failures=counter(
                "population_audit_failures", "Audit records the broker did not acknowledge"
            ),
            event_failures=counter(
                "population_verification_event_failures",
                "Verification events the broker did not acknowledge",
            ),
        )
