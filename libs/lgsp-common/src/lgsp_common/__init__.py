"""Shared building blocks of the LGSP services: settings, envelope, Kafka, telemetry, errors."""
