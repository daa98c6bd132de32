"""Adapters of the population adapter: upstream HTTP client, breaker, registry view, Kafka."""
