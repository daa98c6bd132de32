"""Viewers for tests and local runs: a fixed test token, and getting a real one from a registry.

The collector lets only signed-in viewers read its figures. A test that starts a collector on
a registry topic of its own puts `viewer_change()` on that topic (as the registry would publish
an issued token: hash and role only) and sends `VIEWER_HEADERS`; a test or a local run with a
real registry asks it for a token (`issue_viewer_token`).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx

from lgsp_common.access_tokens import KIND, parse_access_token
from lgsp_common.api_keys import hash_api_key

VIEWER_TOKEN = "lgsp_at_0123abcd_test-viewer-token-not-a-secret-000"  # noqa: S105 - tests only
VIEWER_HEADERS = {"Authorization": f"Bearer {VIEWER_TOKEN}"}


def viewer_change(
    token: str = VIEWER_TOKEN, role: str = "viewer", *, revoked: bool = False
) -> tuple[str, str, dict[str, Any]]:
    """Return the (kind, id, data) registry change that makes `token` a usable token."""
    token_id = parse_access_token(token)
    assert token_id is not None, "not an access token"
    now = datetime.now(UTC).isoformat()
    return KIND, token_id, {
        "id": token_id, "name": f"test {role}", "role": role, "organisation_id": None,
        "created_at": now, "created_by": "operator", "expires_at": None,
        "revoked_at": now if revoked else None, "token_hash": hash_api_key(token),
    }  # fmt: skip


async def issue_viewer_token(
    registry_url: str, operator_token: str, name: str = "Lãnh đạo / Leader", role: str = "viewer"
) -> dict[str, Any]:
    """Ask a registry for a person's token (as the operator); returns the answer with `token`."""
    async with httpx.AsyncClient(base_url=registry_url, timeout=30) as http:
        answer = await http.post(
            "/v1/tokens", json={"name": name, "role": role},
            headers={"Authorization": f"Bearer {operator_token}"},
        )  # fmt: skip
        answer.raise_for_status()
        found: dict[str, Any] = answer.json()
        return found
