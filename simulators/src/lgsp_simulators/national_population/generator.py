"""Deterministic generator of realistic synthetic citizens of Bà Rịa - Vũng Tàu.

One seed gives one population: citizen *i* depends only on the seed and *i*, never on how many
are asked for, so the first N of a 5-million run equal a run of N. Citizens are produced lazily
(one at a time or in batches), so a population of any size streams in constant memory.

Realism, and where the numbers come from:
- birth years 1930-2024, weighted by decade after the shape of Vietnam's age pyramid (rounded,
  approximate);
- birth-registration province: Bà Rịa - Vũng Tàu (077) for ~72%, then Hồ Chí Minh, Đồng Nai and
  the north-central provinces many residents migrated from; the rest spread evenly (assumed);
- addresses on the three-tier map the population database still records: the province's 7
  districts and their communes as they stood on 30/6/2025 (official codes and names from the
  published catalogue, ``lgsp_vn.admin_units``), district weighted roughly by population
  (approximate), commune uniform within the district;
- electronic identity: 21.32% of all residents (the province's end-2022 figure), given only to
  those aged 14 or more (the age a chip CCCD, and so VNeID, is issued); 70% of them at level 2
  (assumed split);
- health insurance: ~92% covered (national coverage order of magnitude), beneficiary group by
  age; the 10-digit social-insurance number is synthetic but unique.
CCCD numbers are unique by construction: each (province, century/sex, year) block of one
million serials is walked through a keyed pseudo-random permutation, with no set of issued
numbers kept in memory.
"""

import bisect
import functools
import hashlib
import itertools
import random
from collections.abc import Iterator, Sequence
from datetime import date, timedelta
from typing import TypeVar

from lgsp_simulators.national_population import vietnamese_names as names
from lgsp_vn.admin_units import LegacyUnit, legacy_communes, legacy_districts, legacy_unit
from lgsp_vn.cccd import make_cccd
from lgsp_vn.cccd_provinces import CCCD_PROVINCE_CODES
from lgsp_vn.citizen import Address, Citizen, ElectronicIdentity
from lgsp_vn.sex import Sex

_T = TypeVar("_T")

# Bump when the output for a given seed changes, so stored databases get rebuilt.
GENERATOR_VERSION = 2  # 2: the map of 30/6/2025 from the published catalogue
FIRST_BIRTH_YEAR = 1930
LAST_BIRTH_YEAR = 2024
REFERENCE_DATE = date(2024, 12, 31)
ELECTRONIC_IDENTITY_SHARE = 0.2132
ELECTRONIC_IDENTITY_MIN_AGE = 14
LEVEL_2_SHARE = 0.70
HEALTH_INSURANCE_COVERAGE = 0.92
SERIALS_PER_BLOCK = 1_000_000
SOCIAL_INSURANCE_SERIALS = 100_000_000

# Share (percent) of today's population born in each period: (first year, last year, share).
_BIRTH_COHORTS = (
    (1930, 1939, 0.8),
    (1940, 1949, 2.5),
    (1950, 1959, 6.0),
    (1960, 1969, 10.0),
    (1970, 1979, 13.5),
    (1980, 1989, 16.0),
    (1990, 1999, 16.5),
    (2000, 2009, 14.0),
    (2010, 2019, 15.5),
    (2020, 2024, 5.2),
)
_BIRTH_PROVINCE_WEIGHTS = {
    "077": 720.0,
    "079": 50.0,
    "075": 30.0,
    "038": 20.0,
    "040": 20.0,
    "060": 15.0,
    "042": 15.0,
    "001": 15.0,
    "034": 10.0,
    "036": 10.0,
    "051": 10.0,
    "052": 10.0,
    "049": 10.0,
    "048": 5.0,
    "068": 5.0,
    "074": 5.0,
    "072": 5.0,
    "089": 5.0,
}
BA_RIA_VUNG_TAU = "77"  # the old province code, as the population database records addresses
_DISTRICT_WEIGHTS = {
    "747": 31.0,
    "748": 11.0,
    "750": 14.0,
    "751": 13.0,
    "753": 19.0,  # Long Đất: Long Điền (12) and Đất Đỏ (7), merged early in 2025
    "754": 11.5,
    "755": 0.5,
}
# Health-insurance beneficiary group and benefit level by age band: (group, level, weight).
_InsuranceOptions = tuple[tuple[str, int, float], ...]
_INSURANCE_CHILD: _InsuranceOptions = (("TE", 1, 1.0),)
_INSURANCE_PUPIL: _InsuranceOptions = (("HS", 4, 1.0),)
_INSURANCE_ADULT: _InsuranceOptions = (
    ("DN", 4, 40.0),
    ("GD", 4, 37.0),
    ("HC", 4, 8.0),
    ("HN", 2, 5.0),
    ("CN", 3, 5.0),
)
_INSURANCE_SENIOR: _InsuranceOptions = (
    ("HT", 3, 45.0),
    ("GD", 4, 30.0),
    ("BT", 2, 20.0),
    ("HN", 2, 5.0),
)


