"""Minimisation: a consumer sees exactly the fields its JSON Pointers select, nothing more."""

from __future__ import annotations

from typing import Any

import pytest

from lgsp_common.minimise import FieldSelection, minimise, parse_pointer

DOSSIER: dict[str, Any] = {
    "dossier_id": "HS-001",
    "citizen": {"national_id": "001099012345", "name": "Nguyễn Văn A"},
    "result": {
        "status": "approved",
        "files": [
            {"name": "giay-phep.pdf", "sha256": "ab", "size": 10},
            {"name": "quyet-dinh.pdf", "sha256": "cd", "size": 20},
        ],
    },
    "tags": ["a", "b", "c"],
    "a/b": 1,
    "m~n": 2,
    "*": "literal star",
    "0": "literal zero",
}


def test_top_level_and_nested_fields_keep_only_what_is_selected() -> None:
    kept = minimise(DOSSIER, ["/dossier_id", "/result/status"])
    assert kept == {"dossier_id": "HS-001", "result": {"status": "approved"}}


def test_a_pointer_to_an_object_discloses_the_whole_object() -> None:
    kept = minimise(DOSSIER, ["/citizen", "/citizen/name"])
    assert kept == {"citizen": DOSSIER["citizen"]}


def test_star_selects_a_field_of_every_array_item() -> None:
    kept = minimise(DOSSIER, ["/result/files/*/name"])
    assert kept == {"result": {"files": [{"name": "giay-phep.pdf"}, {"name": "quyet-dinh.pdf"}]}}


def test_an_index_selects_one_item_and_keeps_its_position() -> None:
    assert minimise(DOSSIER, ["/tags/1"]) == {"tags": [None, "b"]}
    assert minimise(DOSSIER, ["/result/files/0/size"]) == {"result": {"files": [{"size": 10}]}}


def test_star_and_index_merge_on_the_same_item() -> None:
    kept = minimise(DOSSIER, ["/result/files/*/name", "/result/files/1/size"])
    assert kept["result"]["files"] == [
        {"name": "giay-phep.pdf"},
        {"name": "quyet-dinh.pdf", "size": 20},
    ]


def test_dash_and_out_of_range_indexes_disclose_nothing() -> None:
    assert minimise(DOSSIER, ["/tags/-", "/tags/7", "/tags/01"]) == {}


def test_escaped_tokens_and_literal_star_or_digit_keys_on_objects() -> None:
    kept = minimise(DOSSIER, ["/a~1b", "/m~0n", "/*", "/0"])
    assert kept == {"a/b": 1, "m~n": 2, "*": "literal star", "0": "literal zero"}


def test_absent_places_disclose_nothing_not_even_a_null() -> None:
    kept = minimise(DOSSIER, ["/missing", "/result/missing", "/dossier_id/deeper"])
    assert kept == {}


def test_a_selected_null_is_disclosed_as_null() -> None:
    assert minimise({"x": None, "y": 1}, ["/x"]) == {"x": None}


def test_no_pointer_and_non_object_payloads() -> None:
    assert minimise(DOSSIER, []) == {}
    assert minimise([1, 2], ["/1"]) == [None, 2]
    assert minimise("scalar", ["/x"]) is None
    assert minimise(DOSSIER, [""]) == DOSSIER


def test_the_payload_is_not_modified() -> None:
    before = repr(DOSSIER)
    minimise(DOSSIER, ["/result/files/*/name"])
    assert repr(DOSSIER) == before


def test_disclosed_names_only_the_pointers_that_matched() -> None:
    selection = FieldSelection(["/result/files/*/name", "/missing", "/dossier_id"])
    assert selection.disclosed(DOSSIER) == ["/dossier_id", "/result/files/*/name"]
    assert selection.pointers == ("/dossier_id", "/missing", "/result/files/*/name")


def test_a_pointer_must_start_with_a_slash() -> None:
    with pytest.raises(ValueError, match="JSON Pointer"):
        parse_pointer("amount")
    assert parse_pointer("/a~1b/~0") == ["a/b", "~"]
