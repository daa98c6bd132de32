"""Viewers for tests and local runs: a fixed test token, and getting a real one from a registry.

The collector lets only signed-in viewers read its figures. A test that starts a collector on
a registry topic of its own puts `viewer_change()` on that topic (as the registry would publish
an issued token: hash and role only) and sends `VIEWER_HEADERS`; a test or a local run with a
real registry asks it for a token (`issue_viewer_token`).
"""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from lgsp_common.access_tokens import KIND, parse_access_token
from lgsp_common.api_keys import hash_api_key
from lgsp_common.settings import KafkaSettings

VIEWER_TOKEN = "lgsp_at_0123abcd_test-viewer-token-not-a-secret-000"  # noqa: S105 - tests only
VIEWER_HEADERS = {"Authorization": f"Bearer {VIEWER_TOKEN}"}
VIEWER_TOKEN_FILE = "ioc-collector/viewer-token"  # noqa: S105 - under the run's var dir


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


async def publish_viewer(
    kafka: KafkaSettings, registry_topic: str, token: str = VIEWER_TOKEN
) -> None:
    """Put a usable viewer token on a test's own registry topic (as the registry would)."""
    from lgsp_devkit.testing import publish_registry_changes  # noqa: PLC0415 - pytest's world

    await publish_registry_changes(kafka, registry_topic, [viewer_change(token)])


def dashboard_viewer(registry_url: str, operator_token: str, token_file: Path) -> str:
    """Return a viewer token for the local dashboard: the one kept in `token_file` while the
    registry still lists it unrevoked, else a new one the registry issues (kept there, 0600)."""
    headers = {"Authorization": f"Bearer {operator_token}"}
    with httpx.Client(base_url=registry_url, timeout=30, headers=headers) as http:
        kept = token_file.read_text("utf-8").strip() if token_file.is_file() else ""
        kept_id = parse_access_token(kept) if kept else None
        if kept_id is not None:
            listed = http.get("/v1/tokens").raise_for_status().json()
            if any(t["id"] == kept_id and t["revoked_at"] is None for t in listed):
                return kept
        body = {"name": "Lãnh đạo (local demo) / Leader", "role": "viewer"}
        token = str(http.post("/v1/tokens", json=body).raise_for_status().json()["token"])
    token_file.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(token_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(token + "\n")
    return token


async def registry_with_viewer(
    topic_factory: Callable[..., Awaitable[str]], kafka: KafkaSettings
) -> str:
    """Create a test's own registry topic (compacted) holding the test viewer; return its name."""
    topic = await topic_factory("registry", 1, **{"cleanup.policy": "compact"})
    await publish_viewer(kafka, topic)
    return topic