def _cumulative(weights: list[float]) -> list[float]:
    return list(itertools.accumulate(weights))


def _year_weights() -> tuple[list[int], list[float]]:
    years: list[int] = []
    weights: list[float] = []
    for first, last, share in _BIRTH_COHORTS:
        span = last - first + 1
        years.extend(range(first, last + 1))
        weights.extend([share / span] * span)
    return years, weights


_YEARS, _YEAR_WEIGHTS = _year_weights()
_YEAR_CUM = _cumulative(_YEAR_WEIGHTS)
_ELIGIBLE_SHARE = sum(
    w
    for y, w in zip(_YEARS, _YEAR_WEIGHTS, strict=True)
    if REFERENCE_DATE.year - y >= ELECTRONIC_IDENTITY_MIN_AGE
) / sum(_YEAR_WEIGHTS)
# Raised for the eligible so the share over everyone comes out at the province's figure.
_E_ID_PROBABILITY_IF_ELIGIBLE = ELECTRONIC_IDENTITY_SHARE / _ELIGIBLE_SHARE

_PROVINCE_CODES = sorted(CCCD_PROVINCE_CODES)
_UNLISTED_PROVINCE_WEIGHT = (1000.0 - sum(_BIRTH_PROVINCE_WEIGHTS.values())) / (
    len(_PROVINCE_CODES) - len(_BIRTH_PROVINCE_WEIGHTS)
)
_PROVINCE_CUM = _cumulative(
    [_BIRTH_PROVINCE_WEIGHTS.get(code, _UNLISTED_PROVINCE_WEIGHT) for code in _PROVINCE_CODES]
)
_SURNAMES = [s for s, _ in names.SURNAMES]
_SURNAME_CUM = _cumulative([w for _, w in names.SURNAMES])
_INSURANCE_CHILD_CUM = _cumulative([w for *_, w in _INSURANCE_CHILD])
_INSURANCE_PUPIL_CUM = _cumulative([w for *_, w in _INSURANCE_PUPIL])
_INSURANCE_ADULT_CUM = _cumulative([w for *_, w in _INSURANCE_ADULT])
_INSURANCE_SENIOR_CUM = _cumulative([w for *_, w in _INSURANCE_SENIOR])


@functools.cache
def _districts() -> tuple[tuple[tuple[LegacyUnit, tuple[LegacyUnit, ...]], ...], list[float]]:
    """Return the province's districts with their communes, and the districts' weights."""
    districts = tuple((d, legacy_communes(d.code)) for d in legacy_districts(BA_RIA_VUNG_TAU))
    return districts, _cumulative([_DISTRICT_WEIGHTS[d.code] for d, _ in districts])


def _pick(rng: random.Random, items: Sequence[_T], cum_weights: Sequence[float]) -> _T:
    # random.choices without the per-call list: this runs several times per citizen.
    return items[bisect.bisect(cum_weights, rng.random() * cum_weights[-1])]


def _derive_key(seed: int, label: str) -> int:
    digest = hashlib.blake2b(f"{seed}:{label}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big")


def _mix(value: int, key: int, round_no: int) -> int:
    # A SplitMix64-style finaliser: cheap, and good enough to scatter serials.
    h = (value * 0x9E3779B97F4A7C15 + key + round_no * 0xBF58476D1CE4E5B9) & 0xFFFFFFFFFFFFFFFF
    h = ((h ^ (h >> 31)) * 0x94D049BB133111EB) & 0xFFFFFFFFFFFFFFFF
    return h ^ (h >> 29)


def permute(index: int, key: int, domain: int) -> int:
    """Map index in [0, domain) to a unique pseudo-random value in [0, domain) for this key."""
    if not 0 <= index < domain:
        raise ValueError("index outside the permutation's domain")
    half = ((domain - 1).bit_length() + 1) // 2
    mask = (1 << half) - 1
    value = index
    while True:  # cycle-walking keeps a permutation of [0, 4**half) inside [0, domain)
        left, right = value >> half, value & mask
        for round_no in range(4):
            left, right = right, left ^ (_mix(right, key, round_no) & mask)
        value = (left << half) | right
        if value < domain:
            return value


