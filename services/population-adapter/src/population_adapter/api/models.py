"""Request and answer bodies of the adapter's API."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from lgsp_vn.sex import Sex

# The CCCD is a plain string here on purpose: its rules are checked by lgsp_vn.cccd, which names
# the failing rule in the answer; a bare pattern here would only say "does not match".
CccdText = Annotated[str, Field(min_length=1, max_length=64, repr=False)]


class VerifyRequest(BaseModel):
    """Does this identity match the national database? The record is never returned."""

    model_config = ConfigDict(extra="forbid", hide_input_in_errors=True)

    cccd: CccdText = Field(description="12-digit citizen id (số định danh cá nhân)")
    full_name: str = Field(min_length=1, max_length=120, description="Họ và tên (NFC or NFD)")
    date_of_birth: date = Field(description="Ngày sinh (date of birth)")
    sex: Literal["male", "female"] | None = Field(
        default=None, description="Giới tính (optional; checked against the id's 4th digit)"
    )

    @property
    def stated_sex(self) -> Sex | None:
        """Return the stated sex as the domain's enum."""
        return None if self.sex is None else Sex(self.sex)


class VerifyResponse(BaseModel):
    """The verification outcome: match or no_match, nothing else about the citizen."""

    verification_id: str
    outcome: Literal["match", "no_match"]
    cccd_masked: str
    verified_at: datetime


class LookupRequest(BaseModel):
    """Read some fields of a citizen's record for a declared purpose."""

    model_config = ConfigDict(extra="forbid", hide_input_in_errors=True)

    cccd: CccdText = Field(description="12-digit citizen id (số định danh cá nhân)")
    purpose: str = Field(
        min_length=1, max_length=64, description="Mục đích (purpose code, as registered)"
    )
    fields: list[Annotated[str, Field(max_length=64)]] | None = Field(
        default=None,
        max_length=32,
        description="Fields wanted; omitted = every field the purpose and approval allow",
    )


class LookupResponse(BaseModel):
    """Only the granted fields of the record."""

    cccd_masked: str
    purpose: str
    fields: dict[str, Any]
    cached: bool = Field(description="Served from the adapter's cache (within its TTL)")
