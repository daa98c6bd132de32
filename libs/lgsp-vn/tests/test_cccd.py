"""CCCD structure, validation rules, masking and keyed hashing."""

import re
from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lgsp_vn.cccd import (
    CccdRule,
    hash_cccd,
    make_cccd,
    mask_cccd,
    parse_cccd,
    validate_cccd,
)
from lgsp_vn.cccd_provinces import CCCD_PROVINCE_CODES
from lgsp_vn.sex import Sex

MALE, FEMALE = Sex.MALE, Sex.FEMALE
KEY = b"k" * 32
TOPIC_MASK = re.compile(r"^[0-9]{3}\*{7}[0-9]{2}$")  # population.verification.v1 cccd_masked


def test_the_province_table_is_the_official_63() -> None:
    assert len(CCCD_PROVINCE_CODES) == 63
    assert CCCD_PROVINCE_CODES["001"] == "Hà Nội"
    assert CCCD_PROVINCE_CODES["068"] == "Lâm Đồng"
    assert CCCD_PROVINCE_CODES["072"] == "Tây Ninh"
    assert CCCD_PROVINCE_CODES["077"] == "Bà Rịa - Vũng Tàu"
    assert CCCD_PROVINCE_CODES["079"] == "Hồ Chí Minh"
    assert CCCD_PROVINCE_CODES["096"] == "Cà Mau"
    # Codes left unused when provinces were split or merged.
    for unused in ("003", "005", "013", "028", "029", "039", "078", "097"):
        assert unused not in CCCD_PROVINCE_CODES


@pytest.mark.parametrize(
    ("number", "dob", "sex"),
    [
        ("077085001234", date(1985, 3, 1), MALE),
        ("001195012345", date(1995, 12, 31), FEMALE),
        ("079203000001", date(2003, 1, 1), MALE),
        ("096310999999", date(2010, 6, 15), FEMALE),
        ("072100000000", date(1900, 1, 1), FEMALE),
        ("068099000000", date(1999, 12, 31), MALE),
        ("077085001234", None, None),
        ("077185001234", None, FEMALE),
        ("077285001234", date(2085, 1, 1), None),
    ],
)
def test_valid_numbers_have_no_violations(number: str, dob: date | None, sex: Sex | None) -> None:
    assert validate_cccd(number, dob, sex) == []


@pytest.mark.parametrize(
    "number",
    [
        "",
        "07708500123",
        "0770850012345",
        "07708500123a",
        " 77085001234",
        "077 085 001 234",
        "077085001234\n",
        "077-085001234",
        "٠٧٧٠٨٥٠٠١٢٣٤",  # Arabic-Indic digits: isdigit() is True, but not ASCII
        "０７７０８５００１２３４",  # fullwidth digits
    ],
)
def test_malformed_numbers_break_only_the_format_rule(number: str) -> None:
    violations = validate_cccd(number, date(1985, 1, 1), MALE)
    assert [v.rule for v in violations] == [CccdRule.FORMAT]
    assert "12" in violations[0].message


@pytest.mark.parametrize("number", ["000085001234", "003085001234", "097085001234", "999085001234"])
def test_unknown_birth_province(number: str) -> None:
    violations = validate_cccd(number, date(1985, 1, 1), MALE)
    assert [v.rule for v in violations] == [CccdRule.PROVINCE_UNKNOWN]


@pytest.mark.parametrize(
    ("number", "dob"),
    [
        ("077285001234", date(1985, 5, 5)),  # 2000s digit, born in the 1900s
        ("077085001234", date(2085, 5, 5)),  # 1900s digit, born in the 2000s
        ("077485001234", date(1985, 5, 5)),  # 2100s
        ("077685001234", date(1985, 5, 5)),  # 2200s
        ("077885001234", date(1885, 5, 5)),  # 8 means the 2300s, not the 1800s
    ],
)
def test_century_digit_must_match_the_date_of_birth(number: str, dob: date) -> None:
    assert [v.rule for v in validate_cccd(number, dob)] == [CccdRule.CENTURY_MISMATCH]


@pytest.mark.parametrize(
    ("number", "dob"),
    [
        ("077086001234", date(1985, 5, 5)),
        ("077000001234", date(1999, 5, 5)),
        ("077299001234", date(2000, 1, 1)),
    ],
)
def test_year_digits_must_match_the_date_of_birth(number: str, dob: date) -> None:
    rules = [v.rule for v in validate_cccd(number, dob)]
    assert CccdRule.YEAR_MISMATCH in rules
    assert set(rules) <= {CccdRule.YEAR_MISMATCH, CccdRule.CENTURY_MISMATCH}


