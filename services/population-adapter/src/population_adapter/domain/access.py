"""Who may read what: a registry consumer's approval, purpose and fields, checked per request.

The gateway authenticates a department and tells the adapter which registered consumer is
calling and for which purpose. Access needs all of: the consumer exists in the registry copy, is
approved, reads the population resource, declared this very purpose, and the purpose is in the
catalogue. A lookup then gets only the fields its purpose allows *and* the consumer was approved
for (its JSON Pointers, e.g. "/full_name"; "" approves the whole record the purpose allows).
Messages never echo values the registry does not know: a caller could put anything there.
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from population_adapter.domain.purposes import (
    PURPOSES,
    CitizenField,
    FieldAuthorization,
    FieldRefusal,
    Purpose,
    RefusalReason,
    authorize_fields,
)

APPROVED = "approved"
WHOLE_RECORD = ""


class DenialReason(StrEnum):
    """Stable codes of why a consumer was refused, for answers, metrics and audit."""

    CONSUMER_UNKNOWN = "CONSUMER_UNKNOWN"
    CONSUMER_NOT_APPROVED = "CONSUMER_NOT_APPROVED"
    CONSUMER_OTHER_RESOURCE = "CONSUMER_NOT_FOR_POPULATION"
    PURPOSE_UNKNOWN = "PURPOSE_UNKNOWN"
    PURPOSE_MISMATCH = "PURPOSE_MISMATCH"


class AccessDeniedError(Exception):
    """The consumer may not use the adapter for this purpose."""

    def __init__(self, reason: DenialReason, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


@dataclass(frozen=True, slots=True)
class ConsumerGrant:
    """An approved consumer, the purpose it declared, and the fields it was approved for."""

    consumer_id: str
    organisation_id: str | None
    purpose: Purpose
    pointers: frozenset[str]

    def approves(self, field: CitizenField) -> bool:
        """Tell whether the consumer's approval covers this field."""
        return WHOLE_RECORD in self.pointers or f"/{field.value}" in self.pointers


def authorize_consumer(
    consumer: Mapping[str, Any] | None,
    consumer_id: str,
    declared_purpose: str,
    resource: str | None,
) -> ConsumerGrant:
    """Return the consumer's grant, or raise AccessDeniedError naming the failed rule."""
    if consumer is None:
        raise AccessDeniedError(
            DenialReason.CONSUMER_UNKNOWN, "the calling consumer is not registered"
        )
    status = str(consumer.get("status", ""))
    if status != APPROVED:
        raise AccessDeniedError(
            DenialReason.CONSUMER_NOT_APPROVED,
            f"consumer '{consumer_id}' is not approved (status: {status or 'unknown'})",
        )
    if resource is not None and consumer.get("topic") != resource:
        raise AccessDeniedError(
            DenialReason.CONSUMER_OTHER_RESOURCE,
            f"consumer '{consumer_id}' is registered for another resource, not '{resource}'",
        )
    purpose = _registered_purpose(consumer, consumer_id, declared_purpose)
    fields = consumer.get("fields") or []
    return ConsumerGrant(
        consumer_id=consumer_id,
        organisation_id=_optional_text(consumer.get("organisation_id")),
        purpose=purpose,
        pointers=frozenset(str(f) for f in fields),
    )


def _registered_purpose(
    consumer: Mapping[str, Any], consumer_id: str, declared_purpose: str
) -> Purpose:
    registered = str(consumer.get("purpose", ""))
    purpose = PURPOSES.get(registered)
    if purpose is None:
        raise AccessDeniedError(
            DenialReason.PURPOSE_UNKNOWN,
            f"consumer '{consumer_id}' declared a purpose outside the population catalogue",
        )
    if declared_purpose != registered:
        raise AccessDeniedError(
            DenialReason.PURPOSE_MISMATCH,
            f"consumer '{consumer_id}' is approved for purpose '{registered}' only",
        )
    return purpose


def authorize_lookup(grant: ConsumerGrant, requested: Iterable[str] | None) -> FieldAuthorization:
    """Grant the requested fields the purpose allows and the consumer was approved for."""
    by_purpose = authorize_fields(grant.purpose, requested)
    if requested is None:
        granted = tuple(f for f in by_purpose.granted if grant.approves(f))
        return FieldAuthorization(grant.purpose, granted, ())
    granted_list: list[CitizenField] = []
    refused = list(by_purpose.refused)
    for field in by_purpose.granted:
        if grant.approves(field):
            granted_list.append(field)
        else:
            refused.append(
                FieldRefusal(
                    field.value,
                    RefusalReason.NOT_APPROVED_FOR_CONSUMER,
                    f"consumer '{grant.consumer_id}' was not approved to read "
                    f"'{field.value}' (approve it in the registry first)",
                )
            )
    return FieldAuthorization(grant.purpose, tuple(granted_list), tuple(refused))


def _optional_text(value: object) -> str | None:
    return None if value is None else str(value)
