"""Access tokens of people (viewers, operators, auditors): their shape, roles and stored form.

The registry issues them (`POST /v1/tokens`) and publishes only `sha256:<hex>` of the whole
token under the kind `access_token`, so every service that follows `lgsp.registry` checks a
token from memory; a revocation reaches every copy within seconds. A token looks like
`lgsp_at_<8 hex>_<secret>` and its id is `at_<8 hex>`; the `at_` part keeps it apart from the
API keys of systems (`lgsp_<hex>_<secret>`), which authenticate machines, not people.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol

from lgsp_common.api_keys import hash_api_key, key_is_usable

KIND = "access_token"
_TOKEN = re.compile(r"^lgsp_at_([0-9a-f]{8,32})_([A-Za-z0-9_-]{20,128})$")


class Role(StrEnum):
    """What a person's token lets them do."""

    VIEWER = "viewer"  # reads the IOC dashboard, its KPIs and live stream
    OPERATOR = "operator"  # runs the platform: everything a viewer can, and the registry
    AUDITOR = "auditor"  # reads the dashboard and every registry listing, changes nothing


VIEWING_ROLES = frozenset({Role.VIEWER, Role.OPERATOR, Role.AUDITOR})


@dataclass(frozen=True, repr=False)
class NewToken:
    """A freshly made token: its public id, the full token (shown once) and its stored hash."""

    id: str
    token: str
    token_hash: str

    def __repr__(self) -> str:
        return f"NewToken(id={self.id!r})"  # never the secret, even in a traceback


def new_access_token() -> NewToken:
    """Make a new random access token."""
    prefix = secrets.token_hex(4)
    token = f"lgsp_at_{prefix}_{secrets.token_urlsafe(32)}"
    return NewToken(id=f"at_{prefix}", token=token, token_hash=hash_api_key(token))


def parse_access_token(token: str) -> str | None:
    """Return the token's id (`at_<prefix>`) when the string has the token shape, else None."""
    found = _TOKEN.match(token.strip())
    return f"at_{found.group(1)}" if found else None


@dataclass(frozen=True)
class TokenHolder:
    """Who a usable token stands for (never the secret)."""

    token_id: str
    name: str
    role: Role
    organisation_id: str | None = None


class EntityLookup(Protocol):
    """What reading tokens needs of a registry copy."""

    def get(self, kind: str, entity_id: str) -> dict[str, Any] | None:
        """Return one entity's current data, or None."""


def token_holder(registry: EntityLookup, token: str) -> TokenHolder | None:
    """Return who a token stands for in a registry copy; None if unknown, revoked or expired."""
    token_id = parse_access_token(token)
    record = registry.get(KIND, token_id) if token_id else None
    if record is None or token_id is None:
        return None
    if not key_is_usable({**record, "key_hash": record.get("token_hash")}, token):
        return None
    try:
        role = Role(str(record.get("role")))
    except ValueError:
        return None
    organisation = record.get("organisation_id")
    return TokenHolder(
        token_id, str(record.get("name") or token_id), role,
        organisation if isinstance(organisation, str) else None,
    )  # fmt: skip
