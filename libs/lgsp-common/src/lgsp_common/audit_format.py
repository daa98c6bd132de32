"""The audit trail's wire rules: canonical JSON, record hashes, keys and signatures.

Signing keys (`AuditTrail(..., key=...)`, the services' `audit_key` setting) are bytes in one of
three forms, told apart by how they begin:

- a PEM PKCS#8 Ed25519 private key (`-----BEGIN PRIVATE KEY-----`);
- `ed25519:` followed by the 32-byte raw seed in base64url;
- anything else: a secret from which the 32-byte Ed25519 seed is derived deterministically,
  HKDF-SHA256 (RFC 5869) with no salt and the info label `lgsp-audit-ed25519-seed/v1`.
  The same secret always gives the same key pair, so existing deployments keep their setting.

Public keys travel as the raw 32 bytes in base64url without padding (`public_key_b64`), as the
registry publishes them (`GET /v1/audit/keys`). `signature_alg` is the JOSE name: `EdDSA`
(Ed25519, what the trail writes) or `HS256` (HMAC-SHA256, records written before; they verify
only with the shared secret).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

GENESIS_HASH = "0" * 64
EDDSA = "EdDSA"
HS256 = "HS256"
SIGNATURE_ALG = EDDSA
SEED_INFO = b"lgsp-audit-ed25519-seed/v1"
RAW_PREFIX = b"ed25519:"
UNSIGNED = ("hash", "signature")


def canonical_json(record: Mapping[str, Any]) -> bytes:
    """Return the canonical JSON the chain hashes: sorted keys, no whitespace, UTF-8."""
    return json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def canonical_json_fast(record: Mapping[str, Any]) -> bytes:
    """Return `canonical_json(record)`, built by orjson when it can be.

    The bytes are the same for every record the audit schema allows: it has no numbers other
    than integers, and orjson writes strings, integers, sorted keys and escapes as `json` does
    with these options. Anything orjson refuses (a non-string key, a huge integer) falls back.
    """
    try:
        return orjson.dumps(record, option=orjson.OPT_SORT_KEYS)
    except TypeError:
        return canonical_json(record)


def record_hash(record: Mapping[str, Any]) -> str:
    """Return the lower-case hex SHA-256 of a record without its hash and signature."""
    unsigned = {k: v for k, v in record.items() if k not in UNSIGNED}
    return hashlib.sha256(canonical_json_fast(unsigned)).hexdigest()


def hash_matches(record: Mapping[str, Any]) -> bool:
    """Say whether a record's `hash` is its content's; fast path first (orjson, same bytes)."""
    unsigned = {k: v for k, v in record.items() if k not in UNSIGNED}
    claimed = record.get("hash")
    try:
        if (
            hashlib.sha256(orjson.dumps(unsigned, option=orjson.OPT_SORT_KEYS)).hexdigest()
            == claimed
        ):
            return True
    except TypeError:
        pass
    return hashlib.sha256(canonical_json(unsigned)).hexdigest() == claimed


def b64url(data: bytes) -> str:
    """Return base64url without padding."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    """Decode base64url with or without padding."""
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def signing_key(material: bytes) -> Ed25519PrivateKey:
    """Return the Ed25519 private key that key material (PEM, raw seed or secret) names."""
    if not material:
        raise ValueError("the audit signing key must not be empty")
    if material.lstrip().startswith(b"-----BEGIN"):
        loaded = serialization.load_pem_private_key(material, password=None)
        if not isinstance(loaded, Ed25519PrivateKey):
            raise ValueError("the PEM audit key is not an Ed25519 private key")
        return loaded
    if material.startswith(RAW_PREFIX):
        seed = b64url_decode(material[len(RAW_PREFIX) :].decode("ascii").strip())
        if len(seed) != 32:
            raise ValueError("an ed25519: audit key carries a 32-byte seed in base64url")
        return Ed25519PrivateKey.from_private_bytes(seed)
    seed = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=SEED_INFO).derive(material)
    return Ed25519PrivateKey.from_private_bytes(seed)


def public_bytes(key: Ed25519PublicKey) -> bytes:
    """Return a public key's raw 32 bytes."""
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def public_key_b64(material: bytes) -> str:
    """Return the raw public key (base64url) of key material, as the registry publishes it."""
    return b64url(public_bytes(signing_key(material).public_key()))


def load_public_key(text: str) -> Ed25519PublicKey:
    """Read a public key: raw 32 bytes in base64url, or a PEM SubjectPublicKeyInfo."""
    if text.lstrip().startswith("-----BEGIN"):
        loaded = serialization.load_pem_public_key(text.encode())
        if not isinstance(loaded, Ed25519PublicKey):
            raise ValueError("the PEM public key is not Ed25519")
        return loaded
    raw = b64url_decode(text.strip())
    if len(raw) != 32:
        raise ValueError("an Ed25519 public key is 32 bytes (base64url)")
    return Ed25519PublicKey.from_public_bytes(raw)


def sign_hash(digest: str, key: bytes) -> str:
    """Return the legacy HS256 signature of a hash: HMAC-SHA256 of its ASCII, base64url."""
    mac = hmac.new(key, digest.encode("ascii"), hashlib.sha256).digest()
    return b64url(mac)


def sign_eddsa(message: bytes, key: Ed25519PrivateKey) -> str:
    """Return the Ed25519 signature of a message, base64url without padding."""
    return b64url(key.sign(message))


def verify_eddsa(message: bytes, signature: object, key: Ed25519PublicKey) -> bool:
    """Say whether a base64url Ed25519 signature of a message verifies with a public key."""
    if not isinstance(signature, str):
        return False
    try:
        key.verify(b64url_decode(signature), message)
    except (InvalidSignature, ValueError):
        return False
    return True


@dataclass(frozen=True, slots=True)
class PublishedKey:
    """A verification key: the public key, its validity window, the secret if the caller has it.

    A retired key stays valid for records signed before `retired_at` (rotation keeps old
    records verifiable). `secret` is set only when the verifier was given the key material
    itself; it is what lets legacy HS256 records verify.
    """

    key_id: str
    public: Ed25519PublicKey
    valid_from: datetime | None = None
    retired_at: datetime | None = None
    secret: bytes | None = None

    def valid_at(self, at: datetime | None) -> bool:
        """Say whether the key was in force at a time (unknown time: judged by the signature)."""
        if at is None:
            return True
        if self.valid_from is not None and at < self.valid_from:
            return False
        return self.retired_at is None or at < self.retired_at


KeyInput = bytes | Ed25519PublicKey | PublishedKey


def key_ring(keys: Mapping[str, KeyInput] | None) -> dict[str, PublishedKey] | None:
    """Normalise verification keys: key material (bytes), public keys, or published keys."""
    if keys is None:
        return None
    ring: dict[str, PublishedKey] = {}
    for key_id, given in keys.items():
        if isinstance(given, PublishedKey):
            ring[key_id] = given
        elif isinstance(given, Ed25519PublicKey):
            ring[key_id] = PublishedKey(key_id, given)
        else:
            ring[key_id] = PublishedKey(key_id, signing_key(given).public_key(), secret=given)
    return ring
