"""Composition root of the registry: `create_app(settings)` and its lifespan.

Start-up migrates the database, loads the operator credential and starts the outbox publisher in
the background; the registry serves reads and writes even while Kafka is unreachable (events
wait in the outbox), and `/readyz` says so.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

from fastapi import FastAPI
from prometheus_client import CollectorRegistry

from lgsp_common.http import create_service_app, run_service
from lgsp_common.kafka import KafkaProbe, create_producer
from lgsp_common.logs import configure_logging
from lgsp_common.telemetry import setup_tracing
from lgsp_registry.adapters.database import Store, create_engine, migrate, redacted
from lgsp_registry.adapters.operator_token import load_operator_token
from lgsp_registry.adapters.outbox import OutboxMetrics, OutboxPublisher
from lgsp_registry.api import consumers, contracts, organisations
from lgsp_registry.api.guard import BodyGuard
from lgsp_registry.service.context import Context
from lgsp_registry.settings import RegistrySettings
from lgsp_registry.state import RegistryMetrics, RegistryState

SERVICE = "lgsp-registry"
log = logging.getLogger(__name__)


def _context(settings: RegistrySettings, store: Store) -> Context:
    return Context(
        store=store,
        operator_token=load_operator_token(settings),
        default_compatibility=settings.default_compatibility,
        default_policy=settings.default_policy,
        require_examples=settings.require_examples,
        key_grace_period_s=settings.key_grace_period_s,
    )


def _publisher(settings: RegistrySettings, store: Store, metrics: OutboxMetrics) -> OutboxPublisher:
    return OutboxPublisher(
        store.engine,
        settings.kafka,
        settings.registry_topic,
        metrics,
        producer_factory=lambda: create_producer(settings.kafka, SERVICE),
        interval_s=settings.publish_interval_s,
        timeout_s=settings.publish_timeout_s,
    )


def _on_commit(metrics: RegistryMetrics, publisher: OutboxPublisher) -> Callable[..., None]:
    def committed(changes: list[tuple[str, str]]) -> None:
        metrics.record_changes(changes)
        publisher.wake()

    return committed


def _lifespan(
    settings: RegistrySettings,
    metrics: RegistryMetrics,
    outbox_metrics: OutboxMetrics,
    probe: KafkaProbe,
    stores: list[Store],
) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        url = settings.sqlalchemy_url()
        engine = create_engine(url)
        await migrate(engine)
        log.info("registry database ready at %s", redacted(url))
        store = Store(engine)
        ctx = _context(settings, store)
        publisher = _publisher(settings, store, outbox_metrics)
        store.on_commit(_on_commit(metrics, publisher))
        task = asyncio.create_task(publisher.run(), name="registry outbox publisher")
        app.state.registry = RegistryState(settings, ctx, metrics)
        stores.append(store)
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            await publisher.close()
            await engine.dispose()
            await probe.close()

    return lifespan


def create_app(settings: RegistrySettings | None = None) -> FastAPI:
    """Build the registry app; database, credential and publisher live with the lifespan."""
    settings = settings or RegistrySettings()
    registry = CollectorRegistry()
    provider = setup_tracing(SERVICE)
    probe = KafkaProbe(settings.kafka, SERVICE, settings.readiness_timeout_s)
    metrics = RegistryMetrics.create(registry)
    outbox_metrics = OutboxMetrics.create(registry)
    stores: list[Store] = []

    async def database_ready() -> tuple[bool, str]:
        return await stores[0].ping() if stores else (False, "not started")

    app = create_service_app(
        title="LGSP registry",
        description="Đăng ký nguồn dữ liệu (registry): organisations, sources, versioned "
        "contracts with compatibility checks, consumers and approvals, API keys.",
        version="0.1.0",
        lifespan=_lifespan(settings, metrics, outbox_metrics, probe, stores),
        registry=registry,
        tracer_provider=provider,
        checks={"kafka": probe.check, "database": database_ready},
    )
    app.add_middleware(
        BodyGuard, max_bytes=settings.max_body_bytes, max_depth=settings.max_json_depth
    )
    for router in (organisations.router, contracts.router, consumers.router):
        app.include_router(router)
    return app


def app_factory() -> FastAPI:
    """Entry point for `uvicorn --factory`: settings from the environment, JSON logs."""
    settings = RegistrySettings()
    configure_logging(SERVICE, settings.log_level, settings.log_json)
    return create_app(settings)


def run() -> None:
    """Run the service with settings from the environment (console script and `python -m`)."""
    settings = RegistrySettings()
    configure_logging(SERVICE, settings.log_level, settings.log_json)
    run_service(create_app(settings), settings.host, settings.port)
