"""What every service's HTTP side shares: /healthz, /readyz, /metrics, the base app.

`/metrics` answers the app's registry; in a worker of a group (`lgsp_common.workers`, the
entrypoint's `WORKERS` > 1) it answers every worker's series merged instead, whichever worker
the scrape reached.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

from fastapi import APIRouter, FastAPI, Response
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
from opentelemetry.sdk.trace import TracerProvider
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Histogram
from prometheus_client.registry import Collector
from pydantic import BaseModel
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from lgsp_common.problems import setup_exception_handlers
from lgsp_common.telemetry import exposition
from lgsp_common.workers import GroupMetrics, WorkerGroup

ReadinessCheck = Callable[[], Awaitable[tuple[bool, str]]]


class Health(BaseModel):
    """Answer of /healthz and /readyz."""

    status: str
    checks: dict[str, str] = {}


def ops_router(
    registry: CollectorRegistry,
    checks: dict[str, ReadinessCheck],
    worker_group: WorkerGroup | None = None,
) -> APIRouter:
    """Build the operational endpoints: liveness, readiness and Prometheus metrics."""
    router = APIRouter(tags=["operations"])
    exposed: Collector = registry if worker_group is None else GroupMetrics(worker_group)

    @router.get("/healthz", response_model=Health)
    async def healthz() -> Health:
        """Answer 200 while the process is alive."""
        return Health(status="ok")

    @router.get("/readyz", response_model=Health, responses={503: {"model": Health}})
    async def readyz(response: Response) -> Health:
        """Answer 200 only when every dependency answers, else 503 naming the failing one."""
        results = {name: await check() for name, check in checks.items()}
        ready = all(ok for ok, _ in results.values())
        response.status_code = 200 if ready else 503
        detail = {name: ("ok: " if ok else "fail: ") + text for name, (ok, text) in results.items()}
        return Health(status="ready" if ready else "not ready", checks=detail)

    @router.get("/metrics", include_in_schema=False)
    async def metrics() -> Response:
        """Expose the service's Prometheus metrics."""
        return Response(exposition(exposed), media_type=CONTENT_TYPE_LATEST)

    return router


class RequestMetrics:
    """Pure ASGI middleware timing each request by route template and status."""

    def __init__(self, app: ASGIApp, latency: Histogram) -> None:
        self.app = app
        self.latency = latency

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = [500]

        async def capture(message: Message) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, capture)
        finally:
            route = getattr(scope.get("route"), "path", "unmatched")
            self.latency.labels(scope["method"], route, str(status[0])).observe(
                time.perf_counter() - started
            )


def create_service_app(
    *,
    title: str,
    description: str,
    version: str,
    lifespan: Callable[[FastAPI], AbstractAsyncContextManager[Any]],
    registry: CollectorRegistry,
    tracer_provider: TracerProvider,
    checks: dict[str, ReadinessCheck],
    app_class: type[FastAPI] = FastAPI,
    worker_group: WorkerGroup | None = None,
) -> FastAPI:
    """Build a FastAPI app with problem+json errors, tracing, request metrics, ops routes.

    `/metrics` covers the whole `worker_group` (by default the one this process was started in,
    if any).
    """
    app = app_class(title=title, description=description, version=version, lifespan=lifespan)
    setup_exception_handlers(app)
    app.include_router(ops_router(registry, checks, worker_group or WorkerGroup.from_env()))
    latency = Histogram(
        "http_request_duration_seconds",
        "HTTP request latency by route and status",
        ["method", "route", "status"],
        registry=registry,
        buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
    )

    app.add_middleware(RequestMetrics, latency=latency)
    app.state.http_latency = latency
    app.state.tracer_provider = tracer_provider  # tests add in-memory exporters here
    FastAPIInstrumentor.instrument_app(
        app,
        tracer_provider=tracer_provider,
        excluded_urls="healthz,readyz,metrics",
        exclude_spans=["receive", "send"],  # one server span per request, not three
    )
    return app


def run_service(app: FastAPI | str, host: str, port: int, workers: int = 1) -> None:
    """Serve an app (or, for several worker processes, a factory's import path) with uvicorn.

    The process's JSON logging configuration is kept; access logs are off (metrics count calls).
    """
    import uvicorn  # noqa: PLC0415 - only entrypoints need the server

    uvicorn.run(
        app,
        host=host,
        port=port,
        workers=workers if isinstance(app, str) else None,
        factory=isinstance(app, str),
        log_config=None,
        access_log=False,
    )
