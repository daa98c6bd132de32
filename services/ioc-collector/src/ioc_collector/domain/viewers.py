"""Who may read the IOC: people with a viewer, operator or auditor role.

The collector answers nothing about the province's figures to an anonymous caller: every KPI,
report, count, health row and the live stream need a viewer. (The registry's KPI definitions
have no "public" flag yet; what a data owner publishes, the catalogue, is served by the
registry without login.) A viewer proves who they are with a registry-issued access token or,
where an issuer is configured, an OIDC bearer token whose role claim names one of the roles.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from lgsp_common.access_tokens import VIEWING_ROLES, Role


@dataclass(frozen=True)
class Viewer:
    """An authenticated reader of the dashboard (never holds the credential itself)."""

    name: str
    role: Role
    via: str  # "token" (registry-issued) or "oidc"


def roles_in_claims(claims: Mapping[str, Any], claim_path: str) -> set[Role]:
    """Return the known roles a token's claim names (`a.b` follows nested objects)."""
    value: Any = claims
    for part in claim_path.split("."):
        value = value.get(part) if isinstance(value, Mapping) else None
    names = [value] if isinstance(value, str) else value if isinstance(value, list) else []
    return {Role(n) for n in names if isinstance(n, str) and n in set(Role)}


def viewing_role(roles: set[Role]) -> Role | None:
    """Return the strongest role that may view (operator, auditor, viewer), or None."""
    for role in (Role.OPERATOR, Role.AUDITOR, Role.VIEWER):
        if role in roles and role in VIEWING_ROLES:
            return role
    return None
