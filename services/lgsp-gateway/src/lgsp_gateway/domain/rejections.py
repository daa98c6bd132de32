"""The gateway's refusals: each a problem+json answer with a stable reason for metrics.

`INPUT_STATUSES` says which refusals were the event's own fault (those go to the DLQ); the audit
result of a refusal follows from its status (`Rejection.audit_result`).
"""

from __future__ import annotations

from lgsp_common.problems import FieldError, ProblemError

# Statuses for which the event itself was at fault: these go to the DLQ.
INPUT_STATUSES = frozenset({400, 413, 415, 422})


class Rejection(ProblemError):
    """A ProblemError that also names its metric reason."""

    def __init__(
        self,
        status: int,
        reason: str,
        title: str,
        detail: str | None = None,
        *,
        errors: list[FieldError] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(
            status,
            title,
            detail,
            problem_type=reason.replace("_", "-"),
            errors=errors,
            headers=headers,
        )
        self.reason = reason

    @property
    def audit_result(self) -> str:
        """Map to the audit trail's result vocabulary."""
        if self.problem.status in (401, 403):
            return "denied"
        return "error" if self.problem.status >= 500 else "rejected"

    @classmethod
    def wrap(cls, problem: ProblemError, reason: str) -> Rejection:
        """Give a ProblemError raised by a parser its metric reason."""
        return cls(
            problem.problem.status,
            reason,
            problem.problem.title,
            problem.problem.detail,
            errors=list(problem.problem.errors),
            headers=problem.headers,
        )


def unauthenticated() -> Rejection:
    """No key, or a key that is unknown, revoked or expired."""
    return Rejection(
        401,
        "unauthenticated",
        "Authentication required",
        "send a valid API key as 'Authorization: Bearer <key>' or 'X-API-Key'",
        headers={"WWW-Authenticate": 'Bearer realm="lgsp"'},
    )


def forbidden(detail: str) -> Rejection:
    """Authenticated, but not allowed to do this."""
    return Rejection(403, "forbidden", "Not allowed", detail)


def too_large(limit: int, what: str = "body") -> Rejection:
    """The body or batch is over its limit."""
    return Rejection(413, f"{what}_too_large", f"The {what} is too large", f"the limit is {limit}")
