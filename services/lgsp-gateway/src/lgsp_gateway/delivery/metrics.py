"""Prometheus series of the delivery workers, per subscription."""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


@dataclass
class DeliveryMetrics:
    """Attempts, failures, deliveries and dead letters per subscription."""

    attempts: Counter
    failures: Counter
    delivered: Counter
    dead_letters: Counter
    seconds: Histogram
    running: Gauge

    @classmethod
    def create(cls, registry: CollectorRegistry) -> DeliveryMetrics:
        """Register the series on the app's registry."""
        sub = ["subscription", "consumer"]
        return cls(
            attempts=Counter("webhook_attempts", "Delivery attempts", sub, registry=registry),
            failures=Counter(
                "webhook_failures",
                "Failed attempts, by reason",
                [*sub, "reason"],
                registry=registry,
            ),
            delivered=Counter(
                "webhook_delivered", "Records acknowledged with a 2xx", sub, registry=registry
            ),
            dead_letters=Counter(
                "webhook_dead_letters", "Records sent to the webhook DLQ", sub, registry=registry
            ),
            seconds=Histogram(
                "webhook_attempt_seconds",
                "Duration of one delivery attempt",
                registry=registry,
                buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5, 10),
            ),
            running=Gauge(
                "webhook_subscriptions_running",
                "Subscriptions this worker follows",
                registry=registry,
            ),
        )
