"""SQLite store of the simulated national population database.

Everything here is synchronous and blocking (stdlib ``sqlite3``). Async callers run it off the
event loop with ``asyncio.to_thread(store.get, cccd)``; the store therefore gives every thread
its own read-only connection, so concurrent lookups from the default executor are safe.

The database is built once and then only read: ``build_database`` writes to a private file next
to the target (WAL journal, ``synchronous=OFF``, large batches, one transaction per batch) and
renames it into place when complete, so a reader never sees half a population and a crash
leaves the old database intact. A metadata table records what was built (seed, count,
generator and schema versions); building again with the same parameters does nothing.
Do not rebuild a database a running service has open.
"""

import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Self

from lgsp_simulators.national_population.generator import (
    BA_RIA_VUNG_TAU,
    GENERATOR_VERSION,
    generate_batches,
)
from lgsp_vn.admin_units import legacy_communes, legacy_districts, legacy_unit
from lgsp_vn.cccd import is_well_formed
from lgsp_vn.citizen import Address, Citizen

SCHEMA_VERSION = 1
DEFAULT_BATCH_SIZE = 20_000
ProgressCallback = Callable[[int, int], None]

_SCHEMA = """
CREATE TABLE metadata (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE admin_units (
    code TEXT PRIMARY KEY,
    level TEXT NOT NULL CHECK (level IN ('province', 'district', 'commune')),
    name TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE citizens (
    cccd TEXT PRIMARY KEY,
    full_name TEXT NOT NULL,
    sex TEXT NOT NULL,
    date_of_birth TEXT NOT NULL,
    birth_province_code TEXT NOT NULL,
    province_code TEXT NOT NULL,
    district_code TEXT NOT NULL,
    commune_code TEXT,
    electronic_identity TEXT NOT NULL,
    health_insurance_number TEXT
) WITHOUT ROWID;
"""
_INSERT = "INSERT INTO citizens VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
# Unit names live once in admin_units rather than in every one of millions of rows.
_SELECT = """
SELECT c.cccd, c.full_name, c.sex, c.date_of_birth, c.birth_province_code,
       c.province_code, p.name, c.district_code, d.name, c.commune_code, m.name,
       c.electronic_identity, c.health_insurance_number
FROM citizens AS c
JOIN admin_units AS p ON p.code = c.province_code
JOIN admin_units AS d ON d.code = c.district_code
LEFT JOIN admin_units AS m ON m.code = c.commune_code
WHERE c.cccd = ?
"""


@dataclass(frozen=True, slots=True)
class BuildReport:
    """What build_database did: whether it built, for which parameters, and how long it took."""

    path: Path
    seed: int
    count: int
    built: bool
    seconds: float


class CitizenStore:
    """Read-only access to a built population database, one connection per thread."""

    def __init__(self, path: Path) -> None:
        if not path.is_file():
            raise FileNotFoundError(f"no population database at {path}")
        self._uri = f"{path.resolve().as_uri()}?mode=ro"
        self._local = threading.local()
        self._lock = threading.Lock()
        self._connections: list[sqlite3.Connection] = []

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def get(self, cccd: str) -> Citizen | None:
        """Return the citizen with this CCCD number, or None if there is none."""
        if not is_well_formed(cccd):
            return None
        row = self._connection().execute(_SELECT, (cccd,)).fetchone()
        return None if row is None else _citizen_from_row(row)

    def count(self) -> int:
        """Return the number of citizens stored."""
        (total,) = self._connection().execute("SELECT count(*) FROM citizens").fetchone()
        return int(total)

    def metadata(self) -> dict[str, str]:
        """Return the build metadata (seed, count, versions)."""
        rows = self._connection().execute("SELECT key, value FROM metadata").fetchall()
        return {str(k): str(v) for k, v in rows}

    def close(self) -> None:
        """Close every connection the store opened, in any thread."""
        with self._lock:
            for connection in self._connections:
                connection.close()
            self._connections.clear()
        self._local = threading.local()

    def _connection(self) -> sqlite3.Connection:
        connection: sqlite3.Connection | None = getattr(self._local, "connection", None)
        if connection is None:
            # check_same_thread=False only so close() may run in another thread; each
            # connection is otherwise used by the thread that opened it.
            connection = sqlite3.connect(self._uri, uri=True, check_same_thread=False)
            with self._lock:
                self._connections.append(connection)
            self._local.connection = connection
        return connection


