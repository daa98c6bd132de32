"""Local development kit: Kafka and PostgreSQL here, the platform supervisor, pytest plugin."""
