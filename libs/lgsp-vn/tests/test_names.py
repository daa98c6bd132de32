"""Vietnamese name normalisation and matching across NFC/NFD, case, spacing and tone placement."""

import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lgsp_vn.names import name_match_key, names_match, normalize_name

NFC_NAME = unicodedata.normalize("NFC", "Nguyễn Thị Hồng")
NFD_NAME = unicodedata.normalize("NFD", "Nguyễn Thị Hồng")
VIETNAMESE_LETTERS = (
    "aăâbcdđeêghiklmnoôơpqrstuưvxyàáảãạằắẳẵặầấẩẫậèéẻẽẹềếểễệìíỉĩịòóỏõọồốổỗộờớởỡợùúủũụừứửữựỳýỷỹỵ"
)


def test_nfd_input_matches_nfc_input() -> None:
    assert NFC_NAME != NFD_NAME  # the two spellings really differ code point by code point
    assert names_match(NFD_NAME, NFC_NAME)
    assert normalize_name(NFD_NAME) == "nguyễn thị hồng"
    assert normalize_name(NFD_NAME) == unicodedata.normalize("NFC", normalize_name(NFD_NAME))


@pytest.mark.parametrize(
    "variant",
    [
        "NGUYỄN THỊ HỒNG",
        "nguyễn thị hồng",
        "  Nguyễn   Thị\tHồng \n",
        "Nguyễn\u00a0Thị Hồng",  # no-break space from a web form
        unicodedata.normalize("NFD", "NGUYỄN  THỊ HỒNG "),
    ],
)
def test_case_and_whitespace_do_not_matter(variant: str) -> None:
    assert names_match(variant, NFC_NAME)


def test_normalize_collapses_and_strips() -> None:
    assert normalize_name("  Đặng \t Văn   LÂM  ") == "đặng văn lâm"


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("Nguyễn Thị Thủy", "Nguyễn Thị Thuỷ"),
        ("Lê Văn Hòa", "Lê Văn Hoà"),
        ("Trần Thị Khỏe", "Trần Thị Khoẻ"),
        ("Phạm Thị Thúy", unicodedata.normalize("NFD", "PHẠM THỊ THUÝ")),
    ],
)
def test_both_tone_placements_match(a: str, b: str) -> None:
    assert names_match(a, b)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("Nguyễn Thị Hồng", "Nguyen Thi Hong"),
        ("Nguyễn Thị Hồng", "Nguyễn Thị Hông"),
        ("Nguyễn Thị Thủy", "Nguyễn Thị Thúy"),
        ("Lê Văn Hòa", "Lê Văn Hoa"),
        ("Nguyễn Văn An", "Nguyễn Văn Anh"),
        ("Nguyễn Văn An", "Nguyễn Văn"),
    ],
)
def test_different_names_do_not_match(a: str, b: str) -> None:
    assert not names_match(a, b)


def test_syllables_with_a_fixed_tone_position_are_left_alone() -> None:
    assert name_match_key("Quý") == "quý"
    assert name_match_key("Huỳnh") == "huỳnh"
    assert name_match_key("Hoàng") == "hoàng"
    assert not names_match("Quý", "Qúy")


vietnamese_words = st.text(alphabet=VIETNAMESE_LETTERS, min_size=1, max_size=7)


@given(st.lists(vietnamese_words, min_size=1, max_size=5))
def test_any_vietnamese_name_matches_its_nfd_upper_and_spaced_forms(words: list[str]) -> None:
    name = " ".join(words)
    assert names_match(name, unicodedata.normalize("NFD", name))
    assert names_match(name, name.upper())
    assert names_match(name, "  " + "   ".join(words) + " ")


@given(st.text())
def test_normalize_is_idempotent(value: str) -> None:
    once = normalize_name(value)
    assert normalize_name(once) == once
