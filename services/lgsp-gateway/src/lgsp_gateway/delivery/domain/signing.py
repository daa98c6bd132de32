"""Standard Webhooks signatures (webhook-id, webhook-timestamp, webhook-signature).

The `standardwebhooks` library signs: `v1,<base64 HMAC-SHA256 of "<id>.<timestamp>.<body>">`.
During a secret rotation every live secret signs, and the signatures go space-separated in one
`webhook-signature` header, as the specification allows; a receiver accepts any that verifies.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from standardwebhooks.webhooks import Webhook


class Signer:
    """Signs bodies with secrets, keeping one `Webhook` per secret."""

    def __init__(self) -> None:
        self._hooks: dict[str, Webhook] = {}

    def _hook(self, secret: str) -> Webhook:
        hook = self._hooks.get(secret)
        if hook is None:
            if len(self._hooks) > 10_000:
                self._hooks.clear()
            hook = self._hooks[secret] = Webhook(secret)
        return hook

    def headers(
        self, message_id: str, at: datetime, body: str, secrets: Sequence[str]
    ) -> dict[str, str]:
        """Return the three Standard Webhooks headers for one attempt."""
        signatures = [self._hook(s).sign(message_id, at, body) for s in secrets]
        return {
            "webhook-id": message_id,
            "webhook-timestamp": str(int(at.timestamp())),
            "webhook-signature": " ".join(signatures),
        }
