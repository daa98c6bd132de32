"""KPI dimensions by today's administrative units, derived from the codes the events carry.

Departments' systems send the codes of the map that ended on 30/6/2025 (3-digit districts, and
5-digit communes where a topic has them). The cells keep the code as it arrived; the current
unit is derived when a KPI is read, so a newer catalogue re-maps the whole history at once.

Two derived dimensions, on every KPI that has an administrative-unit dimension:
- `current_unit`: today's commune/ward (5-digit code) when the old unit became exactly one
  current unit (same territory or merged into it); otherwise a bucket: `unresolved-split` when
  it was divided among several (counted there, never attributed to one of them), `unknown-code`
  when the catalogue has no such code;
- `current_province`: today's province. Every old unit lies in exactly one current province, so
  a province's series runs on across 1 July 2025: an event of June 2025 coded for Bà Rịa - Vũng
  Tàu and one of July coded for Thành phố Hồ Chí Minh both count for 79.

A code is read on the map of the window it falls in (before 1 July 2025: the old map).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from functools import lru_cache

from ioc_collector.domain.definitions import JsonScalar, KpiDefinition
from lgsp_vn.admin_units import REFORM_DATE, Match, UnknownAdminUnitError, resolve

CURRENT_UNIT = "current_unit"
CURRENT_PROVINCE = "current_province"
DERIVED = (CURRENT_UNIT, CURRENT_PROVINCE)
UNRESOLVED_SPLIT = "unresolved-split"
UNKNOWN_CODE = "unknown-code"
BUCKET_LABELS = {
    UNRESOLVED_SPLIT: "Chưa xác định – đơn vị cũ bị chia (unresolved: split)",
    UNKNOWN_CODE: "Mã không có trong danh mục (unknown code)",
}
# The finest first: a commune code says more than the district code beside it.
UNIT_FIELDS = ("commune_code", "ward_code", "district_code", "province_code")
# Their `province_code` is the CCCD's birth-registration code (3 digits, the card's own, valid
# for life): where a citizen was born, not where the event happened, so it is never mapped.
BIRTH_PROVINCE_TOPICS = frozenset({"population.verification.v1"})


def unit_field(kpi: KpiDefinition) -> str | None:
    """Return the administrative-unit dimension a KPI's current units derive from, if any."""
    if kpi.topic in BIRTH_PROVINCE_TOPICS:
        return None
    return next((name for name in UNIT_FIELDS if name in kpi.dimensions), None)


def derived_dimensions(kpi: KpiDefinition) -> tuple[str, ...]:
    """Return the derived dimensions a KPI can be filtered on."""
    return DERIVED if unit_field(kpi) else ()


@lru_cache(maxsize=50_000)
def _current(code: str, before_reform: bool) -> tuple[str, str, str, str]:
    """Return (unit value, unit label, province value, province label) of a code."""
    try:
        found = resolve(code, on=date(2025, 6, 30) if before_reform else REFORM_DATE)
    except UnknownAdminUnitError:
        label = BUCKET_LABELS[UNKNOWN_CODE]
        return UNKNOWN_CODE, label, UNKNOWN_CODE, label
    province = (found.province.code, found.province.name)
    unit = found.unit
    if found.match is Match.SPLIT or unit is None:
        return UNRESOLVED_SPLIT, BUCKET_LABELS[UNRESOLVED_SPLIT], *province
    return unit.code, unit.name, *province


def current_dims(
    kpi: KpiDefinition, values: Mapping[str, JsonScalar], window_start: date
) -> dict[str, str]:
    """Return the derived dimension values of one cell of a window starting on `window_start`."""
    field = unit_field(kpi)
    if field is None:
        return {}
    code = values.get(field)
    text = code if isinstance(code, str) else UNKNOWN_CODE
    unit, _, province, _ = _current(text, window_start < REFORM_DATE)
    return {CURRENT_UNIT: unit, CURRENT_PROVINCE: province}


def labels(
    kpi: KpiDefinition, cells: list[tuple[Mapping[str, JsonScalar], date]]
) -> dict[str, dict[str, str]]:
    """Return the Vietnamese name of every derived value occurring in the cells."""
    field = unit_field(kpi)
    if field is None:
        return {}
    units: dict[str, str] = {}
    provinces: dict[str, str] = {}
    for values, start in cells:
        code = values.get(field)
        text = code if isinstance(code, str) else UNKNOWN_CODE
        unit, unit_label, province, province_label = _current(text, start < REFORM_DATE)
        units[unit] = unit_label
        provinces[province] = province_label
    return {CURRENT_UNIT: units, CURRENT_PROVINCE: provinces}
