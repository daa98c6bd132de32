"""Vietnam's administrative map today, and what the codes of the old map stand for now.

Since 1 July 2025 Vietnam has 34 province-level units and two tiers of local government:
province → commune/ward (xã / phường / đặc khu). The district tier was abolished, 63 provinces
became 34 (Bà Rịa - Vũng Tàu and Bình Dương are now part of Thành phố Hồ Chí Minh) and about
10,000 communes became 3,321. Departments' legacy systems still send the old codes.

- `current_unit("79")`, `current_unit("26506")`: a unit of today's map (province: 2 digits,
  commune/ward: 5 digits), from the `vietnam-provinces` catalogue.
- `resolve_legacy(code)`: an old province (2 digits), district (3) or commune (5) code as it
  stood on 30/6/2025 → the current province and unit(s), and how: `exact` (same territory),
  `merged` (now part of one larger unit) or `split` (divided among several units: all of them
  are listed, none is picked).
- `resolve(code, on)`: the same for a code of unknown vintage, read by the date it was used.
- An unknown code raises `UnknownAdminUnitError`, whose message names the code.

The data is read from the packages on first use (about 0.3 s), never at import. The province
codes inside CCCD numbers are a different thing on purpose: see `lgsp_vn.cccd_provinces`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from functools import cache

from lgsp_vn.admin_data import CatalogueData, CurrentRow, LegacyRow, load

__all__ = [
    "REFORM_DATE",
    "CurrentUnit",
    "LegacyUnit",
    "Match",
    "Resolution",
    "Tier",
    "UnknownAdminUnitError",
    "catalogue_versions",
    "current_communes",
    "current_provinces",
    "current_unit",
    "legacy_communes",
    "legacy_districts",
    "legacy_unit",
    "resolve",
    "resolve_legacy",
]

REFORM_DATE = date(2025, 7, 1)
_CODE = re.compile(r"[0-9]{2}|[0-9]{3}|[0-9]{5}", re.ASCII)


class Tier(StrEnum):
    """The level of a unit: the district tier exists on the old map only."""

    PROVINCE = "province"
    DISTRICT = "district"
    COMMUNE = "commune"


class Match(StrEnum):
    """How an old unit became today's unit(s)."""

    EXACT = "exact"  # one current unit with the same territory (possibly renamed)
    MERGED = "merged"  # now part of one current unit formed with other old units
    SPLIT = "split"  # divided among several current units: all are listed, none chosen


@dataclass(frozen=True, slots=True)
class CurrentUnit:
    """A unit of today's map: a province-level unit or a commune/ward."""

    code: str
    name: str
    tier: Tier
    division_type: str  # tỉnh, thành phố trung ương, xã, phường, đặc khu
    province_code: str  # its own code for a province


@dataclass(frozen=True, slots=True)
class LegacyUnit:
    """A unit of the map as it stood until 30/6/2025."""

    code: str
    name: str
    tier: Tier
    province_code: str
    district_code: str | None  # the commune's district; None for a province or district


@dataclass(frozen=True, slots=True)
class Resolution:
    """What a code stands for today: the province, and the unit(s) at the nearest tier.

    `units` holds the province for a province code, otherwise communes/wards: one for `exact`
    and `merged`, every candidate for `split`. `legacy` is the old unit the code named, or None
    when the code was read as a current code.
    """

    code: str
    legacy: LegacyUnit | None
    match: Match
    province: CurrentUnit
    units: tuple[CurrentUnit, ...]

    @property
    def unit(self) -> CurrentUnit | None:
        """Return the one current unit, or None when the old unit was split."""
        return None if self.match is Match.SPLIT else self.units[0]


class UnknownAdminUnitError(LookupError):
    """No unit has this code in the catalogue asked; the message names the code."""

    def __init__(self, code: str, catalogue: str) -> None:
        super().__init__(f"no {catalogue} administrative unit has the code {code!r}")
        self.code = code


@cache
def _data() -> CatalogueData:
    return load()


def _current(row: CurrentRow, tier: Tier) -> CurrentUnit:
    return CurrentUnit(row.code, row.name, tier, row.division_type, row.province_code)


def _legacy(row: LegacyRow, tier: Tier) -> LegacyUnit:
    return LegacyUnit(row.code, row.name, tier, row.province_code, row.district_code)


def catalogue_versions() -> dict[str, str]:
    """Return the version of each package the catalogue comes from."""
    return dict(_data().versions)


