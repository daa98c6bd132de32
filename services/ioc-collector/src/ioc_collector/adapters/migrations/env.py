"""Alembic environment: migrations run on the connection `store_database.migrate` hands over."""

from __future__ import annotations

from alembic import context

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through ioc_collector.adapters.store_database.migrate")
context.configure(
    connection=connection,
    target_metadata=None,
    render_as_batch=True,
    version_table="collector_alembic_version",
)
with context.begin_transaction():
    context.run_migrations()
