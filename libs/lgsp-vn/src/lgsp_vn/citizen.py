"""The citizen record of the national population database (CSDL quốc gia về dân cư).

The schema both sides of that connection share: the simulated database serves it, the
population adapter reads it. What a caller may see of it is the adapter's business
(`population_adapter.domain.disclosure`).
"""

import unicodedata
from datetime import date
from enum import StrEnum
from typing import Annotated, Self

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from lgsp_vn.cccd import mask_cccd, validate_cccd
from lgsp_vn.sex import Sex

# Health-insurance card code (Vietnam Social Security's coding rules, Decision 1351/QĐ-BHXH as
# amended): 2-letter beneficiary group, 1-digit benefit level (1-5), 2-digit province of issue,
# then the 10-digit social-insurance number; 15 characters in all, e.g. "DN4771234567890".
HEALTH_INSURANCE_PATTERN = r"^[A-Z]{2}[1-5][0-9]{2}[0-9]{10}$"

NonEmptyName = Annotated[str, Field(min_length=1, max_length=120)]


class ElectronicIdentity(StrEnum):
    """Electronic identity (VNeID account) level: none, level 1 or level 2."""

    NONE = "none"
    VNEID_LEVEL_1 = "vneid_level_1"
    VNEID_LEVEL_2 = "vneid_level_2"


class Address(BaseModel):
    """A permanent residence address down to the commune (official administrative codes)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    province_code: Annotated[str, Field(pattern=r"^[0-9]{2}$")]
    province_name: NonEmptyName
    district_code: Annotated[str, Field(pattern=r"^[0-9]{3}$")]
    district_name: NonEmptyName
    # None only for a district without commune-level units (Côn Đảo).
    commune_code: Annotated[str, Field(pattern=r"^[0-9]{5}$")] | None = None
    commune_name: NonEmptyName | None = None

    @model_validator(mode="after")
    def _commune_code_and_name_together(self) -> Self:
        if (self.commune_code is None) != (self.commune_name is None):
            raise ValueError("commune_code and commune_name must both be set or both be absent")
        return self


class Citizen(BaseModel):
    """One citizen's record; the CCCD is consistent with the birth province, year and sex."""

    # Errors must not echo their input: it contains the CCCD number.
    model_config = ConfigDict(frozen=True, extra="forbid", hide_input_in_errors=True)

    cccd: Annotated[str, Field(pattern=r"^[0-9]{12}$", repr=False)]
    full_name: NonEmptyName
    sex: Sex
    date_of_birth: date
    birth_province_code: Annotated[str, Field(pattern=r"^0[0-9]{2}$")]
    permanent_address: Address
    electronic_identity: ElectronicIdentity = ElectronicIdentity.NONE
    health_insurance_number: Annotated[
        str | None, Field(pattern=HEALTH_INSURANCE_PATTERN, repr=False)
    ] = None

    @field_validator("full_name")
    @classmethod
    def _normalise_name(cls, value: str) -> str:
        # Stored in NFC with single spaces; callers' NFD spellings are matched by names_match.
        normalised = " ".join(unicodedata.normalize("NFC", value).split())
        if not normalised:
            raise ValueError("full_name must not be blank")
        return normalised

    @model_validator(mode="after")
    def _cccd_consistent(self) -> Self:
        violations = validate_cccd(self.cccd, self.date_of_birth, self.sex)
        if violations:
            raise ValueError("; ".join(f"{v.rule}: {v.message}" for v in violations))
        if self.cccd[:3] != self.birth_province_code:
            raise ValueError("birth_province_code differs from the CCCD's province code")
        return self

    @property
    def cccd_masked(self) -> str:
        """Return the CCCD masked for logs and events, e.g. '077*******12'."""
        return mask_cccd(self.cccd)
