"""Credentials: API keys (`lgsp_<prefix>_<secret>`, stored only as a hash) and the operator token.

A key's id is `k_<prefix>`: eight random hex digits, public, used to find the key; the secret is
32 random bytes in base64url. Only `sha256:<hex>` of the whole key string is stored (see
`lgsp_common.registry_copy.hash_api_key`); a lost key cannot be shown again, only replaced.
SHA-256 without salt is enough here because the secret has 256 bits of entropy: there is nothing
to brute-force, unlike a password.
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass

from lgsp_common.api_keys import hash_api_key, parse_api_key

__all__ = ["NewKey", "hash_api_key", "new_api_key", "new_operator_token", "parse_api_key"]


@dataclass(frozen=True, repr=False)
class NewKey:
    """A freshly made key: its public id, the full key (shown once) and its stored hash."""

    id: str
    key: str
    key_hash: str

    def __repr__(self) -> str:
        return f"NewKey(id={self.id!r})"  # never the secret, even in a traceback


def new_api_key() -> NewKey:
    """Make a new random API key."""
    prefix = secrets.token_hex(4)
    key = f"lgsp_{prefix}_{secrets.token_urlsafe(32)}"
    return NewKey(id=f"k_{prefix}", key=key, key_hash=hash_api_key(key))


def new_operator_token() -> str:
    """Make a random operator token."""
    return "lgsp_op_" + secrets.token_urlsafe(32)


def same_secret(given: str, expected: str) -> bool:
    """Compare two secrets in constant time."""
    return hmac.compare_digest(given.encode("utf-8"), expected.encode("utf-8"))
