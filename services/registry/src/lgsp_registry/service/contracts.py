"""Contracts: check a candidate version (dry run), register it, read versions, set the rules.

A candidate is first checked on its own (valid, self-contained JSON Schema 2020-12, examples that
behave), then against the subject's history under the rules in force, and against the fields
each approved consumer of the topic declared and each live KPI on it reads. Registration refuses
with every reason; pushing a schema identical (after normalisation) to a registered version
returns that version.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncConnection

from lgsp_registry.adapters import repository as repo
from lgsp_registry.adapters.tables import contracts
from lgsp_registry.domain.access import Principal, may_write_subject
from lgsp_registry.domain.compatibility import (
    CompatibilityMode,
    CompatibilityPolicy,
    ConsumerFields,
    Reason,
    check,
    check_consumers,
)
from lgsp_registry.domain.contract_rules import example_violations, schema_violations
from lgsp_registry.domain.entities import (
    CheckResult,
    CompatibilityConfig,
    ConfigIn,
    ConsumerStatus,
    Contract,
    ContractIn,
)
from lgsp_registry.domain.normalize import fingerprint
from lgsp_registry.service.context import Context
from lgsp_registry.service.errors import conflict, forbidden, incompatible, invalid, not_found
from lgsp_registry.service.kpi_readers import kpi_readers

ID_LENGTH = 32


@dataclass(frozen=True)
class Assessment:
    """A candidate judged against a subject's history."""

    contract_id: str
    fingerprint: str
    rules: CompatibilityConfig
    history: list[Contract]
    existing: Contract | None
    checked_versions: list[int]
    reasons: list[Reason]


def validate_candidate(ctx: Context, subject: str, body: ContractIn) -> None:
    """Refuse (422) a schema that is not a usable contract, or examples that misbehave."""
    problems = schema_violations(body.schema_, subject)
    if problems:
        raise invalid("The schema is not a valid contract", problems, "invalid-schema")
    problems = example_violations(body.schema_, body.examples, required=ctx.require_examples)
    if problems:
        raise invalid("The examples do not match the schema", problems, "invalid-examples")


async def global_rules(ctx: Context, conn: AsyncConnection) -> CompatibilityConfig:
    """Return the registry-wide rules (stored ones win over the start-up defaults)."""
    mode = await repo.setting(conn, "compatibility")
    policy = await repo.setting(conn, "policy")
    return CompatibilityConfig(
        compatibility=CompatibilityMode(mode) if mode else ctx.default_compatibility,
        policy=CompatibilityPolicy(policy) if policy else ctx.default_policy,
    )


async def subject_rules(ctx: Context, conn: AsyncConnection, subject: str) -> CompatibilityConfig:
    """Return the rules in force for a subject: its own, else the global ones."""
    mode, policy = await repo.subject_rules(conn, subject)
    fallback = await global_rules(ctx, conn)
    return CompatibilityConfig(
        compatibility=CompatibilityMode(mode) if mode else fallback.compatibility,
        policy=CompatibilityPolicy(policy) if policy else fallback.policy,
    )


def _checked(mode: CompatibilityMode, history: list[Contract]) -> list[int]:
    if mode is CompatibilityMode.NONE or not history:
        return []
    return [c.version for c in history] if mode.transitive else [history[-1].version]


async def assess(ctx: Context, conn: AsyncConnection, subject: str, body: ContractIn) -> Assessment:
    """Judge a valid candidate against the subject's versions and approved consumers."""
    digest = fingerprint(body.schema_)
    history = await repo.contracts_of(conn, subject)
    rules = await subject_rules(ctx, conn, subject)
    existing = next((c for c in history if c.fingerprint == digest), None)
    reasons: list[Reason] = []
    if existing is None:
        previous = [(c.version, c.schema_) for c in history]
        verdict = check(body.schema_, previous, rules.compatibility, rules.policy)
        approved = await repo.all_consumers(conn, subject, ConsumerStatus.APPROVED)
        readers = [ConsumerFields(consumer_id=c.id, name=c.name, fields=c.fields) for c in approved]
        readers += await kpi_readers(conn, subject)
        latest = previous[-1] if previous else None
        reasons = verdict.reasons + check_consumers(body.schema_, readers, previous=latest)
    return Assessment(
        contract_id=digest[:ID_LENGTH],
        fingerprint=digest,
        rules=rules,
        history=history,
        existing=existing,
        checked_versions=_checked(rules.compatibility, history) if existing is None else [],
        reasons=reasons,
    )


