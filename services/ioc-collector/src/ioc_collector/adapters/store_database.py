"""The state store's database: its tables, the engine for a URL, the migrations run at start.

An embedded SQLite file by default (`sqlite+aiosqlite:///…`, WAL, synchronous=FULL so a
committed batch survives a power cut), PostgreSQL by URL (`postgresql+asyncpg://…`) for
replicas on several machines; the same SQLAlchemy Core code runs on both. Migrations
(`migrations/`, alembic) run at every start; on PostgreSQL a transaction-scoped advisory lock
keeps two replicas from migrating at once, on SQLite the file's write lock does.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

MIGRATIONS = Path(__file__).parent / "migrations"
# Any constant works: it names the lock that keeps two replicas from migrating at once.
_MIGRATION_LOCK = 0x494F4343
IDLE_IN_TRANSACTION_MS = 10_000

metadata = sa.MetaData()


def _key() -> list[sa.Column[Any]]:
    return [
        sa.Column("group_id", sa.String(255), primary_key=True),
        sa.Column("topic", sa.String(255), primary_key=True),
        sa.Column("partition", sa.Integer, primary_key=True),
    ]


heads = sa.Table(
    "partition_state",
    metadata,
    *_key(),
    sa.Column("position", sa.BigInteger, nullable=False),
    sa.Column("revision", sa.BigInteger, nullable=False),
    sa.Column("aggregation", sa.LargeBinary, nullable=False),
    sa.Column("activity", sa.LargeBinary, nullable=False),
    sa.Column("committed_at", sa.String(64), nullable=False),
    sa.Column("committed_by", sa.String(255), nullable=False),
)
windows = sa.Table(
    "partition_windows",
    metadata,
    *_key(),
    sa.Column("path", sa.Text, primary_key=True),
    sa.Column("cells", sa.LargeBinary, nullable=False),
)
id_chunks = sa.Table(
    "partition_ids",
    metadata,
    *_key(),
    sa.Column("path", sa.Text, primary_key=True),
    sa.Column("chunk", sa.Integer, primary_key=True),
    sa.Column("ids", sa.LargeBinary, nullable=False),
)


def sqlite_url(path: Path) -> str:
    """Return the store URL of a SQLite file."""
    return f"sqlite+aiosqlite:///{path}"


def redacted(url: str) -> str:
    """Return a database URL fit for a log line (no password)."""
    return make_url(url).render_as_string(hide_password=True)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    # FULL: a committed batch survives a power cut, not only a process kill.
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.close()


def create_engine(url: str) -> AsyncEngine:
    """Build the async engine for a URL; a SQLite file gets WAL, FULL sync and a busy wait."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(url, connect_args={"timeout": 30})
        sa.event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    # A replica paused in the middle of a commit (a zombie: a stopped VM, a long GC) would
    # hold its partitions' row locks and stall their new owner; the server ends its
    # transaction instead, and the zombie's write then fails as a whole.
    settings = {"idle_in_transaction_session_timeout": str(IDLE_IN_TRANSACTION_MS)}
    return create_async_engine(
        url, pool_pre_ping=True, pool_size=4, max_overflow=4,
        connect_args={"server_settings": {**settings, "application_name": "ioc-collector"}},
    )  # fmt: skip


def _upgrade(connection: Connection) -> None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    command.upgrade(config, "head")


async def migrate(engine: AsyncEngine, attempts: int = 5) -> None:
    """Bring the schema to the newest revision (several replicas may start at once).

    Two SQLite replicas starting together may both find the schema missing; the second one's
    DDL then fails on the tables the first created, and a retry finds them migrated.
    """
    for attempt in range(attempts):
        try:
            async with engine.begin() as conn:
                if conn.dialect.name == "postgresql":
                    lock = sa.text("SELECT pg_advisory_xact_lock(:k)")
                    await conn.execute(lock, {"k": _MIGRATION_LOCK})
                await conn.run_sync(_upgrade)
            return
        except sa.exc.OperationalError:
            if engine.dialect.name != "sqlite" or attempt == attempts - 1:
                raise
            await asyncio.sleep(0.2 * (attempt + 1))
