"""Deliberately broken events: each breaks its topic's contract in one known way.

The gateway must refuse them (422) and put a copy on `lgsp.dlq` naming the failing field and
the JSON Schema keyword (the `rule`). Each mutation knows that rule and pointer, so the ground
truth can say, for every broken event, which reason the DLQ record must carry.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from lgsp_simulators.departments.drafts import Broken, Draft

Payload = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Mutation:
    """One way to break a payload."""

    name: str
    rule: str
    pointer: str
    apply: Callable[[Payload], Payload]
    when: Callable[[Payload], bool] = lambda payload: True


def _set(field: str, value: Any) -> Callable[[Payload], Payload]:
    return lambda payload: {**payload, field: value}


def _drop(field: str) -> Callable[[Payload], Payload]:
    return lambda payload: {k: v for k, v in payload.items() if k != field}


def _no_offset(field: str) -> Callable[[Payload], Payload]:
    return lambda payload: {**payload, field: str(payload[field])[:19]}


def _returned(payload: Payload) -> bool:
    return payload.get("status") == "returned"


COMMON = (
    Mutation("unknown-field", "additionalProperties", "/ghi_chu", _set("ghi_chu", "nhập tay")),
    Mutation("district-missing", "required", "/district_code", _drop("district_code")),
    Mutation("district-two-digits", "pattern", "/district_code", _set("district_code", "74")),
)
BY_TOPIC: dict[str, tuple[Mutation, ...]] = {
    "finance.budget-revenue.v1": (
        Mutation("category-land-use", "enum", "/category", _set("category", "land_use")),
        Mutation("amount-fraction", "type", "/amount_vnd", _set("amount_vnd", 1250000.5)),
        Mutation("date-dd-mm-yyyy", "format", "/report_date", _set("report_date", "22/11/2026")),
        Mutation("retained-negative", "minimum", "/locally_retained_vnd",
                 _set("locally_retained_vnd", -1)),
    ),
    "finance.investment-spending.v1": (
        Mutation("funding-private", "enum", "/funding_source", _set("funding_source", "private")),
        Mutation("project-lower-case", "pattern", "/project_code",
                 _set("project_code", "da-gt-747")),
        Mutation("disbursed-negative", "minimum", "/disbursed_vnd", _set("disbursed_vnd", -5)),
    ),
    "health.medical-visit.v1": (
        Mutation("identification-passport", "enum", "/identification",
                 _set("identification", "passport")),
        Mutation("telemedicine-text", "type", "/telemedicine", _set("telemedicine", "yes")),
        Mutation("visit-time-no-offset", "format", "/visit_time", _no_offset("visit_time")),
        Mutation("facility-letter", "pattern", "/facility_code", _set("facility_code", "7700A")),
        Mutation("patient-name", "additionalProperties", "/patient_name",
                 _set("patient_name", "Nguyễn Văn A")),
    ),
    "tourism.accommodation-report.v1": (
        Mutation("establishment-three-digits", "pattern", "/establishment_id",
                 _set("establishment_id", "LT-117")),
        Mutation("period-month-13", "pattern", "/period", _set("period", "2026-13")),
        Mutation("nights-fraction", "type", "/guest_nights", _set("guest_nights", 10.5)),
        Mutation("type-motel", "enum", "/establishment_type", _set("establishment_type", "motel")),
        Mutation("rooms-sold-negative", "minimum", "/rooms_sold", _set("rooms_sold", -3)),
    ),
    "tthc.dossier.v1": (
        Mutation("channel-email", "enum", "/channel", _set("channel", "email")),
        Mutation("level-ward", "enum", "/level", _set("level", "ward")),
        Mutation("paid-online-missing", "required", "/paid_online", _drop("paid_online")),
        Mutation("returned-without-date", "required", "/returned_at", _drop("returned_at"),
                 when=_returned),
    ),
}  # fmt: skip


def mutations(topic: str) -> tuple[Mutation, ...]:
    """Return every way the simulator breaks an event of a topic."""
    return COMMON + BY_TOPIC.get(topic, ())


def break_draft(draft: Draft, rng: random.Random) -> Draft:
    """Return the draft broken by one applicable mutation (no identity check is made for it)."""
    usable = [m for m in mutations(draft.topic) if m.when(draft.payload)]
    chosen = rng.choice(usable)
    broken = Broken(chosen.name, chosen.rule, chosen.pointer)
    return replace(draft, payload=chosen.apply(draft.payload), identity=None, broken=broken)
