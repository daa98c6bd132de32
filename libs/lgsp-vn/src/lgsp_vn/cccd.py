"""The CCCD number (số định danh cá nhân, 12 digits): structure, validation, masking, hashing.

Structure (Decree 137/2015/NĐ-CP, Circular 59/2021/TT-BCA):
- digits 1-3: code of the province where the birth was registered (001 Hà Nội ... 096 Cà Mau);
- digit 4: century and sex: 0/1 = 1900-1999 male/female, 2/3 = 2000-2099, 4/5 = 2100-2199,
  6/7 = 2200-2299, 8/9 = 2300-2399 (the circular's "thế kỷ 24"; it does not encode the 1800s);
- digits 5-6: last two digits of the birth year;
- digits 7-12: a random serial.

No message, repr or mask produced here ever contains the full number: a mask keeps only the
province code and the last two digits, which is what the audit and verification topics carry.
"""

import hashlib
import hmac
import re
from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from lgsp_vn.cccd_provinces import CCCD_PROVINCE_CODES
from lgsp_vn.sex import Sex

CCCD_LENGTH = 12
MASKED_DIGITS = 7
MIN_HASH_KEY_BYTES = 16
# Explicit [0-9]: str.isdigit() and \d also accept non-ASCII digits such as "١٢٣".
_CCCD_RE = re.compile(r"[0-9]{12}", re.ASCII)
_FIRST_CENTURY = 1900
_CENTURIES = 5
_LAST_YEAR = _FIRST_CENTURY + 100 * _CENTURIES - 1
_MAX_SERIAL = 999_999


class CccdRule(StrEnum):
    """Stable codes of the CCCD rules, for APIs, metrics and audit records."""

    FORMAT = "CCCD_FORMAT"
    PROVINCE_UNKNOWN = "CCCD_PROVINCE_UNKNOWN"
    CENTURY_MISMATCH = "CCCD_CENTURY_MISMATCH"
    YEAR_MISMATCH = "CCCD_YEAR_MISMATCH"
    SEX_MISMATCH = "CCCD_SEX_MISMATCH"


@dataclass(frozen=True, slots=True)
class CccdViolation:
    """One broken CCCD rule with an English message that never contains the number."""

    rule: CccdRule
    message: str


@dataclass(frozen=True, slots=True)
class CccdParts:
    """The decoded fields of a well-formed CCCD number."""

    province_code: str
    sex: Sex
    century_start: int
    year_digits: int
    serial: str

    @property
    def birth_year(self) -> int:
        """Return the birth year the number encodes."""
        return self.century_start + self.year_digits

    def __repr__(self) -> str:
        # The serial completes the number, so it stays out of reprs that end up in logs.
        return (
            f"CccdParts(province_code={self.province_code!r}, sex={self.sex.value!r}, "
            f"birth_year={self.birth_year}, serial='******')"
        )


def is_well_formed(number: str) -> bool:
    """Tell whether the value is exactly 12 ASCII digits."""
    return _CCCD_RE.fullmatch(number) is not None


def parse_cccd(number: str) -> CccdParts:
    """Decode a well-formed CCCD number; raise ValueError (without the number) otherwise."""
    if not is_well_formed(number):
        raise ValueError("CCCD must be exactly 12 ASCII digits")
    century_sex = int(number[3])
    return CccdParts(
        province_code=number[:3],
        sex=Sex.FEMALE if century_sex % 2 else Sex.MALE,
        century_start=_FIRST_CENTURY + 100 * (century_sex // 2),
        year_digits=int(number[4:6]),
        serial=number[6:],
    )


def validate_cccd(
    number: str, date_of_birth: date | None = None, sex: Sex | None = None
) -> list[CccdViolation]:
    """Check a CCCD number against its structure and the stated date of birth and sex."""
    if not is_well_formed(number):
        return [
            CccdViolation(
                CccdRule.FORMAT,
                f"CCCD must be exactly 12 ASCII digits (got {len(number)} characters)",
            )
        ]
    parts = parse_cccd(number)
    violations: list[CccdViolation] = []
    if parts.province_code not in CCCD_PROVINCE_CODES:
        violations.append(
            CccdViolation(
                CccdRule.PROVINCE_UNKNOWN,
                f"birth-registration province code {parts.province_code} is not one of the "
                "63 province codes",
            )
        )
    if date_of_birth is not None:
        violations.extend(_date_violations(parts, date_of_birth))
    if sex is not None and parts.sex is not sex:
        violations.append(
            CccdViolation(
                CccdRule.SEX_MISMATCH,
                f"the century/sex digit (4th) does not match the stated sex ({sex.value})",
            )
        )
    return violations


def _date_violations(parts: CccdParts, date_of_birth: date) -> list[CccdViolation]:
    year = date_of_birth.year
    violations: list[CccdViolation] = []
    if not parts.century_start <= year < parts.century_start + 100:
        violations.append(
            CccdViolation(
                CccdRule.CENTURY_MISMATCH,
                f"the century/sex digit (4th) does not match a birth in {year}",
            )
        )
    if parts.year_digits != year % 100:
        violations.append(
            CccdViolation(
                CccdRule.YEAR_MISMATCH,
                f"the birth-year digits (5th-6th) do not match a birth in {year}",
            )
        )
    return violations


def make_cccd(province_code: str, sex: Sex, birth_year: int, serial: int) -> str:
    """Compose the CCCD number for a birth-registration province, sex, year and serial."""
    if province_code not in CCCD_PROVINCE_CODES:
        raise ValueError(f"unknown birth-registration province code {province_code}")
    if not _FIRST_CENTURY <= birth_year <= _LAST_YEAR:
        raise ValueError(f"birth year {birth_year} cannot be encoded in a CCCD number")
    if not 0 <= serial <= _MAX_SERIAL:
        raise ValueError("serial must be between 0 and 999999")
    century_sex = 2 * ((birth_year - _FIRST_CENTURY) // 100) + (1 if sex is Sex.FEMALE else 0)
    return f"{province_code}{century_sex}{birth_year % 100:02d}{serial:06d}"


def mask_cccd(number: str) -> str:
    """Mask a CCCD number as '077*******12', keeping only the province code and last 2 digits."""
    if not is_well_formed(number):
        # Nothing of a malformed value is echoed: it may be a CCCD with a stray character.
        return "*" * CCCD_LENGTH
    return f"{number[:3]}{'*' * MASKED_DIGITS}{number[-2:]}"


def hash_cccd(number: str, key: bytes) -> str:
    """Return the HMAC-SHA256 (hex) of a CCCD number, to correlate records without disclosure."""
    # A plain or weakly keyed hash of a 12-digit space is reversible by enumeration.
    if len(key) < MIN_HASH_KEY_BYTES:
        raise ValueError(f"the hashing key must be at least {MIN_HASH_KEY_BYTES} bytes")
    return hmac.new(key, number.encode("utf-8"), hashlib.sha256).hexdigest()
