"""`LocalPostgres.restart`: the server stops (every session ended) and serves again on the same
data directory, so what was committed before is still there (the multi-host suite's fault)."""

from __future__ import annotations

import subprocess

from lgsp_devkit.postgres_local import SUPERUSER, LocalPostgres


def psql(server: LocalPostgres, database: str, sql: str) -> str:
    """Run one statement with Debian's psql; return its unaligned output."""
    command = [str(server.bin_dir / "psql"), "-h", server.host, "-p", str(server.port),
               "-U", SUPERUSER, "-d", database, "-Atc", sql]  # fmt: skip
    return subprocess.run(command, capture_output=True, text=True, check=True).stdout.strip()


def test_restart_keeps_the_data_and_serves_again() -> None:
    server = LocalPostgres()
    server.start()
    try:
        server.create_database("kept")
        psql(server, "kept", "CREATE TABLE t (n int); INSERT INTO t VALUES (1), (2)")
        first = server.process
        server.restart()
        assert server.process is not first
        assert first is not None and first.poll() is not None  # the old server ended
        assert psql(server, "kept", "SELECT sum(n) FROM t") == "3"
    finally:
        server.stop()
