"""The SQLite store: round trip, idempotent builds, progress, atomicity and thread use."""

import asyncio
import sqlite3
from pathlib import Path

import pytest

from lgsp_simulators.national_population.generator import generate_citizens
from lgsp_simulators.national_population.store import CitizenStore, build_database, read_metadata

SEED = 99
COUNT = 2_000


@pytest.fixture
def built(tmp_path: Path) -> Path:
    path = tmp_path / "population.db"
    report = build_database(path, COUNT, SEED, batch_size=300)
    assert report.built
    return path


def test_round_trip_returns_the_generated_citizens(built: Path) -> None:
    expected = list(generate_citizens(SEED, COUNT))
    with CitizenStore(built) as store:
        assert store.count() == COUNT
        for citizen in expected:
            assert store.get(citizen.cccd) == citizen
    assert any(c.permanent_address.commune_code is None for c in expected)  # Côn Đảo included


def test_unknown_and_malformed_numbers_find_nobody(built: Path) -> None:
    with CitizenStore(built) as store:
        assert store.get("077085999999") is None
        assert store.get("not-a-number") is None
        assert store.get("") is None
        assert store.get("077085001234' OR '1'='1") is None


def test_metadata_records_the_build(built: Path) -> None:
    assert read_metadata(built) == {
        "seed": str(SEED),
        "count": str(COUNT),
        "generator_version": "2",
        "schema_version": "1",
        "complete": "1",
    }


def test_rebuilding_with_the_same_parameters_is_a_no_op(built: Path) -> None:
    before = built.stat()
    calls: list[tuple[int, int]] = []
    report = build_database(built, COUNT, SEED, progress=lambda d, t: calls.append((d, t)))
    assert not report.built
    assert calls == []
    after = built.stat()
    assert (after.st_ino, after.st_mtime_ns, after.st_size) == (
        before.st_ino,
        before.st_mtime_ns,
        before.st_size,
    )


@pytest.mark.parametrize(("count", "seed"), [(COUNT + 1, SEED), (COUNT, SEED + 1), (10, SEED)])
def test_changed_parameters_rebuild(built: Path, count: int, seed: int) -> None:
    report = build_database(built, count, seed)
    assert report.built
    with CitizenStore(built) as store:
        assert store.count() == count
        assert store.metadata()["seed"] == str(seed)
        first = next(iter(generate_citizens(seed, 1)))
        assert store.get(first.cccd) == first


def test_progress_reports_every_batch(tmp_path: Path) -> None:
    calls: list[tuple[int, int]] = []
    build_database(
        tmp_path / "p.db", 250, 1, progress=lambda d, t: calls.append((d, t)), batch_size=100
    )
    assert calls == [(100, 250), (200, 250), (250, 250)]


def test_a_build_leaves_one_self_contained_file(built: Path) -> None:
    assert sorted(p.name for p in built.parent.iterdir()) == ["population.db"]
    with sqlite3.connect(built) as connection:
        (mode,) = connection.execute("PRAGMA journal_mode").fetchone()
    assert mode == "delete"


def test_an_unreadable_file_is_replaced(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "population.db"
    path.parent.mkdir()
    path.write_bytes(b"not a database at all" * 100)
    assert read_metadata(path) is None
    assert build_database(path, 20, 5).built
    with CitizenStore(path) as store:
        assert store.count() == 20


def test_a_failed_build_keeps_the_previous_database(built: Path) -> None:
    def explode(done: int, total: int) -> None:
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        build_database(built, COUNT + 5, SEED, progress=explode)
    assert read_metadata(built) == {
        "seed": str(SEED),
        "count": str(COUNT),
        "generator_version": "2",
        "schema_version": "1",
        "complete": "1",
    }
    assert sorted(p.name for p in built.parent.iterdir()) == ["population.db"]
    with CitizenStore(built) as store:
        assert store.count() == COUNT


def test_the_store_is_read_only(built: Path) -> None:
    with CitizenStore(built) as store, pytest.raises(sqlite3.OperationalError):
        store._connection().execute("DELETE FROM citizens")


def test_lookups_from_worker_threads(built: Path) -> None:
    citizens = list(generate_citizens(SEED, 200))

    async def look_up_all(store: CitizenStore) -> list[object]:
        return await asyncio.gather(*(asyncio.to_thread(store.get, c.cccd) for c in citizens))

    with CitizenStore(built) as store:
        assert asyncio.run(look_up_all(store)) == citizens


def test_a_missing_database_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        CitizenStore(tmp_path / "absent.db")


def test_negative_count_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="negative"):
        build_database(tmp_path / "x.db", -1, 1)
