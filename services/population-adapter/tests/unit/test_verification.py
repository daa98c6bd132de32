"""Verification compares the normalised name and the date of birth, never more."""

from __future__ import annotations

import unicodedata
from datetime import timedelta

from lgsp_simulators.national_population.generator import generate_citizens
from population_adapter.domain.verification import Outcome, compare_identity

CITIZEN = next(iter(generate_citizens(6, 1)))


def test_same_identity_matches_in_any_normal_form_and_case() -> None:
    nfd = unicodedata.normalize("NFD", f"  {CITIZEN.full_name.upper()} ")
    assert compare_identity(CITIZEN, nfd, CITIZEN.date_of_birth) is Outcome.MATCH


def test_other_name_or_date_does_not_match() -> None:
    assert compare_identity(CITIZEN, "Trần Thị Bé", CITIZEN.date_of_birth) is Outcome.NO_MATCH
    other_day = CITIZEN.date_of_birth + timedelta(days=1)
    assert compare_identity(CITIZEN, CITIZEN.full_name, other_day) is Outcome.NO_MATCH


def test_unknown_citizen_is_no_match() -> None:
    assert compare_identity(None, CITIZEN.full_name, CITIZEN.date_of_birth) is Outcome.NO_MATCH