@pytest.mark.parametrize(
    ("number", "sex"),
    [("077085001234", FEMALE), ("077185001234", MALE), ("077303001234", MALE)],
)
def test_sex_digit_must_match_the_stated_sex(number: str, sex: Sex) -> None:
    assert [v.rule for v in validate_cccd(number, None, sex)] == [CccdRule.SEX_MISMATCH]


def test_every_broken_rule_is_reported() -> None:
    rules = {v.rule for v in validate_cccd("000285001234", date(1984, 1, 1), FEMALE)}
    assert rules == {
        CccdRule.PROVINCE_UNKNOWN,
        CccdRule.CENTURY_MISMATCH,
        CccdRule.YEAR_MISMATCH,
        CccdRule.SEX_MISMATCH,
    }


def test_rule_codes_are_stable() -> None:
    assert [r.value for r in CccdRule] == [
        "CCCD_FORMAT",
        "CCCD_PROVINCE_UNKNOWN",
        "CCCD_CENTURY_MISMATCH",
        "CCCD_YEAR_MISMATCH",
        "CCCD_SEX_MISMATCH",
    ]


@given(
    number=st.text(alphabet="0123456789", min_size=12, max_size=12),
    dob=st.dates(min_value=date(1850, 1, 1), max_value=date(2400, 12, 31)),
    sex=st.sampled_from(Sex),
)
def test_messages_never_contain_the_number_or_its_serial(number: str, dob: date, sex: Sex) -> None:
    for violation in validate_cccd(number, dob, sex):
        assert number not in violation.message
        assert number[6:] not in violation.message


def test_parse_decodes_every_part() -> None:
    parts = parse_cccd("077185123456")
    assert parts.province_code == "077"
    assert parts.sex is FEMALE
    assert parts.century_start == 1900
    assert parts.birth_year == 1985
    assert parts.serial == "123456"
    assert "123456" not in repr(parts)
    assert parse_cccd("001923000000").birth_year == 2323
    with pytest.raises(ValueError, match="12 ASCII digits"):
        parse_cccd("07718512345")


@given(
    province=st.sampled_from(sorted(CCCD_PROVINCE_CODES)),
    sex=st.sampled_from(Sex),
    year=st.integers(min_value=1900, max_value=2399),
    serial=st.integers(min_value=0, max_value=999_999),
)
def test_made_numbers_validate_and_decode(province: str, sex: Sex, year: int, serial: int) -> None:
    number = make_cccd(province, sex, year, serial)
    assert validate_cccd(number, date(year, 7, 1), sex) == []
    parts = parse_cccd(number)
    assert (parts.province_code, parts.sex, parts.birth_year, int(parts.serial)) == (
        province,
        sex,
        year,
        serial,
    )


@pytest.mark.parametrize(
    ("province", "year", "serial", "problem"),
    [
        ("003", 1990, 1, "province"),
        ("077", 1899, 1, "birth year"),
        ("077", 2400, 1, "birth year"),
        ("077", 1990, 1_000_000, "serial"),
    ],
)
def test_make_refuses_what_cannot_be_encoded(
    province: str, year: int, serial: int, problem: str
) -> None:
    with pytest.raises(ValueError, match=problem):
        make_cccd(province, MALE, year, serial)


def test_mask_keeps_province_and_last_two_digits() -> None:
    assert mask_cccd("077085001212") == "077*******12"
    assert TOPIC_MASK.fullmatch(mask_cccd("001195012345"))


@given(st.text(max_size=30))
def test_mask_never_leaks_more_than_five_digits(value: str) -> None:
    masked = mask_cccd(value)
    digits = [ch for ch in masked if ch.isdigit()]
    assert len(digits) <= 5
    if len(value) == 12 and value.isascii() and value.isdigit():
        assert masked == value[:3] + "*" * 7 + value[-2:]
        assert TOPIC_MASK.fullmatch(masked)
    else:
        assert digits == []


@given(st.text(alphabet="0123456789", min_size=12, max_size=12))
def test_mask_of_any_number_fits_the_topic_pattern(number: str) -> None:
    masked = mask_cccd(number)
    assert TOPIC_MASK.fullmatch(masked)
    assert number[3:10] not in masked


def test_hash_is_keyed_stable_and_discloses_nothing() -> None:
    digest = hash_cccd("077085001234", KEY)
    assert re.fullmatch(r"[0-9a-f]{64}", digest)
    assert digest == hash_cccd("077085001234", KEY)
    assert digest != hash_cccd("077085001235", KEY)
    assert digest != hash_cccd("077085001234", b"x" * 32)
    assert "077085001234" not in digest


def test_hash_refuses_a_short_key() -> None:
    with pytest.raises(ValueError, match="16 bytes"):
        hash_cccd("077085001234", b"short")
