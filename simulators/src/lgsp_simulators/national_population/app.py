"""The simulated national population database (CSDLQG về dân cư) as its own HTTP process.

It stands in for the national system the real adapter would reach through the national data
exchange platform, so the adapter's timeouts, retries, breaker and cache meet a real socket.
It serves whole records: filtering by purpose is the adapter's job, as in reality. Latency and
failures are injected as configured (settings, or live through POST /_faults). Like the real
system it never logs a citizen id: there is no access log, and errors carry no request data.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI, Request
from pydantic import BaseModel, ConfigDict, Field

from lgsp_common.http import run_service
from lgsp_common.logs import configure_logging
from lgsp_common.problems import ProblemError, setup_exception_handlers
from lgsp_simulators.national_population.faults import FaultInjector, FaultReport, Faults
from lgsp_simulators.national_population.settings import UpstreamSettings
from lgsp_simulators.national_population.store import CitizenStore, build_database
from lgsp_vn.citizen import Citizen
from lgsp_vn.names import names_match

SERVICE = "population-upstream"
log = logging.getLogger(__name__)
router = APIRouter()


class CitizenQuery(BaseModel):
    """A citizen id in a body, where it stays out of URLs and logs."""

    model_config = ConfigDict(extra="forbid", hide_input_in_errors=True)

    cccd: str = Field(pattern=r"^[0-9]{12}$", repr=False)


class VerifyQuery(CitizenQuery):
    """An identity to compare with the record."""

    full_name: str = Field(min_length=1, max_length=120)
    date_of_birth: date


class VerifyAnswer(BaseModel):
    """Whether the identity matches the record."""

    match: bool


class Health(BaseModel):
    """Liveness and the size of the population served."""

    status: str
    citizens: int


class UpstreamState:
    """What the routes need: the store and the fault injector."""

    def __init__(self, store: CitizenStore, faults: FaultInjector) -> None:
        self.store = store
        self.faults = faults


async def upstream_state(request: Request) -> UpstreamState:
    """Return the state the lifespan built."""
    state: UpstreamState = request.app.state.upstream
    return state


StateDep = Annotated[UpstreamState, Depends(upstream_state)]


async def _read(state: UpstreamState, cccd: str) -> Citizen | None:
    if await state.faults.apply():
        raise ProblemError(503, "Injected failure", "the simulated database is failing")
    # sqlite3 blocks: keep it off the event loop (the store has one connection per thread).
    return await asyncio.to_thread(state.store.get, cccd)


def _found(citizen: Citizen | None) -> Citizen:
    if citizen is None:
        raise ProblemError(404, "No such citizen", "no record holds this id")
    return citizen


@router.get("/citizens/{cccd}", response_model=Citizen, tags=["citizens"])
async def get_citizen(cccd: str, state: StateDep) -> Citizen:
    """Return one citizen's whole record (the id in the path: for people trying it by hand)."""
    return _found(await _read(state, cccd))


@router.post("/citizens/lookup", response_model=Citizen, tags=["citizens"])
async def lookup_citizen(query: CitizenQuery, state: StateDep) -> Citizen:
    """Return one citizen's whole record; the id travels in the body."""
    return _found(await _read(state, query.cccd))


@router.post("/citizens/verify", response_model=VerifyAnswer, tags=["citizens"])
async def verify_citizen(query: VerifyQuery, state: StateDep) -> VerifyAnswer:
    """Tell whether a name and date of birth match the record (the benchmark's baseline)."""
    citizen = await _read(state, query.cccd)
    matched = (
        citizen is not None
        and citizen.date_of_birth == query.date_of_birth
        and names_match(citizen.full_name, query.full_name)
    )
    return VerifyAnswer(match=matched)


@router.get("/_faults", response_model=FaultReport, tags=["faults"])
async def get_faults(state: StateDep) -> FaultReport:
    """Return the faults in force and how many reads they touched."""
    return state.faults.report()


@router.post("/_faults", response_model=FaultReport, tags=["faults"])
async def set_faults(faults: Faults, state: StateDep) -> FaultReport:
    """Replace the faults in force (all fields default to no fault)."""
    state.faults.faults = faults
    log.info("faults changed", extra=faults.model_dump())
    return state.faults.report()


@router.get("/healthz", response_model=Health, tags=["operations"])
async def healthz(state: StateDep) -> Health:
    """Answer while the process is alive, with the population size."""
    return Health(status="ok", citizens=await asyncio.to_thread(state.store.count))


def _open_store(settings: UpstreamSettings) -> CitizenStore:
    if not settings.db_path.is_file():
        if not settings.build_if_missing:
            raise FileNotFoundError(f"no population database at {settings.db_path}")
        log.info("building the population database", extra={"count": settings.count})
        build_database(settings.db_path, settings.count, settings.seed)
    return CitizenStore(settings.db_path)


def _lifespan(
    settings: UpstreamSettings,
) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        store = await asyncio.to_thread(_open_store, settings)
        faults = Faults(
            latency_ms=settings.latency_ms,
            latency_jitter_ms=settings.latency_jitter_ms,
            failure_rate=settings.failure_rate,
        )
        app.state.upstream = UpstreamState(store, FaultInjector(faults, random.Random()))
        try:
            yield
        finally:
            store.close()

    return lifespan


def create_upstream_app(settings: UpstreamSettings | None = None) -> FastAPI:
    """Build the simulated national population database app."""
    settings = settings or UpstreamSettings()
    app = FastAPI(
        title="Simulated national population database",
        description="CSDL quốc gia về dân cư (mô phỏng) — simulated upstream of the adapter.",
        version="0.1.0",
        lifespan=_lifespan(settings),
    )
    setup_exception_handlers(app)
    app.include_router(router)
    return app


def run() -> None:
    """Run the upstream with settings from the environment (console script and `python -m`)."""
    settings = UpstreamSettings()
    configure_logging(SERVICE, settings.log_level, settings.log_json)
    run_service(create_upstream_app(settings), settings.host, settings.port)
