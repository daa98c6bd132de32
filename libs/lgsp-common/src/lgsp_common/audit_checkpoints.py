"""Signed checkpoints of audit chains, in the manner of Certificate Transparency's tree heads.

A checkpoint says "chain C had, at time T, records 0..seq, the last of which hashes to
head_hash", signed by the writer's Ed25519 key. Because every record's hash covers its
`prev_hash`, a checkpoint whose head matches the chain authenticates every record up to it, and
a checkpoint naming a seq the chain no longer reaches proves a truncation. Checkpoints are
anchored outside the chain: on the compacted topic `lgsp.audit.checkpoints` (key = chain id,
so the newest per chain survives compaction) and in the registry's database (every one, append
only), from which `lgsp audit verify --checkpoints-from` reads them.

The signature covers the canonical JSON of the checkpoint without `signature`.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from lgsp_common.audit_format import (
    EDDSA,
    PublishedKey,
    canonical_json,
    sign_eddsa,
    verify_eddsa,
)

CHECKPOINT_FIELDS = ("chain", "seq", "head_hash", "timestamp", "key_id", "signature_alg")


def checkpoint_message(checkpoint: Mapping[str, Any]) -> bytes:
    """Return the bytes a checkpoint's signature covers."""
    return canonical_json({k: v for k, v in checkpoint.items() if k != "signature"})


def make_checkpoint(
    chain: str, seq: int, head_hash: str, at: datetime, key_id: str, key: Ed25519PrivateKey
) -> dict[str, Any]:
    """Return a signed checkpoint of a chain at `seq` (head_hash = the hash of record `seq`)."""
    checkpoint: dict[str, Any] = {
        "chain": chain,
        "seq": seq,
        "head_hash": head_hash,
        "timestamp": at.isoformat(timespec="milliseconds"),
        "key_id": key_id,
        "signature_alg": EDDSA,
    }
    checkpoint["signature"] = sign_eddsa(checkpoint_message(checkpoint), key)
    return checkpoint


def parse_time(value: object) -> datetime | None:
    """Read an ISO 8601 time with an offset; None when absent or unreadable."""
    if not isinstance(value, str):
        return None
    try:
        at = datetime.fromisoformat(value)
    except ValueError:
        return None
    return at if at.tzinfo is not None else None


def checkpoint_problem(
    checkpoint: Mapping[str, Any], ring: Mapping[str, PublishedKey] | None
) -> str | None:
    """Return why a checkpoint cannot be trusted, or None when it is well formed and signed.

    Without a key ring only the shape is checked (the caller then trusts nothing it says).
    """
    seq = checkpoint.get("seq")
    if not isinstance(checkpoint.get("chain"), str) or not isinstance(seq, int) or seq < 0:
        return "no chain or seq"
    if not isinstance(checkpoint.get("head_hash"), str):
        return "no head_hash"
    if ring is None:
        return None
    if checkpoint.get("signature_alg") != EDDSA:
        return f"signature_alg {checkpoint.get('signature_alg')!r} is not EdDSA"
    key = ring.get(str(checkpoint.get("key_id", "")))
    if key is None:
        return f"signed by key {checkpoint.get('key_id')!r}, which is not published"
    if not key.valid_at(parse_time(checkpoint.get("timestamp"))):
        return f"key {key.key_id!r} was not in force at {checkpoint.get('timestamp')}"
    if not verify_eddsa(checkpoint_message(checkpoint), checkpoint.get("signature"), key.public):
        return "signature does not verify"
    return None