async def check_candidate(ctx: Context, subject: str, body: ContractIn) -> CheckResult:
    """Answer whether a candidate could be registered, with every reason if not (no write)."""
    validate_candidate(ctx, subject, body)
    async with ctx.store.read() as conn:
        verdict = await assess(ctx, conn, subject, body)
    return CheckResult(
        subject=subject,
        compatible=not verdict.reasons,
        compatibility=verdict.rules.compatibility,
        policy=verdict.rules.policy,
        checked_versions=verdict.checked_versions,
        registered_version=verdict.existing.version if verdict.existing else None,
        reasons=verdict.reasons,
    )


async def register(
    ctx: Context, who: Principal, subject: str, body: ContractIn
) -> tuple[Contract, bool]:
    """Register a new version; returns (contract, created). Refuses 409 with every reason."""
    validate_candidate(ctx, subject, body)
    async with ctx.store.write() as tx:
        owner = await repo.topic_owner(tx.conn, subject)
        if not may_write_subject(who, owner, subject):
            raise forbidden(f"{who.name} may not register contracts for {subject}")
        verdict = await assess(ctx, tx.conn, subject, body)
        if verdict.existing is not None:
            return verdict.existing, False
        if verdict.reasons:
            raise incompatible(subject, verdict.reasons)
        elsewhere = await repo.contract(tx.conn, verdict.contract_id)
        if elsewhere is not None:
            detail = f"this schema is already version {elsewhere.version} of {elsewhere.subject}"
            raise conflict(detail, "schema-in-other-subject")
        contract = Contract(
            id=verdict.contract_id,
            subject=subject,
            version=verdict.history[-1].version + 1 if verdict.history else 1,
            schema_=body.schema_,
            fingerprint=verdict.fingerprint,
            compatibility=verdict.rules.compatibility,
            policy=verdict.rules.policy,
            examples=body.examples,
            created_at=tx.now,
        )
        await repo.ensure_subject(tx.conn, subject)
        await repo.insert(tx.conn, contracts, contract)
        await tx.emit("contract", contract.id, 1, contract.model_dump(mode="json", by_alias=True))
    return contract, True


async def versions(ctx: Context, subject: str) -> list[Contract]:
    """Return every version of a subject, oldest first."""
    async with ctx.store.read() as conn:
        found = await repo.contracts_of(conn, subject)
    if not found:
        raise not_found("subject", subject)
    return found


async def version(ctx: Context, subject: str, number: int | None) -> Contract:
    """Return one version of a subject (None: the latest)."""
    history = await versions(ctx, subject)
    if number is None:
        return history[-1]
    for contract in history:
        if contract.version == number:
            return contract
    raise not_found("version", f"{subject}/{number}")


async def by_id(ctx: Context, contract_id: str) -> Contract:
    """Return a contract by schema id."""
    async with ctx.store.read() as conn:
        found = await repo.contract(conn, contract_id)
    if found is None:
        raise not_found("contract", contract_id)
    return found


async def set_global_rules(ctx: Context, who: Principal, body: ConfigIn) -> CompatibilityConfig:
    """Change the registry-wide rules (operator only)."""
    if not who.is_operator:
        raise forbidden("only the operator changes the global compatibility rules")
    values = {k: str(v) for k, v in body.model_dump(exclude_none=True).items()}
    async with ctx.store.write() as tx:
        await repo.set_settings(tx.conn, values)
        return await global_rules(ctx, tx.conn)


async def set_subject_rules(
    ctx: Context, who: Principal, subject: str, body: ConfigIn
) -> CompatibilityConfig:
    """Change a subject's own rules (operator or the topic's owner)."""
    async with ctx.store.write() as tx:
        owner = await repo.topic_owner(tx.conn, subject)
        if not may_write_subject(who, owner, subject):
            raise forbidden(f"{who.name} may not change the rules of {subject}")
        values = {k: str(v) for k, v in body.model_dump(exclude_none=True).items()}
        if values:
            await repo.set_subject_rules(tx.conn, subject, **values)
        return await subject_rules(ctx, tx.conn, subject)


async def rules_of(ctx: Context, subject: str | None) -> CompatibilityConfig:
    """Return the rules in force globally (None) or for a subject."""
    async with ctx.store.read() as conn:
        if subject is None:
            return await global_rules(ctx, conn)
        return await subject_rules(ctx, conn, subject)
