"""The test cases of `lgsp registry contract check --junit`: schema, examples, the verdict."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lgsp_cli.junit_report import Case
from lgsp_cli.registry_client import RegistryError


def _reason_line(reason: dict[str, Any]) -> str:
    against = f"v{reason['version']}" if reason.get("version") else "-"
    who = reason.get("consumer_id") or reason.get("direction") or ""
    return (
        f"{reason['rule']} at {reason.get('pointer') or '/'} "
        f"(data {reason.get('data_path') or '/'}; {who} {against}): {reason['message']}"
    )


def check_cases(
    file: Path,
    body: dict[str, Any],
    refused: RegistryError | None,
    result: dict[str, Any] | None = None,
) -> list[Case]:
    """One case for the schema, one per example, one for the compatibility verdict."""
    errors = refused.problem.get("errors", []) if refused is not None else []

    def failures(prefix: str) -> list[str]:
        return [
            f"{e.get('pointer')}: {e.get('message')}"
            for e in errors
            if str(e.get("pointer", "")) == prefix
            or str(e.get("pointer", "")).startswith(prefix + "/")
        ]

    cases = [Case(file.name, "schema", failures("/schema"))]
    examples = body.get("examples", {})
    for kind in ("valid", "invalid"):
        for index, _ in enumerate(examples.get(kind, [])):
            cases.append(
                Case(f"{kind} example {index}", "example", failures(f"/examples/{kind}/{index}"))
            )
    missing = failures("/examples") if refused is not None else []
    missing = [m for m in missing if m.startswith("/examples:")]
    if missing:
        cases.append(Case("examples", "example", missing))
    subject = result.get("subject", "") if result else ""
    if refused is not None:
        verdict = Case("compatibility", "compatibility", ["not checked: the candidate was refused"])
    else:
        assert result is not None
        reasons = [_reason_line(r) for r in result.get("reasons", [])]
        verdict = Case(f"compatibility with {subject}", "compatibility", reasons)
    cases.append(verdict)
    return cases
