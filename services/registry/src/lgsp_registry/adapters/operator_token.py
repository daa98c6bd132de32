"""Where the operator credential comes from: the environment, else a file made once.

`LGSP_REGISTRY_OPERATOR_TOKEN` wins (at least 24 characters). Without it, the registry reuses
`<data_dir>/operator-token`, or creates it with a random token, readable only by its owner
(mode 0600). Only the file's path is ever logged, never the token.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from lgsp_registry.domain.credentials import new_operator_token
from lgsp_registry.settings import MIN_OPERATOR_TOKEN, RegistrySettings

log = logging.getLogger(__name__)
TOKEN_FILE = "operator-token"  # noqa: S105 - a file name, not a secret


def token_path(settings: RegistrySettings) -> Path:
    """Return where a generated operator token is kept."""
    return settings.data_dir / TOKEN_FILE


def load_operator_token(settings: RegistrySettings) -> str:
    """Return the operator token, creating the token file on first start if none is set."""
    if settings.operator_token is not None:
        token = settings.operator_token.get_secret_value().strip()
        if len(token) < MIN_OPERATOR_TOKEN:
            raise ValueError(
                f"LGSP_REGISTRY_OPERATOR_TOKEN must have at least {MIN_OPERATOR_TOKEN} characters"
            )
        return token
    path = token_path(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text(encoding="utf-8").strip()
    token = new_operator_token()
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(token + "\n")
    log.warning(
        "LGSP_REGISTRY_OPERATOR_TOKEN is not set: generated an operator token into %s (mode 0600)",
        path,
    )
    return token
