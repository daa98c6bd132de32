"""The Citizen record: consistency with its CCCD, normalisation, disclosure and redaction."""

import unicodedata
from datetime import date
from typing import Any

import pytest
from pydantic import ValidationError

from lgsp_vn.citizen import Address, Citizen, ElectronicIdentity
from lgsp_vn.sex import Sex
from population_adapter.domain.disclosure import disclose
from population_adapter.domain.purposes import CitizenField

CCCD = "077185004312"
BHYT = "GD4777712345678"


def citizen_data(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "cccd": CCCD,
        "full_name": "Nguyễn Thị Hồng",
        "sex": "female",
        "date_of_birth": "1985-04-30",
        "birth_province_code": "077",
        "permanent_address": {
            "province_code": "77",
            "province_name": "Bà Rịa - Vũng Tàu",
            "district_code": "747",
            "district_name": "Thành phố Vũng Tàu",
            "commune_code": "26508",
            "commune_name": "Phường Thắng Tam",
        },
        "electronic_identity": "vneid_level_2",
        "health_insurance_number": BHYT,
    }
    data.update(overrides)
    return data


def test_a_consistent_record_is_accepted() -> None:
    citizen = Citizen.model_validate(citizen_data())
    assert citizen.sex is Sex.FEMALE
    assert citizen.date_of_birth == date(1985, 4, 30)
    assert citizen.electronic_identity is ElectronicIdentity.VNEID_LEVEL_2
    assert citizen.cccd_masked == "077*******12"


def test_names_are_stored_in_nfc_with_single_spaces() -> None:
    nfd = unicodedata.normalize("NFD", " Nguyễn  Thị Hồng ")
    citizen = Citizen.model_validate(citizen_data(full_name=nfd))
    assert citizen.full_name == unicodedata.normalize("NFC", "Nguyễn Thị Hồng")


@pytest.mark.parametrize(
    "overrides",
    [
        {"date_of_birth": "1986-04-30"},  # year digits say 85
        {"date_of_birth": "2085-04-30"},  # century digit says 1900s
        {"sex": "male"},  # sex digit says female
        {"birth_province_code": "079"},  # CCCD says 077
        {"cccd": "003185004312"},  # no such province
        {"cccd": "07718500431"},
        {"health_insurance_number": "DN47712345"},
        {"health_insurance_number": "dn4777712345678"},
        {"health_insurance_number": "DN6777712345678"},  # benefit level is 1-5
        {"full_name": "   "},
        {"electronic_identity": "vneid_level_3"},
        {"nickname": "Hồng"},
    ],
)
def test_inconsistent_or_malformed_records_are_rejected(overrides: dict[str, Any]) -> None:
    with pytest.raises(ValidationError) as raised:
        Citizen.model_validate(citizen_data(**overrides))
    bad_cccd = overrides.get("cccd", CCCD)
    assert bad_cccd not in str(raised.value)
    # errors() echoes the input unless asked not to; API layers must pass include_input=False.
    assert bad_cccd not in repr(raised.value.errors(include_input=False))


def test_repr_hides_the_identifiers() -> None:
    citizen = Citizen.model_validate(citizen_data())
    assert CCCD not in repr(citizen)
    assert CCCD not in str(citizen)
    assert BHYT not in repr(citizen)


def test_disclose_returns_only_the_given_fields() -> None:
    citizen = Citizen.model_validate(citizen_data())
    assert disclose(citizen, [CitizenField.FULL_NAME, CitizenField.DATE_OF_BIRTH]) == {
        "full_name": "Nguyễn Thị Hồng",
        "date_of_birth": "1985-04-30",
    }
    address = disclose(citizen, [CitizenField.PERMANENT_ADDRESS])["permanent_address"]
    assert address["district_code"] == "747"
    assert disclose(citizen, []) == {}


def test_a_district_without_communes_has_no_commune() -> None:
    address = Address(
        province_code="77",
        province_name="Bà Rịa - Vũng Tàu",
        district_code="755",
        district_name="Huyện Côn Đảo",
    )
    assert address.commune_code is None


def test_commune_code_and_name_go_together() -> None:
    with pytest.raises(ValidationError, match="both"):
        Address(
            province_code="77",
            province_name="Bà Rịa - Vũng Tàu",
            district_code="747",
            district_name="Thành phố Vũng Tàu",
            commune_code="26508",
        )


def test_citizens_are_immutable() -> None:
    citizen = Citizen.model_validate(citizen_data())
    with pytest.raises(ValidationError):
        citizen.full_name = "Trần Văn Nam"  # type: ignore[misc]
