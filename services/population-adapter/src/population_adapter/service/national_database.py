"""The national population database as the use cases read it: down means 503, nothing disclosed."""

from __future__ import annotations

from typing import Protocol

from lgsp_common.problems import ProblemError
from population_adapter.adapters.upstream import Fetched, UpstreamUnavailableError
from population_adapter.domain.verification import Outcome
from population_adapter.service.access_record import Access


class CitizenReader(Protocol):
    """Where citizens are read from (the resilient upstream client)."""

    async def fetch(self, cccd: str) -> Fetched:
        """Return the citizen (or None) and whether the cache served it."""
        ...


async def read_citizen(source: CitizenReader, access: Access, cccd: str) -> Fetched:
    """Read one citizen, or raise a 503 with Retry-After when the database cannot answer."""
    try:
        return await source.fetch(cccd)
    except UpstreamUnavailableError as exc:
        access.outcome = Outcome.UNAVAILABLE
        raise ProblemError(
            503,
            "The national population database is unavailable",
            f"{exc.reason}; nothing was disclosed, retry later",
            problem_type="upstream-unavailable",
            headers={"Retry-After": exc.retry_after},
        ) from None
