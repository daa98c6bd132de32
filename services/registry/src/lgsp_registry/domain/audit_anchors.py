"""The registry's audit anchors: published audit public keys (rotation) and checkpoints."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

KEY_ID = r"^[A-Za-z0-9._:-]{1,128}$"


class AuditKeyIn(BaseModel):
    """A public key to publish under a key id (the `key_id` the services' records carry)."""

    model_config = ConfigDict(extra="forbid")

    public_key: str = Field(
        min_length=40,
        max_length=200,
        description="Raw Ed25519 public key, base64url (`lgsp audit public-key` prints it)",
    )
    alg: Literal["EdDSA"] = "EdDSA"
    service: str | None = Field(default=None, max_length=128, description="Who signs with it")
    valid_from: datetime | None = Field(
        default=None, description="From when records signed with it are valid; default: always"
    )
    retired_at: datetime | None = Field(
        default=None,
        description="When it stopped signing; records signed before stay valid (rotation)",
    )


class AuditKey(BaseModel):
    """A published audit public key (Khóa công khai ký nhật ký kiểm toán)."""

    key_id: str
    public_key: str
    alg: str
    service: str | None = None
    valid_from: datetime
    retired_at: datetime | None = None


class AuditKeys(BaseModel):
    """Every published audit key, retired ones included."""

    keys: list[AuditKey]


class AuditCheckpoints(BaseModel):
    """Stored signed checkpoints, as received (chain, seq, head_hash, timestamp, signature)."""

    checkpoints: list[dict[str, Any]]
