"""The purpose catalogue: field filtering per purpose and refusals with reasons."""

import pytest

from population_adapter.domain.purposes import (
    PURPOSES,
    CitizenField,
    RefusalReason,
    UnknownPurposeError,
    authorize_fields,
    get_purpose,
)

F = CitizenField


@pytest.mark.parametrize(
    ("code", "allowed"),
    [
        ("identity_verification", set()),
        (
            "health_insurance_check",
            {F.FULL_NAME, F.DATE_OF_BIRTH, F.SEX, F.HEALTH_INSURANCE_NUMBER},
        ),
        ("administrative_procedure", {F.FULL_NAME, F.DATE_OF_BIRTH, F.SEX, F.PERMANENT_ADDRESS}),
        ("social_welfare", {F.FULL_NAME, F.DATE_OF_BIRTH, F.SEX, F.PERMANENT_ADDRESS}),
        ("electronic_identity_status", {F.ELECTRONIC_IDENTITY}),
    ],
)
def test_each_purpose_allows_exactly_its_fields(code: str, allowed: set[CitizenField]) -> None:
    assert set(get_purpose(code).allowed_fields) == allowed
    decision = authorize_fields(code, None)
    assert set(decision.granted) == allowed
    assert decision.fully_granted


def test_every_purpose_is_labelled_in_both_languages_with_a_legal_basis() -> None:
    assert len(PURPOSES) >= 4
    for code, purpose in PURPOSES.items():
        assert purpose.code == code
        assert purpose.label_vi
        assert purpose.label_en
        assert "13/2023/NĐ-CP" in purpose.legal_basis
    assert get_purpose("health_insurance_check").label_vi == "Khám chữa bệnh BHYT"
    assert get_purpose("administrative_procedure").label_vi == "Giải quyết thủ tục hành chính"


def test_allowed_fields_are_granted_in_request_order() -> None:
    decision = authorize_fields(
        "health_insurance_check", ["health_insurance_number", "full_name", "full_name"]
    )
    assert decision.granted == (F.HEALTH_INSURANCE_NUMBER, F.FULL_NAME)
    assert decision.refused == ()
    assert decision.fully_granted


def test_each_refused_field_is_named_with_its_reason() -> None:
    decision = authorize_fields(
        "administrative_procedure",
        ["full_name", "health_insurance_number", "cccd", "shoe_size", "permanent_address"],
    )
    assert decision.granted == (F.FULL_NAME, F.PERMANENT_ADDRESS)
    assert not decision.fully_granted
    reasons = {r.field: r.reason for r in decision.refused}
    assert reasons == {
        "health_insurance_number": RefusalReason.NOT_ALLOWED_FOR_PURPOSE,
        "cccd": RefusalReason.NEVER_DISCLOSED,
        "shoe_size": RefusalReason.UNKNOWN_FIELD,
    }
    messages = {r.field: r.message for r in decision.refused}
    assert "health_insurance_number" in messages["health_insurance_number"]
    assert "administrative_procedure" in messages["health_insurance_number"]


def test_identity_verification_discloses_no_field() -> None:
    decision = authorize_fields("identity_verification", [f.value for f in CitizenField])
    assert decision.granted == ()
    assert {r.field for r in decision.refused} == {f.value for f in CitizenField}
    assert all(r.reason is RefusalReason.NOT_ALLOWED_FOR_PURPOSE for r in decision.refused)


def test_unknown_field_names_are_not_echoed_in_messages() -> None:
    decision = authorize_fields("social_welfare", ["077085001234"])
    (refusal,) = decision.refused
    assert refusal.reason is RefusalReason.UNKNOWN_FIELD
    assert "077085001234" not in refusal.message


def test_empty_request_grants_nothing() -> None:
    decision = authorize_fields("social_welfare", [])
    assert decision.granted == ()
    assert decision.fully_granted


def test_unknown_purpose_is_an_error() -> None:
    with pytest.raises(UnknownPurposeError) as raised:
        authorize_fields("marketing", ["full_name"])
    assert raised.value.code == "marketing"
    assert "health_insurance_check" in str(raised.value)


def test_a_purpose_object_can_be_passed_directly() -> None:
    purpose = get_purpose("electronic_identity_status")
    decision = authorize_fields(purpose, ["electronic_identity", "sex"])
    assert decision.purpose is purpose
    assert decision.granted == (F.ELECTRONIC_IDENTITY,)
    assert [r.field for r in decision.refused] == ["sex"]
