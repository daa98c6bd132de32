"""Health (Sở Y tế): medical visits at clinics, the chip CCCD read at the counter.

Every clinic contracted with Social Insurance accepts the chip CCCD instead of the insurance
card (Project 06, DOMAIN.md). A share of those visits is verified through the LGSP gateway
against the national population database: the citizens come from the same generator and seed
as the simulated database, so a verification matches unless the clinic typed the name wrong.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, datetime

from lgsp_simulators.departments.drafts import Draft, Identity, before, iso, pick, pick_district
from lgsp_simulators.scenario import HealthMix, PopulationLink

TOPIC = "health.medical-visit.v1"
EVENT_TYPE = "vn.gov.lgsp.health.medical-visit.recorded"
CHIP_CARD_AGE = 14  # the age a chip CCCD is issued


@dataclass(frozen=True, slots=True)
class Citizen:
    """What a clinic reads from a chip CCCD."""

    cccd: str
    full_name: str
    date_of_birth: date


def citizen_pool(link: PopulationLink, today: date) -> list[Citizen]:
    """Return the adults among the first citizens of the simulated national database."""
    # Imported here: only the health simulator needs the population adapter's generator.
    from lgsp_simulators.national_population.generator import generate_citizens  # noqa: PLC0415

    limit = min(link.pool, link.count)
    pool = []
    for citizen in generate_citizens(link.seed, limit):
        born = citizen.date_of_birth
        age = today.year - born.year - ((today.month, today.day) < (born.month, born.day))
        if age >= CHIP_CARD_AGE:
            pool.append(Citizen(citizen.cccd, citizen.full_name, born))
    if not pool:
        raise ValueError("the population pool holds no adult citizen")
    return pool


def facilities(rng: random.Random, count: int) -> list[tuple[str, str]]:
    """Return (5-digit insurance facility code, district code) of the province's clinics."""
    return [(f"77{n:03d}", pick_district(rng)) for n in range(1, count + 1)]


class HealthSim:
    """The Health Department's hospital information systems."""

    name = "health"

    def __init__(
        self, mix: HealthMix, link: PopulationLink, rng: random.Random, run_tag: str
    ) -> None:
        self._mix = mix
        self._link = link
        self._rng = rng
        self._tag = run_tag
        self._facilities = facilities(random.Random(rng.random()), mix.facilities)
        self._pool: list[Citizen] | None = None
        self._sequence = 0

    def next_draft(self, now: datetime) -> Draft:
        """Return the next medical visit (with an identity to verify for some chip visits)."""
        rng, mix = self._rng, self._mix
        self._sequence += 1
        facility, district = rng.choice(self._facilities)
        started = before(now, rng, mix.max_age_s)
        identification = pick(rng, mix.identification)
        telemedicine = rng.random() < mix.telemedicine_share
        payload = {
            "visit_id": f"KCB-{facility}-{started:%Y%m%d}-{self._tag}{self._sequence:06d}",
            "facility_code": facility,
            "district_code": district,
            "visit_time": iso(started),
            "identification": identification,
            "telemedicine": telemedicine,
            "e_prescription": rng.random() < mix.e_prescription_share,
            "payment": pick(rng, mix.payment),
        }
        identity = None
        if identification == "cccd_chip" and rng.random() < mix.verify_share:
            identity = self._identity(started.date())
        return Draft(self.name, TOPIC, EVENT_TYPE, payload, identity=identity)

    def _identity(self, today: date) -> Identity:
        if self._pool is None:
            self._pool = citizen_pool(self._link, today)
        rng, pool = self._rng, self._pool
        citizen = rng.choice(pool)
        name, expected = citizen.full_name, "match"
        if rng.random() < self._mix.no_match_share:
            other = rng.choice(pool).full_name
            if other.casefold() != name.casefold():
                name, expected = other, "no_match"
        return Identity(citizen.cccd, name, citizen.date_of_birth.isoformat(), expected)
