"""Route dependencies as `Annotated` aliases: the Runtime bootstrap built, and limited bodies.

The read use cases are handed out only while the registry copy is fresh (else 503, see
`service.registry_freshness`); publishes (both lanes) get the same check, audited, from the
Gatekeeper.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from lgsp_gateway.bootstrap import Runtime
from lgsp_gateway.service.population_reads import READ_BODY_LIMIT, PopulationReads
from lgsp_gateway.service.pull_records import PullRecords
from lgsp_gateway.service.registry_freshness import RegistryFreshness


async def get_runtime(request: Request) -> Runtime:
    """Return the Runtime the lifespan stored on the app (async: no thread hop per request)."""
    runtime: Runtime = request.app.state.runtime
    return runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


async def fresh_runtime(request: Request, runtime: RuntimeDep) -> Runtime:
    """Return the Runtime, refusing with 503 while its registry copy is stale."""
    freshness: RegistryFreshness | None = getattr(request.app.state, "registry_freshness", None)
    if freshness is None or freshness.registry is not runtime.registry:
        freshness = RegistryFreshness.from_env(runtime.registry, runtime.settings.retry_after_s)
        request.app.state.registry_freshness = freshness
    freshness.check()
    return runtime


FreshRuntimeDep = Annotated[Runtime, Depends(fresh_runtime)]


async def read_limited(request: Request, limit: int) -> bytes:
    """Read the body, stopping one byte past `limit` so an oversize body is never all in memory."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        chunks.append(chunk)
        size += len(chunk)
        if size > limit:
            break
    return b"".join(chunks)[: limit + 1]


async def publish_body(request: Request, runtime: RuntimeDep) -> bytes:
    """Return the publish body, cut one byte past the body limit (the use case answers 413)."""
    return await read_limited(request, runtime.settings.max_body_bytes)


async def read_body(request: Request) -> bytes:
    """Return a population read's body, cut one byte past its limit."""
    return await read_limited(request, READ_BODY_LIMIT)


async def population_reads(runtime: FreshRuntimeDep) -> PopulationReads:
    """Return the read relay."""
    return runtime.reads


async def pull_records(runtime: FreshRuntimeDep) -> PullRecords:
    """Return the pull-read use case."""
    return runtime.pull


PublishBody = Annotated[bytes, Depends(publish_body)]
ReadBody = Annotated[bytes, Depends(read_body)]
ReadsDep = Annotated[PopulationReads, Depends(population_reads)]
PullDep = Annotated[PullRecords, Depends(pull_records)]
