"""API keys of the platform: their shape, their stored form, whether one is usable.

Pure functions shared by the registry (which issues keys and stores only their hash) and by
the services that check them against their registry copy.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from datetime import UTC, datetime
from typing import Any

Entity = dict[str, Any]
_KEY = re.compile(r"^lgsp_([0-9a-f]{8,32})_([A-Za-z0-9_-]{20,128})$")


def parse_api_key(api_key: str) -> str | None:
    """Return the key's id (`k_<prefix>`) when the string has the API key shape, else None."""
    found = _KEY.match(api_key.strip())
    return f"k_{found.group(1)}" if found else None


def hash_api_key(api_key: str) -> str:
    """Return the stored form of a full API key: `sha256:<hex>` of the whole key string."""
    return "sha256:" + hashlib.sha256(api_key.strip().encode("utf-8")).hexdigest()


def _parse_time(value: object) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    parsed = datetime.fromisoformat(value)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def key_is_usable(record: Entity, api_key: str, now: datetime | None = None) -> bool:
    """Tell whether an api_key entity matches the key string and is neither revoked nor expired."""
    stored = str(record.get("key_hash") or "")
    if not hmac.compare_digest(stored.encode(), hash_api_key(api_key).encode()):
        return False
    if record.get("revoked_at"):
        return False
    expires = _parse_time(record.get("expires_at"))
    return expires is None or expires > (now or datetime.now(UTC))
