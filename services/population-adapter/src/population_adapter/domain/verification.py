"""Verification without disclosure: does the stated identity match the record? Yes or no."""

from datetime import date
from enum import StrEnum

from lgsp_vn.citizen import Citizen
from lgsp_vn.names import names_match


class Outcome(StrEnum):
    """Outcome of one verification, as the population.verification.v1 topic names it."""

    MATCH = "match"
    NO_MATCH = "no_match"
    INVALID = "invalid"
    UNAVAILABLE = "unavailable"


def compare_identity(citizen: Citizen | None, full_name: str, date_of_birth: date) -> Outcome:
    """Match only when a record exists with the same name (normalised) and date of birth."""
    # An unknown number answers no_match too, so the answer never tells whether it exists.
    if citizen is None:
        return Outcome.NO_MATCH
    if citizen.date_of_birth != date_of_birth:
        return Outcome.NO_MATCH
    return Outcome.MATCH if names_match(citizen.full_name, full_name) else Outcome.NO_MATCH