def current_unit(code: str) -> CurrentUnit:
    """Return today's province (2-digit code) or commune/ward (5-digit code)."""
    data = _data()
    if code in data.provinces:
        return _current(data.provinces[code], Tier.PROVINCE)
    if code in data.communes:
        return _current(data.communes[code], Tier.COMMUNE)
    raise UnknownAdminUnitError(code, "current (post-1/7/2025)")


def current_provinces() -> tuple[CurrentUnit, ...]:
    """Return today's 34 province-level units, by code."""
    rows = _data().provinces
    return tuple(_current(rows[code], Tier.PROVINCE) for code in sorted(rows))


def current_communes(province_code: str) -> tuple[CurrentUnit, ...]:
    """Return the communes/wards of one current province, by code."""
    current_unit(province_code)  # unknown province: a clear error, not an empty list
    rows = [row for row in _data().communes.values() if row.province_code == province_code]
    return tuple(_current(row, Tier.COMMUNE) for row in sorted(rows, key=lambda r: r.code))


def legacy_unit(code: str) -> LegacyUnit:
    """Return the old province (2 digits), district (3) or commune (5) with this code."""
    data = _data()
    tables = {2: (data.legacy_provinces, Tier.PROVINCE), 3: (data.legacy_districts, Tier.DISTRICT)}
    table, tier = tables.get(len(code), (data.legacy_communes, Tier.COMMUNE))
    if _CODE.fullmatch(code) is None or code not in table:
        raise UnknownAdminUnitError(code, "legacy (until 30/6/2025)")
    return _legacy(table[code], tier)


def legacy_districts(province_code: str) -> tuple[LegacyUnit, ...]:
    """Return the districts an old province had on 30/6/2025, by code."""
    legacy_unit(province_code)
    rows = [r for r in _data().legacy_districts.values() if r.province_code == province_code]
    return tuple(_legacy(row, Tier.DISTRICT) for row in sorted(rows, key=lambda r: r.code))


def legacy_communes(district_code: str) -> tuple[LegacyUnit, ...]:
    """Return the communes an old district had on 30/6/2025 (none for Côn Đảo), by code."""
    legacy_unit(district_code)
    rows = [r for r in _data().legacy_communes.values() if r.district_code == district_code]
    return tuple(_legacy(row, Tier.COMMUNE) for row in sorted(rows, key=lambda r: r.code))


def _old_parts(data: CatalogueData, old: LegacyUnit) -> set[str]:
    """Return the old commune (or island-district) codes that make up an old unit."""
    if old.tier is Tier.COMMUNE:
        return {old.code}
    parts = {c for c, row in data.legacy_communes.items() if row.district_code == old.code}
    return parts or {old.code}  # a district without communes converts as a whole


@cache
def resolve_legacy(code: str) -> Resolution:
    """Return what an old province, district or commune code stands for today."""
    data = _data()
    old = legacy_unit(code)
    province = current_unit(data.province_successor[old.province_code])
    if old.tier is Tier.PROVINCE:
        whole = data.province_parts[province.code] == {old.code}
        return Resolution(code, old, Match.EXACT if whole else Match.MERGED, province, (province,))
    parts = _old_parts(data, old)
    targets = sorted({new for part in parts for new in data.successors[part]})
    units = tuple(current_unit(new) for new in targets)
    if len(units) > 1:
        match = Match.SPLIT
    else:
        # Exact when the current unit was formed from this old unit's territory alone.
        whole = data.predecessors[targets[0]] <= parts
        match = Match.EXACT if whole else Match.MERGED
    return Resolution(code, old, match, province, units)


def resolve(code: str, on: date | None = None) -> Resolution:
    """Return what a code stands for today, reading it as of the date it was used.

    District codes are always old ones. A province or commune code used before 1/7/2025 is read
    on the old map; used on or after it (or undated), as a current code when one has it, else
    as an old code still sent by a legacy system. Old and new province codes never disagree:
    every current province kept the code of one of the provinces it was formed from.
    """
    legacy_first = len(code) == 3 or (on is not None and on < REFORM_DATE)
    if not legacy_first and code in _current_codes():
        unit = current_unit(code)
        province = unit if unit.tier is Tier.PROVINCE else current_unit(unit.province_code)
        return Resolution(code, None, Match.EXACT, province, (unit,))
    try:
        return resolve_legacy(code)
    except UnknownAdminUnitError:
        if legacy_first:
            raise
        raise UnknownAdminUnitError(code, "current or legacy") from None


@cache
def _current_codes() -> frozenset[str]:
    data = _data()
    return frozenset(data.provinces) | frozenset(data.communes)
