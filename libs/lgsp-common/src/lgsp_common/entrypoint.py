"""The one service entrypoint: parse settings, configure logs, build the app, run uvicorn.

Every service's `main.py` declares a `ServiceEntrypoint` and exposes its two methods as the
console script (`run`) and the `uvicorn --factory` target (`app_factory`). Tracing is set up by
each service's `create_app` (tests build apps without this entrypoint and still get a tracer
provider on `app.state`). A service bound beyond loopback with a default or sample secret
exits before building anything, naming the setting (`lgsp_common.settings.refuse_sample_secrets`).

With a `workers` setting above 1, the parent process creates the run's shared directory
(`lgsp_common.workers.worker_group`: Prometheus multiprocess files, and what else the service's
workers share) before uvicorn spawns the workers, and removes it once they have stopped.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from fastapi import FastAPI

from lgsp_common.http import run_service
from lgsp_common.logs import configure_logging
from lgsp_common.settings import SampleSecretError, ServiceSettings, refuse_sample_secrets
from lgsp_common.workers import worker_group

S = TypeVar("S", bound=ServiceSettings)


@dataclass(frozen=True)
class ServiceEntrypoint(Generic[S]):
    """How one service process starts.

    `factory_path` ("package.main:app_factory") lets uvicorn start several worker processes,
    each building its own app; `prepare` runs once the app is built, just before serving (the
    collector tunes the garbage collector there).
    """

    service: str
    settings: Callable[[], S]
    create_app: Callable[[S], FastAPI]
    factory_path: str
    prepare: Callable[[], None] | None = None

    def _settings(self) -> S:
        settings = self.settings()
        configure_logging(self.service, settings.log_level, settings.log_json)
        try:
            refuse_sample_secrets(settings, self.service)
        except SampleSecretError as refused:
            logging.getLogger(__name__).critical("%s", refused)
            raise SystemExit(f"error: {refused}") from None
        return settings

    def app_factory(self) -> FastAPI:
        """Build the app from the environment's settings, with JSON logs (`uvicorn --factory`)."""
        app = self.create_app(self._settings())
        if self.prepare is not None:
            self.prepare()
        return app

    def run(self) -> None:
        """Run the service with settings from the environment (console script, `python -m`)."""
        settings = self._settings()
        workers = int(getattr(settings, "workers", 1))
        if workers > 1:  # each worker process builds its own app through the factory
            with worker_group(self.service):
                run_service(self.factory_path, settings.host, settings.port, workers)
            return
        app = self.create_app(settings)
        if self.prepare is not None:
            self.prepare()
        run_service(app, settings.host, settings.port)
