"""API keys as callers send them: `Authorization: Bearer <key>` or `X-API-Key: <key>`."""

from __future__ import annotations

from collections.abc import Mapping


def api_key_from(headers: Mapping[str, str]) -> str | None:
    """Return the API key a request carries, if any."""
    explicit = headers.get("x-api-key")
    if explicit:
        return explicit.strip()
    authorization = headers.get("authorization", "")
    scheme, _, value = authorization.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return None
