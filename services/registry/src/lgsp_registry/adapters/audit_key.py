"""The key signing the registry's own audit chain: the setting, else a file made once.

`LGSP_REGISTRY_AUDIT_KEY` wins (any form `AuditTrail` accepts). Without it the registry reuses
`<data_dir>/audit-key`, or creates it with a random Ed25519 seed (`ed25519:<base64url>`),
readable only by its owner (mode 0600): no sample secret is ever used, and deployments need no
new setting. At start the registry publishes its own public key (`GET /v1/audit/keys`) so
`lgsp audit verify` can check its records.
"""

from __future__ import annotations

import base64
import logging
import os
import secrets
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncEngine

from lgsp_registry.adapters import audit_rows
from lgsp_registry.adapters.store import utcnow
from lgsp_registry.settings import RegistrySettings

log = logging.getLogger(__name__)
KEY_FILE = "audit-key"


def key_path(settings: RegistrySettings) -> Path:
    """Return where a generated audit key is kept."""
    return settings.data_dir / KEY_FILE


def load_audit_key(settings: RegistrySettings) -> bytes:
    """Return the audit signing key material, creating the key file on first start."""
    if settings.audit_key is not None:
        return settings.audit_key.get_secret_value().encode()
    path = key_path(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_bytes().strip()
    seed = base64.urlsafe_b64encode(secrets.token_bytes(32)).rstrip(b"=")
    material = b"ed25519:" + seed
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(material + b"\n")
    log.warning("LGSP_REGISTRY_AUDIT_KEY is not set: generated an audit key into %s", path)
    return material


async def publish_own_key(engine: AsyncEngine, key_id: str, public_key: str) -> None:
    """Publish the registry's audit public key under `key_id` unless it is there already."""
    async with engine.begin() as conn:
        existing = await audit_rows.key(conn, key_id)
        if existing is not None:
            if existing["public_key"] != public_key:
                log.error("audit key id %s already names another public key", key_id)
            return
        now = utcnow()
        await audit_rows.insert_key(
            conn,
            {
                "key_id": key_id,
                "public_key": public_key,
                "alg": "EdDSA",
                "service": "lgsp-registry",
                "valid_from": now,
                "retired_at": None,
                "created_at": now,
            },
        )
