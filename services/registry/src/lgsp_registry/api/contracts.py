"""Routes for contracts: subjects, versions, the dry-run check and the compatibility rules."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Response

from lgsp_registry.adapters import repository as repo
from lgsp_registry.api.deps import WRITE_PROBLEMS, CallerDep, ContextDep, MetricsDep, problems
from lgsp_registry.domain.entities import (
    TOPIC,
    CheckResult,
    CompatibilityConfig,
    ConfigIn,
    Contract,
    ContractIn,
)
from lgsp_registry.service import contracts as service

router = APIRouter(prefix="/v1", tags=["contracts"])
Subject = Annotated[str, Path(pattern=TOPIC, description="The topic the contract governs")]


@router.get("/subjects", response_model=list[str])
async def list_subjects(ctx: ContextDep) -> list[str]:
    """List the subjects (topics) that have a contract."""
    async with ctx.store.read() as conn:
        return await repo.all_subjects(conn)


@router.get("/subjects/{subject}/versions", response_model=list[Contract], responses=problems(404))
async def list_versions(subject: Subject, ctx: ContextDep) -> list[Contract]:
    """Return every version of a subject, oldest first."""
    return await service.versions(ctx, subject)


@router.get(
    "/subjects/{subject}/versions/{version}", response_model=Contract, responses=problems(404)
)
async def get_version(
    subject: Subject,
    version: Annotated[str, Path(pattern=r"^(latest|[1-9][0-9]{0,8})$")],
    ctx: ContextDep,
) -> Contract:
    """Return one version of a subject (`latest` for the newest)."""
    number = None if version == "latest" else int(version)
    return await service.version(ctx, subject, number)


@router.post(
    "/subjects/{subject}/compatibility",
    response_model=CheckResult,
    response_model_exclude_none=True,  # reasons look exactly like those of a 409 problem
    responses=problems(400, 413, 415, 422),
)
async def check_version(
    subject: Subject, body: ContractIn, ctx: ContextDep, metrics: MetricsDep
) -> CheckResult:
    """Dry run: would this version be accepted? Every reason against it, nothing written."""
    result = await service.check_candidate(ctx, subject, body)
    metrics.record_check(result.compatible)
    return result


@router.post(
    "/subjects/{subject}/versions",
    status_code=201,
    response_model=Contract,
    responses={200: {"model": Contract, "description": "Already registered"}, **WRITE_PROBLEMS},
)
async def register_version(
    subject: Subject, body: ContractIn, ctx: ContextDep, who: CallerDep, response: Response
) -> Contract:
    """Register a new version; 409 with every reason when incompatible or breaking a consumer."""
    contract, created = await service.register(ctx, who, subject, body)
    response.status_code = 201 if created else 200
    return contract


@router.get("/contracts/{contract_id}", response_model=Contract, responses=problems(404))
async def get_contract(contract_id: str, ctx: ContextDep) -> Contract:
    """Return a contract by its schema id."""
    return await service.by_id(ctx, contract_id)


@router.get("/config", response_model=CompatibilityConfig)
async def get_global_config(ctx: ContextDep) -> CompatibilityConfig:
    """Return the registry-wide compatibility mode and policy."""
    return await service.rules_of(ctx, None)


@router.put("/config", response_model=CompatibilityConfig, responses=WRITE_PROBLEMS)
async def set_global_config(body: ConfigIn, ctx: ContextDep, who: CallerDep) -> CompatibilityConfig:
    """Change the registry-wide compatibility mode or policy (operator only)."""
    return await service.set_global_rules(ctx, who, body)


@router.get("/subjects/{subject}/config", response_model=CompatibilityConfig)
async def get_subject_config(subject: Subject, ctx: ContextDep) -> CompatibilityConfig:
    """Return the compatibility mode and policy in force for a subject."""
    return await service.rules_of(ctx, subject)


@router.put(
    "/subjects/{subject}/config", response_model=CompatibilityConfig, responses=WRITE_PROBLEMS
)
async def set_subject_config(
    subject: Subject, body: ConfigIn, ctx: ContextDep, who: CallerDep
) -> CompatibilityConfig:
    """Override a subject's compatibility mode or policy (operator or the topic's owner)."""
    return await service.set_subject_rules(ctx, who, subject, body)
