"""NFC normalisation of JSON documents: every string and key, the same object when unchanged."""

from __future__ import annotations

import unicodedata

import pytest

from lgsp_vn.text import KeyCollisionError, nfc, nfc_document

NAME_NFC = "Nguyễn Thị Thanh Hương"
NAME_NFD = unicodedata.normalize("NFD", NAME_NFC)


def test_the_two_encodings_differ_in_length_not_in_text() -> None:
    assert NAME_NFD != NAME_NFC
    assert len(NAME_NFD) > len(NAME_NFC)
    assert nfc(NAME_NFD) == NAME_NFC


def test_text_already_in_nfc_is_returned_as_it_is() -> None:
    assert nfc(NAME_NFC) is NAME_NFC
    assert nfc("ascii only") == "ascii only"


def test_a_document_in_nfc_is_the_same_object() -> None:
    document = {"name": NAME_NFC, "tags": ["Bà Rịa", {"x": 1}], "n": 3, "ok": True, "none": None}
    assert nfc_document(document) is document


def test_every_string_and_key_at_any_depth_is_normalised() -> None:
    key = unicodedata.normalize("NFD", "họ_tên")
    document = {
        "id": "a",
        key: NAME_NFD,
        "nested": {"list": [1, NAME_NFD, {"deep": NAME_NFD}], "same": "x"},
    }
    result = nfc_document(document)
    assert result is not document
    assert result == {
        "id": "a",
        "họ_tên": NAME_NFC,
        "nested": {"list": [1, NAME_NFC, {"deep": NAME_NFC}], "same": "x"},
    }
    assert list(result) == ["id", "họ_tên", "nested"]  # key order kept
    assert document[key] == NAME_NFD  # the input is not modified


def test_unchanged_branches_are_shared_not_copied() -> None:
    untouched = {"a": ["b", "c"]}
    document = {"keep": untouched, "name": NAME_NFD}
    assert nfc_document(document)["keep"] is untouched


def test_scalars_and_arrays_at_the_root() -> None:
    assert nfc_document(NAME_NFD) == NAME_NFC
    assert nfc_document([NAME_NFD, 1]) == [NAME_NFC, 1]
    assert nfc_document(42) == 42


def test_a_300_character_name_sent_in_nfd_is_300_characters_in_nfc() -> None:
    name = ("Nguyễn " * 43)[:300]
    assert len(name) == 300
    decomposed = unicodedata.normalize("NFD", name)
    assert len(decomposed) > 300
    assert len(nfc_document({"name": decomposed})["name"]) == 300


def test_keys_that_collide_once_normalised_are_refused() -> None:
    with pytest.raises(KeyCollisionError) as raised:
        nfc_document({"items": [{"tên": 1, unicodedata.normalize("NFD", "tên"): 2}]})
    assert raised.value.key == "tên"
    assert raised.value.pointer == "/items/0"