class CitizenGenerator:
    """An endless, deterministic stream of synthetic citizens for one seed."""

    def __init__(self, seed: int) -> None:
        self._seed = seed
        self._rng = random.Random(seed)
        self._issued = 0
        self._insurance_key = _derive_key(seed, "social-insurance")
        self._blocks: dict[str, tuple[int, int]] = {}  # block -> (next index, key)

    def __iter__(self) -> Iterator[Citizen]:
        return self

    def __next__(self) -> Citizen:
        return self.next_citizen()

    def next_citizen(self) -> Citizen:
        """Generate the next citizen of the stream."""
        rng = self._rng
        sex = Sex.FEMALE if rng.random() < 0.5 else Sex.MALE
        date_of_birth = self._birth_date()
        province = _pick(rng, _PROVINCE_CODES, _PROVINCE_CUM)
        citizen = Citizen(
            cccd=self._cccd(province, sex, date_of_birth.year),
            full_name=self._full_name(sex, date_of_birth.year),
            sex=sex,
            date_of_birth=date_of_birth,
            birth_province_code=province,
            permanent_address=self._address(),
            electronic_identity=self._electronic_identity(date_of_birth),
            health_insurance_number=self._health_insurance(date_of_birth),
        )
        self._issued += 1
        return citizen

    def _birth_date(self) -> date:
        year = _pick(self._rng, _YEARS, _YEAR_CUM)
        days = 366 if (year % 4 == 0 and year % 100 != 0) or year % 400 == 0 else 365
        return date(year, 1, 1) + timedelta(days=self._rng.randrange(days))

    def _cccd(self, province: str, sex: Sex, birth_year: int) -> str:
        block = f"{province}{sex.value}{birth_year}"
        index, key = self._blocks.get(block) or (0, _derive_key(self._seed, block))
        if index >= SERIALS_PER_BLOCK:
            raise RuntimeError("a CCCD serial block is exhausted; lower the population size")
        self._blocks[block] = (index + 1, key)
        return make_cccd(province, sex, birth_year, permute(index, key, SERIALS_PER_BLOCK))

    def _full_name(self, sex: Sex, birth_year: int) -> str:
        rng = self._rng
        surname = _pick(rng, _SURNAMES, _SURNAME_CUM)
        female = sex is Sex.FEMALE
        # "Văn"/"Thị" were near-universal for the old and are rarer for each generation since.
        traditional_share = 0.8 if birth_year < 1975 else 0.5 if birth_year < 2000 else 0.15
        if rng.random() < traditional_share:
            middle = names.TRADITIONAL_MIDDLE_FEMALE if female else names.TRADITIONAL_MIDDLE_MALE
        else:
            pool = names.MIDDLE_NAMES_FEMALE if female else names.MIDDLE_NAMES_MALE
            middle = rng.choice(pool)
            if birth_year >= 2000 and rng.random() < 0.15:
                middle = f"{middle} {rng.choice(pool)}"
        given = rng.choice(names.GIVEN_NAMES_FEMALE if female else names.GIVEN_NAMES_MALE)
        return f"{surname} {middle} {given}"

    def _address(self) -> Address:
        districts, cum_weights = _districts()
        district, communes = _pick(self._rng, districts, cum_weights)
        commune = self._rng.choice(communes) if communes else None
        return Address(
            province_code=BA_RIA_VUNG_TAU,
            province_name=legacy_unit(BA_RIA_VUNG_TAU).name,
            district_code=district.code,
            district_name=district.name,
            commune_code=commune.code if commune else None,
            commune_name=commune.name if commune else None,
        )

    def _electronic_identity(self, date_of_birth: date) -> ElectronicIdentity:
        draw = self._rng.random()
        if _age(date_of_birth) < ELECTRONIC_IDENTITY_MIN_AGE:
            return ElectronicIdentity.NONE
        if draw >= _E_ID_PROBABILITY_IF_ELIGIBLE:
            return ElectronicIdentity.NONE
        if draw < _E_ID_PROBABILITY_IF_ELIGIBLE * LEVEL_2_SHARE:
            return ElectronicIdentity.VNEID_LEVEL_2
        return ElectronicIdentity.VNEID_LEVEL_1

    def _health_insurance(self, date_of_birth: date) -> str | None:
        rng = self._rng
        if rng.random() >= HEALTH_INSURANCE_COVERAGE:
            return None
        options, cum_weights = _insurance_options(_age(date_of_birth))
        group, level, _ = _pick(rng, options, cum_weights)
        serial = permute(self._issued, self._insurance_key, SOCIAL_INSURANCE_SERIALS)
        return f"{group}{level}{BA_RIA_VUNG_TAU}{BA_RIA_VUNG_TAU}{serial:08d}"


def _age(date_of_birth: date) -> int:
    before_birthday = (REFERENCE_DATE.month, REFERENCE_DATE.day) < (
        date_of_birth.month,
        date_of_birth.day,
    )
    return REFERENCE_DATE.year - date_of_birth.year - before_birthday


def _insurance_options(age: int) -> tuple[_InsuranceOptions, list[float]]:
    if age < 6:
        return _INSURANCE_CHILD, _INSURANCE_CHILD_CUM
    if age < 18:
        return _INSURANCE_PUPIL, _INSURANCE_PUPIL_CUM
    if age < 60:
        return _INSURANCE_ADULT, _INSURANCE_ADULT_CUM
    return _INSURANCE_SENIOR, _INSURANCE_SENIOR_CUM


def generate_citizens(seed: int, count: int) -> Iterator[Citizen]:
    """Yield the first ``count`` citizens of the population for ``seed``."""
    return itertools.islice(CitizenGenerator(seed), count)


def generate_batches(seed: int, count: int, batch_size: int = 10_000) -> Iterator[list[Citizen]]:
    """Yield the first ``count`` citizens for ``seed`` in lists of at most ``batch_size``."""
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    stream = generate_citizens(seed, count)
    while batch := list(itertools.islice(stream, batch_size)):
        yield batch
