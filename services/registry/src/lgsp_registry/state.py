"""The registry's runtime state, built in the lifespan and reached by routes through Depends."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Request
from prometheus_client import CollectorRegistry, Counter

from lgsp_common.problems import ProblemError
from lgsp_registry.service.context import Context
from lgsp_registry.settings import RegistrySettings


@dataclass
class RegistryMetrics:
    """The registry's own Prometheus series."""

    changes: Counter
    checks: Counter

    @classmethod
    def create(cls, registry: CollectorRegistry) -> RegistryMetrics:
        """Register the series on the app's registry."""
        return cls(
            changes=Counter(
                "registry_changes", "Committed entity changes", ["kind", "op"], registry=registry
            ),
            checks=Counter(
                "registry_compatibility_checks",
                "Candidate contract versions judged, by verdict",
                ["verdict"],
                registry=registry,
            ),
        )

    def record_changes(self, changes: list[tuple[str, str]]) -> None:
        """Count committed changes."""
        for kind, op in changes:
            self.changes.labels(kind, op).inc()


@dataclass
class RegistryState:
    """What a request handler needs."""

    settings: RegistrySettings
    ctx: Context
    metrics: RegistryMetrics


def registry_state(request: Request) -> RegistryState:
    """Return the state the lifespan stored on the app."""
    state: RegistryState | None = getattr(request.app.state, "registry", None)
    if state is None:
        raise ProblemError(503, "Starting up", "the registry is not ready yet")
    return state
