"""Consumer access: approval, resource, purpose, and fields granted by purpose AND approval."""

from __future__ import annotations

from typing import Any

import pytest

from population_adapter.domain.access import (
    AccessDeniedError,
    DenialReason,
    authorize_consumer,
    authorize_lookup,
)
from population_adapter.domain.purposes import CitizenField, RefusalReason

RESOURCE = "population.citizen.v1"
HEALTH = "health_insurance_check"


def _consumer(**changes: Any) -> dict[str, Any]:
    consumer: dict[str, Any] = {
        "id": "syt-his",
        "organisation_id": "org-syt",
        "topic": RESOURCE,
        "purpose": "health_insurance_check",
        "fields": ["/full_name", "/date_of_birth"],
        "status": "approved",
        "unknown_future_field": 1,
    }
    consumer.update(changes)
    return consumer


@pytest.mark.parametrize(
    ("consumer", "purpose", "reason"),
    [
        (None, "health_insurance_check", DenialReason.CONSUMER_UNKNOWN),
        (_consumer(status="pending"), "health_insurance_check", DenialReason.CONSUMER_NOT_APPROVED),
        (
            _consumer(status="rejected"),
            "health_insurance_check",
            DenialReason.CONSUMER_NOT_APPROVED,
        ),
        (
            _consumer(topic="health.medical-visit.v1"),
            "health_insurance_check",
            DenialReason.CONSUMER_OTHER_RESOURCE,
        ),
        (_consumer(purpose="marketing"), "marketing", DenialReason.PURPOSE_UNKNOWN),
        (_consumer(), "social_welfare", DenialReason.PURPOSE_MISMATCH),
        (_consumer(), "", DenialReason.PURPOSE_MISMATCH),
    ],
)
def test_consumer_refused_with_the_rule(
    consumer: dict[str, Any] | None, purpose: str, reason: DenialReason
) -> None:
    with pytest.raises(AccessDeniedError) as caught:
        authorize_consumer(consumer, "syt-his", purpose, RESOURCE)
    assert caught.value.reason is reason


def test_unknown_consumer_id_is_not_echoed() -> None:
    with pytest.raises(AccessDeniedError) as caught:
        authorize_consumer(None, "077190001234", "health_insurance_check", RESOURCE)
    assert "077190001234" not in caught.value.message


def test_approved_consumer_gets_its_grant() -> None:
    grant = authorize_consumer(_consumer(), "syt-his", "health_insurance_check", RESOURCE)
    assert grant.purpose.code == "health_insurance_check"
    assert grant.organisation_id == "org-syt"
    assert grant.approves(CitizenField.FULL_NAME)
    assert not grant.approves(CitizenField.HEALTH_INSURANCE_NUMBER)


def test_resource_check_can_be_disabled() -> None:
    consumer = _consumer(topic="anything")
    assert authorize_consumer(consumer, "syt-his", "health_insurance_check", None)


def test_lookup_refuses_fields_beyond_purpose_or_approval() -> None:
    grant = authorize_consumer(_consumer(), "syt-his", "health_insurance_check", RESOURCE)
    decision = authorize_lookup(
        grant, ["full_name", "health_insurance_number", "permanent_address", "cccd"]
    )
    assert decision.granted == (CitizenField.FULL_NAME,)
    reasons = {r.field: r.reason for r in decision.refused}
    assert reasons == {
        "health_insurance_number": RefusalReason.NOT_APPROVED_FOR_CONSUMER,
        "permanent_address": RefusalReason.NOT_ALLOWED_FOR_PURPOSE,
        "cccd": RefusalReason.NEVER_DISCLOSED,
    }


def test_lookup_without_a_list_grants_the_intersection() -> None:
    consumer = _consumer(fields=["/full_name", "/permanent_address", "/sex"])
    grant = authorize_consumer(consumer, "syt-his", "health_insurance_check", RESOURCE)
    decision = authorize_lookup(grant, None)
    assert set(decision.granted) == {CitizenField.FULL_NAME, CitizenField.SEX}
    assert decision.refused == ()


def test_whole_record_pointer_approves_what_the_purpose_allows() -> None:
    grant = authorize_consumer(
        _consumer(fields=[""]), "syt-his", "health_insurance_check", RESOURCE
    )
    decision = authorize_lookup(grant, ["health_insurance_number", "permanent_address"])
    assert decision.granted == (CitizenField.HEALTH_INSURANCE_NUMBER,)
    assert [r.field for r in decision.refused] == ["permanent_address"]
