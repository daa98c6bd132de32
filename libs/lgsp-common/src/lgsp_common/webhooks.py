"""Webhook rules shared by the registry and the delivery workers: where one may point, secrets.

**Where a webhook may point.** Only `https` URLs whose host is a public address: loopback,
private (RFC 1918, unique-local), link-local, carrier-grade NAT, multicast, reserved and
unspecified addresses are refused, so a subscription cannot turn the platform against the
province's own network (SSRF). A host given as a literal address is judged when the subscription
is registered; a host name is judged again by the worker each time it resolves it. For local runs
and tests, `allow_loopback` admits `http://` and `https://` to loopback addresses (and
`localhost`) only; every other rule stays.

**Signing secrets** are Standard Webhooks secrets (`whsec_` + base64 of 32 random bytes), made by
the registry, shown once, and published on `lgsp.registry` only as Fernet ciphertext (AES-128-CBC
with HMAC-SHA256, authenticated) under a key that only the registry and the delivery workers hold
(`LGSP_WEBHOOK_SECRETS_KEY`). Any string of at least 16 characters is accepted as that key: the
Fernet key is derived from it with SHA-256, so both sides derive the same one.
"""

from __future__ import annotations

import base64
import hashlib
import ipaddress
import secrets
from urllib.parse import urlsplit

from cryptography.fernet import Fernet, InvalidToken

SECRET_PREFIX = "whsec_"  # noqa: S105 (a prefix, not a secret)
MIN_KEY_CHARS = 16
LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain"})
IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
_CGNAT = ipaddress.ip_network("100.64.0.0/10")


def new_signing_secret() -> str:
    """Make a Standard Webhooks signing secret."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode("ascii")


class SecretBox:
    """Encrypts and decrypts signing secrets with the key the registry and workers share."""

    def __init__(self, key: str) -> None:
        if len(key) < MIN_KEY_CHARS:
            raise ValueError(f"the webhook secrets key needs at least {MIN_KEY_CHARS} characters")
        digest = hashlib.sha256(key.encode("utf-8")).digest()
        self._fernet = Fernet(base64.urlsafe_b64encode(digest))

    def seal(self, secret: str) -> str:
        """Return the ciphertext of a secret (text, safe to publish)."""
        return self._fernet.encrypt(secret.encode("utf-8")).decode("ascii")

    def open(self, sealed: str) -> str:
        """Return the secret inside a ciphertext; ValueError when it was not sealed by this key."""
        try:
            return self._fernet.decrypt(sealed.encode("ascii")).decode("utf-8")
        except (InvalidToken, UnicodeError) as exc:
            raise ValueError("the secret was sealed by another key or altered") from exc


def address_refusal(address: IpAddress, allow_loopback: bool) -> str | None:
    """Say why a webhook may not reach this address, or None when it may."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if address.is_loopback:
        return None if allow_loopback else "loopback address"
    if address.is_link_local:
        return "link-local address"
    if address.is_private or (isinstance(address, ipaddress.IPv4Address) and address in _CGNAT):
        return "private address"
    if address.is_multicast or address.is_reserved or address.is_unspecified:
        return "reserved address"
    return None


def url_refusal(url: str, allow_loopback: bool) -> str | None:
    """Say why a webhook URL is refused (scheme, host, literal address), or None when allowed."""
    try:
        parts = urlsplit(url)
        host = parts.hostname
        _ = parts.port  # raises on a malformed port
    except ValueError as exc:
        return f"not a URL: {exc}"
    if parts.scheme not in ("https", "http") or not host:
        return "only https URLs with a host are allowed"
    if parts.username or parts.password:
        return "credentials in the URL are not allowed"
    try:
        literal: IpAddress | None = ipaddress.ip_address(host)
    except ValueError:
        literal = None
    loopback = (literal is not None and literal.is_loopback) or host.lower() in LOOPBACK_NAMES
    if parts.scheme == "http" and not (allow_loopback and loopback):
        return "only https URLs are allowed"
    if host.lower() in LOOPBACK_NAMES:
        return None if allow_loopback else "loopback address"
    return address_refusal(literal, allow_loopback) if literal is not None else None