def _citizen_from_row(row: tuple[object, ...]) -> Citizen:
    (cccd, name, sex, dob, birth, prov, prov_name, dist, dist_name, comm, comm_name, eid, hi) = row
    return Citizen.model_validate(
        {
            "cccd": cccd,
            "full_name": name,
            "sex": sex,
            "date_of_birth": dob,
            "birth_province_code": birth,
            "permanent_address": Address.model_validate(
                {
                    "province_code": prov,
                    "province_name": prov_name,
                    "district_code": dist,
                    "district_name": dist_name,
                    "commune_code": comm,
                    "commune_name": comm_name,
                }
            ),
            "electronic_identity": eid,
            "health_insurance_number": hi,
        }
    )


def _row(citizen: Citizen) -> tuple[str | None, ...]:
    address = citizen.permanent_address
    return (
        citizen.cccd,
        citizen.full_name,
        citizen.sex.value,
        citizen.date_of_birth.isoformat(),
        citizen.birth_province_code,
        address.province_code,
        address.district_code,
        address.commune_code,
        citizen.electronic_identity.value,
        citizen.health_insurance_number,
    )


def _expected_metadata(seed: int, count: int) -> dict[str, str]:
    return {
        "seed": str(seed),
        "count": str(count),
        "generator_version": str(GENERATOR_VERSION),
        "schema_version": str(SCHEMA_VERSION),
        "complete": "1",
    }


def read_metadata(path: Path) -> dict[str, str] | None:
    """Return a database's build metadata, or None if it is missing or unreadable."""
    if not path.is_file():
        return None
    try:
        with CitizenStore(path) as store:
            return store.metadata()
    except sqlite3.DatabaseError:
        return None


def build_database(
    path: Path,
    count: int,
    seed: int,
    progress: ProgressCallback | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
) -> BuildReport:
    """Generate ``count`` citizens for ``seed`` into ``path``, unless it already holds them."""
    if count < 0:
        raise ValueError("count must not be negative")
    started = time.perf_counter()
    if read_metadata(path) == _expected_metadata(seed, count):
        return BuildReport(path, seed, count, built=False, seconds=0.0)
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = path.with_name(f".{path.name}.{os.getpid()}.building")
    _remove_database_files(staging)
    try:
        _load(staging, count, seed, progress, batch_size)
        # A stale journal of the old file must not be replayed into the new one.
        _remove_database_files(path, companions_only=True)
        staging.replace(path)
    finally:
        _remove_database_files(staging)
    return BuildReport(path, seed, count, built=True, seconds=time.perf_counter() - started)


def _load(
    path: Path, count: int, seed: int, progress: ProgressCallback | None, batch_size: int
) -> None:
    connection = sqlite3.connect(path, isolation_level=None)
    try:
        # Durability is pointless while building a file that is renamed in only when complete.
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("PRAGMA synchronous=OFF")
        connection.execute("PRAGMA cache_size=-262144")  # 256 MiB keeps the key B-tree hot
        connection.executescript(_SCHEMA)
        _insert_admin_units(connection)
        loaded = 0
        for batch in generate_batches(seed, count, batch_size):
            batch.sort(key=lambda citizen: citizen.cccd)  # fewer B-tree pages touched per batch
            _in_transaction(connection, _INSERT, map(_row, batch))
            loaded += len(batch)
            if progress is not None:
                progress(loaded, count)
        metadata = _expected_metadata(seed, count).items()
        _in_transaction(connection, "INSERT INTO metadata VALUES (?, ?)", metadata)
        # The finished file is read-only from now on: a single self-contained file is simpler
        # to ship and to open read-only than a WAL database with its -wal/-shm companions.
        connection.execute("PRAGMA journal_mode=DELETE")
    finally:
        connection.close()


def _in_transaction(
    connection: sqlite3.Connection, sql: str, rows: Iterable[tuple[str | None, ...]]
) -> None:
    connection.execute("BEGIN")
    try:
        connection.executemany(sql, rows)
    except BaseException:
        connection.execute("ROLLBACK")
        raise
    connection.execute("COMMIT")


def _insert_admin_units(connection: sqlite3.Connection) -> None:
    province = legacy_unit(BA_RIA_VUNG_TAU)
    units: list[tuple[str, str, str]] = [(province.code, "province", province.name)]
    for district in legacy_districts(BA_RIA_VUNG_TAU):
        units.append((district.code, "district", district.name))
        units.extend((c.code, "commune", c.name) for c in legacy_communes(district.code))
    _in_transaction(connection, "INSERT INTO admin_units VALUES (?, ?, ?)", units)


def _remove_database_files(path: Path, *, companions_only: bool = False) -> None:
    for suffix in (
        ("-journal", "-wal", "-shm") if companions_only else ("", "-journal", "-wal", "-shm")
    ):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
