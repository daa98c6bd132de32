"""Today's administrative map and the resolution of old codes (acceptance tests of issue 16)."""

from datetime import date

import pytest

from lgsp_vn.admin_units import (
    REFORM_DATE,
    Match,
    Tier,
    UnknownAdminUnitError,
    catalogue_versions,
    current_communes,
    current_provinces,
    current_unit,
    legacy_communes,
    legacy_districts,
    legacy_unit,
    resolve,
    resolve_legacy,
)
from lgsp_vn.cccd import validate_cccd
from lgsp_vn.cccd_provinces import CCCD_PROVINCE_CODES
from lgsp_vn.sex import Sex

HCMC = "79"


def test_a_current_code_names_a_unit_of_todays_two_tier_map() -> None:
    province = current_unit(HCMC)
    assert (province.name, province.tier) == ("Thành phố Hồ Chí Minh", Tier.PROVINCE)
    ward = current_unit("26506")
    assert (ward.name, ward.tier, ward.province_code) == ("Phường Vũng Tàu", Tier.COMMUNE, HCMC)
    assert current_unit("26732").division_type == "đặc khu"  # Côn Đảo


def test_the_catalogue_has_34_provinces_and_3321_communes() -> None:
    provinces = current_provinces()
    assert len(provinces) == 34
    assert sum(len(current_communes(p.code)) for p in provinces) == 3321
    assert {"vietnam-provinces", "vietnamadminunits"} <= set(catalogue_versions())


def test_a_legacy_district_is_split_among_its_communes_and_all_are_listed() -> None:
    found = resolve_legacy("747")  # Thành phố Vũng Tàu
    assert found.legacy is not None
    assert (found.legacy.name, found.legacy.tier) == ("Thành phố Vũng Tàu", Tier.DISTRICT)
    assert found.match is Match.SPLIT
    assert found.unit is None  # never guessed
    assert found.province.code == HCMC
    assert [u.name for u in found.units] == [
        "Phường Vũng Tàu",
        "Phường Tam Thắng",
        "Phường Rạch Dừa",
        "Phường Phước Thắng",
        "Xã Long Sơn",
    ]


def test_a_legacy_district_without_communes_is_exactly_one_current_unit() -> None:
    found = resolve_legacy("755")  # Huyện Côn Đảo
    assert found.match is Match.EXACT
    assert found.unit is not None
    assert (found.unit.code, found.unit.name) == ("26732", "Đặc khu Côn Đảo")


def test_a_legacy_commune_merged_into_a_new_one() -> None:
    found = resolve_legacy("26560")  # Phường Phước Trung, Thành phố Bà Rịa
    assert found.legacy is not None
    assert (found.legacy.name, found.legacy.district_code) == ("Phường Phước Trung", "748")
    assert found.match is Match.MERGED
    assert found.unit is not None
    assert (found.unit.code, found.unit.name) == ("26560", "Phường Bà Rịa")
    # Several old wards went into it, wholly: each of them resolves to it.
    for other in ("26548", "26554", "26557"):
        assert resolve_legacy(other).unit == found.unit


def test_a_legacy_commune_kept_whole_is_exact() -> None:
    found = resolve_legacy("26545")  # Xã Long Sơn
    assert found.match is Match.EXACT
    assert found.unit is not None
    assert found.unit.name == "Xã Long Sơn"


def test_a_legacy_commune_split_across_new_ones_lists_every_candidate() -> None:
    found = resolve_legacy("20296")  # Xã Hòa Liên, Huyện Hòa Vang, Đà Nẵng
    assert found.match is Match.SPLIT
    assert found.unit is None
    assert {u.name for u in found.units} == {"Phường Hải Vân", "Phường Liên Chiểu"}
    assert {u.province_code for u in found.units} == {found.province.code} == {"48"}


@pytest.mark.parametrize(
    ("call", "code"),
    [
        (resolve_legacy, "99999"),
        (resolve_legacy, "752"),  # Huyện Long Điền: merged into Long Đất before 30/6/2025
        (resolve_legacy, "7"),
        (resolve_legacy, "74a"),
        (current_unit, "77"),  # Bà Rịa - Vũng Tàu is no longer a province
        (current_unit, "747"),  # no district tier today
        (resolve, "99999"),
        (legacy_districts, "00"),
    ],
)
def test_a_code_that_does_not_exist_is_a_clear_error(call: object, code: str) -> None:
    with pytest.raises(UnknownAdminUnitError, match=repr(code)) as caught:
        call(code)  # type: ignore[operator]
    assert caught.value.code == code


def test_province_series_are_continuous_across_the_reform() -> None:
    before = date(2025, 6, 30)
    # An event of June 2025 with Bà Rịa - Vũng Tàu's code and one of July with today's code
    # land in the same current province.
    assert resolve("77", on=before).province.code == HCMC
    assert resolve(HCMC, on=REFORM_DATE).province.code == HCMC
    assert resolve("74", on=before).province.code == HCMC  # Bình Dương
    assert resolve_legacy("77").match is Match.MERGED
    assert resolve_legacy("01").match is Match.EXACT  # Hà Nội kept its territory
    # Every old province has exactly one successor, and together they cover the 34.
    successors = {resolve_legacy(code[1:]).province.code for code in CCCD_PROVINCE_CODES}
    assert successors == {p.code for p in current_provinces()}


def test_a_commune_code_is_read_on_the_map_of_its_date() -> None:
    old = resolve("26506", on=date(2025, 6, 30))
    assert old.legacy is not None
    assert old.legacy.name == "Phường 1"
    assert old.unit is not None
    assert old.unit.name == "Phường Vũng Tàu"
    new = resolve("26506", on=date(2025, 7, 1))
    assert new.legacy is None
    assert new.match is Match.EXACT
    assert new.units == (current_unit("26506"),)
    assert resolve("747", on=date(2026, 1, 1)).match is Match.SPLIT  # districts are always old


def test_the_legacy_map_of_ba_ria_vung_tau_on_30_june_2025() -> None:
    districts = {d.code: d.name for d in legacy_districts("77")}
    assert districts["753"] == "Huyện Long Đất"
    assert set(districts) == {"747", "748", "750", "751", "753", "754", "755"}
    assert legacy_communes("755") == ()
    assert legacy_unit("26506").district_code == "747"
    assert all(c.province_code == "77" for c in legacy_communes("747"))


def test_every_legacy_unit_resolves_within_one_current_province() -> None:
    for province in CCCD_PROVINCE_CODES:
        for district in legacy_districts(province[1:]):
            found = resolve_legacy(district.code)
            assert found.units
            assert {u.province_code for u in found.units} == {found.province.code}


def test_cccd_codes_stay_the_63_birth_registration_provinces() -> None:
    # A separate table by design: the cards keep the codes of the old provinces.
    old_provinces = {legacy_unit(code[1:]).code for code in CCCD_PROVINCE_CODES}
    assert len(old_provinces) == 63
    card = "077" + "0" + "85" + "123456"  # born in Bà Rịa - Vũng Tàu, 1985, male
    assert validate_cccd(card, date(1985, 3, 4), Sex.MALE) == []
