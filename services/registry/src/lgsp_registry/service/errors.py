"""The registry's refusals, as RFC 9457 problems (problem types under PROBLEM_BASE)."""

from __future__ import annotations

from collections.abc import Sequence

from lgsp_common.problems import FieldError, Problem, ProblemError
from lgsp_registry.domain.compatibility import Reason
from lgsp_registry.domain.contract_rules import Violation

KPI_READER = "kpi:"  # how a live KPI is named among a topic's readers


class CompatibilityProblem(Problem):
    """A problem that also lists every compatibility reason (an RFC 9457 extension member)."""

    reasons: list[Reason]


def not_found(kind: str, entity_id: str) -> ProblemError:
    """Name the missing entity."""
    return ProblemError(
        404, f"Unknown {kind}", f"no {kind} {entity_id!r}", problem_type="not-found"
    )


def conflict(detail: str, problem_type: str = "conflict") -> ProblemError:
    """Refuse a change that clashes with the registry's current state."""
    return ProblemError(409, "Conflict with the current state", detail, problem_type=problem_type)


def gone(detail: str) -> ProblemError:
    """Refuse to restore what is past its grace period."""
    return ProblemError(410, "No longer restorable", detail, problem_type="gone")


def forbidden(detail: str) -> ProblemError:
    """Refuse a caller whose credential does not cover the change."""
    return ProblemError(403, "Not allowed", detail, problem_type="forbidden")


def unauthorised(detail: str) -> ProblemError:
    """Refuse a write without a valid credential."""
    return ProblemError(
        401,
        "Credential required",
        detail,
        problem_type="unauthorised",
        headers={"WWW-Authenticate": 'Bearer realm="lgsp-registry"'},
    )


def invalid(title: str, violations: Sequence[Violation], problem_type: str) -> ProblemError:
    """Refuse a body whose content breaks a rule, naming each failing place."""
    errors = [FieldError(pointer=v.pointer, rule=v.rule, message=v.message) for v in violations]
    return ProblemError(
        422, title, f"{len(errors)} problem(s) found", problem_type=problem_type, errors=errors
    )


def incompatible(subject: str, reasons: list[Reason]) -> ProblemError:
    """Refuse a version that breaks compatibility or a consumer, with every reason."""
    readers = {r.consumer_id for r in reasons if r.consumer_id}
    consumers = sorted(r for r in readers if not r.startswith(KPI_READER))
    live_kpis = sorted(r.removeprefix(KPI_READER) for r in readers if r.startswith(KPI_READER))
    detail = f"{len(reasons)} reason(s) against registering this version of {subject!r}"
    if consumers:
        detail += "; it breaks the approved consumer(s) " + ", ".join(consumers)
    if live_kpis:
        detail += "; it breaks the live KPI(s) " + ", ".join(live_kpis)
    error = ProblemError(409, "Incompatible contract version", detail, problem_type="incompatible")
    error.problem = CompatibilityProblem(
        type=error.problem.type,
        title=error.problem.title,
        status=409,
        detail=detail,
        errors=[FieldError(pointer=r.pointer, rule=r.rule, message=r.message) for r in reasons],
        reasons=reasons,
    )
    return error
