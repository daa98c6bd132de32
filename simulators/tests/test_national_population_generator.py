"""The synthetic population: determinism, internal consistency, uniqueness and realism."""

import itertools
import re
from collections import Counter
from datetime import date

import pytest

from lgsp_simulators.national_population import vietnamese_names as names
from lgsp_simulators.national_population.generator import (
    ELECTRONIC_IDENTITY_SHARE,
    CitizenGenerator,
    generate_batches,
    generate_citizens,
    permute,
)
from lgsp_vn.admin_units import legacy_communes, legacy_districts
from lgsp_vn.cccd import validate_cccd
from lgsp_vn.cccd_provinces import CCCD_PROVINCE_CODES
from lgsp_vn.citizen import HEALTH_INSURANCE_PATTERN, Citizen, ElectronicIdentity

SAMPLE_SIZE = 10_000
# district code -> commune code -> commune name
COMMUNES = {
    d.code: {c.code: c.name for c in legacy_communes(d.code)} for d in legacy_districts("77")
}


@pytest.fixture(scope="module")
def sample() -> list[Citizen]:
    return list(generate_citizens(seed=2024, count=SAMPLE_SIZE))


def dumps(citizens: list[Citizen]) -> list[dict[str, object]]:
    return [c.model_dump(mode="json") for c in citizens]


def test_same_seed_gives_the_same_citizens() -> None:
    assert dumps(list(generate_citizens(7, 300))) == dumps(list(generate_citizens(7, 300)))


def test_the_first_n_do_not_depend_on_how_many_are_asked_for() -> None:
    assert dumps(list(generate_citizens(7, 100))) == dumps(list(generate_citizens(7, 400))[:100])


def test_different_seeds_give_different_citizens() -> None:
    first = dumps(list(generate_citizens(7, 50)))
    other = dumps(list(generate_citizens(8, 50)))
    assert not any(a == b for a, b in zip(first, other, strict=True))
    assert {c["cccd"] for c in first} != {c["cccd"] for c in other}


def test_batches_cover_the_stream_in_order() -> None:
    batches = list(generate_batches(11, 25, batch_size=10))
    assert [len(b) for b in batches] == [10, 10, 5]
    assert dumps(list(itertools.chain.from_iterable(batches))) == dumps(
        list(generate_citizens(11, 25))
    )
    assert list(generate_batches(11, 0)) == []
    with pytest.raises(ValueError, match="batch_size"):
        list(generate_batches(11, 5, batch_size=0))


def test_the_stream_is_lazy() -> None:
    stream = CitizenGenerator(3)
    assert next(stream).cccd != next(stream).cccd


def test_every_cccd_validates_against_its_own_birth_date_and_sex(sample: list[Citizen]) -> None:
    for citizen in sample:
        assert validate_cccd(citizen.cccd, citizen.date_of_birth, citizen.sex) == []
        assert citizen.cccd[:3] == citizen.birth_province_code
        assert citizen.birth_province_code in CCCD_PROVINCE_CODES


def test_identifiers_are_unique(sample: list[Citizen]) -> None:
    assert len({c.cccd for c in sample}) == SAMPLE_SIZE
    insured = [c.health_insurance_number for c in sample if c.health_insurance_number]
    assert len(set(insured)) == len(insured)


def test_health_insurance_numbers_have_the_card_format(sample: list[Citizen]) -> None:
    insured = [c for c in sample if c.health_insurance_number]
    assert 0.88 < len(insured) / SAMPLE_SIZE < 0.96
    for citizen in insured:
        number = citizen.health_insurance_number
        assert number is not None
        assert re.fullmatch(HEALTH_INSURANCE_PATTERN, number)
        if (date(2024, 12, 31) - citizen.date_of_birth).days < 5 * 365:
            assert number.startswith("TE1")  # young children are insured as "trẻ em"


def test_addresses_are_real_units_of_ba_ria_vung_tau(sample: list[Citizen]) -> None:
    districts: Counter[str] = Counter()
    for citizen in sample:
        address = citizen.permanent_address
        assert (address.province_code, address.province_name) == ("77", "Tỉnh Bà Rịa - Vũng Tàu")
        communes = COMMUNES[address.district_code]
        if communes:
            assert address.commune_code is not None
            assert communes[address.commune_code] == address.commune_name
        else:
            assert address.commune_code is None
        districts[address.district_code] += 1
    assert set(districts) == set(COMMUNES)
    assert districts.most_common(1)[0][0] == "747"  # Vũng Tàu city is the most populous


def test_birth_dates_span_1930_to_2024(sample: list[Citizen]) -> None:
    years = [c.date_of_birth.year for c in sample]
    assert min(years) >= 1930
    assert max(years) <= 2024
    assert min(years) < 1945
    assert max(years) > 2020


def test_most_were_born_in_the_province(sample: list[Citizen]) -> None:
    shares = Counter(c.birth_province_code for c in sample)
    assert 0.68 < shares["077"] / SAMPLE_SIZE < 0.76
    assert len(shares) > 30


def test_surnames_follow_vietnamese_frequencies(sample: list[Citizen]) -> None:
    surnames = Counter(c.full_name.split(" ")[0] for c in sample)
    assert 0.36 < surnames["Nguyễn"] / SAMPLE_SIZE < 0.41
    assert [s for s, _ in surnames.most_common(3)] == ["Nguyễn", "Trần", "Lê"]
    assert set(surnames) <= {s for s, _ in names.SURNAMES}


def test_names_have_sex_appropriate_parts(sample: list[Citizen]) -> None:
    for citizen in sample:
        parts = citizen.full_name.split(" ")
        assert len(parts) >= 3
        given_pool = (
            names.GIVEN_NAMES_FEMALE if citizen.sex.value == "female" else names.GIVEN_NAMES_MALE
        )
        assert parts[-1] in given_pool
        assert "Thị" not in parts or citizen.sex.value == "female"
        assert "Văn" not in parts[1:-1] or citizen.sex.value == "male"


def test_sexes_are_balanced(sample: list[Citizen]) -> None:
    females = sum(c.sex.value == "female" for c in sample)
    assert 0.47 < females / SAMPLE_SIZE < 0.53


def test_electronic_identity_share_matches_the_province_figure(sample: list[Citizen]) -> None:
    levels = Counter(c.electronic_identity for c in sample)
    share = 1 - levels[ElectronicIdentity.NONE] / SAMPLE_SIZE
    assert abs(share - ELECTRONIC_IDENTITY_SHARE) < 0.015
    assert levels[ElectronicIdentity.VNEID_LEVEL_2] > levels[ElectronicIdentity.VNEID_LEVEL_1] > 0
    for citizen in sample:
        if citizen.date_of_birth > date(2011, 1, 1):
            assert citizen.electronic_identity is ElectronicIdentity.NONE


@pytest.mark.parametrize("domain", [1, 2, 999, 1000, 4096, 5000])
def test_permute_is_a_bijection(domain: int) -> None:
    images = [permute(i, key=12345, domain=domain) for i in range(domain)]
    assert sorted(images) == list(range(domain))


def test_permute_depends_on_the_key_and_rejects_out_of_range() -> None:
    assert [permute(i, 1, 1000) for i in range(20)] != [permute(i, 2, 1000) for i in range(20)]
    with pytest.raises(ValueError, match="domain"):
        permute(1000, 1, 1000)
