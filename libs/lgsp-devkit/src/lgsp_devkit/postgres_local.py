"""A throwaway PostgreSQL on loopback from Debian's binaries, for tests and local runs.

`LocalPostgres` runs `initdb` into a fresh directory and the `postgres` server on a free port
(trust authentication, loopback only: it is a scratch server), then stops it and removes the
directory. PostgreSQL refuses to run as root, so when the caller is root the server runs as the
`postgres` user (or `nobody`), with the directory handed over to that user. The binaries come
from `LGSP_PG_BIN`, else the newest `/usr/lib/postgresql/<version>/bin`.

`host` binds another address than 127.0.0.1, `clients` admits a network besides loopback and
`launch_prefix` wraps the server's command (`ip netns exec NS`): the multi-host harness
(`lgsp_devkit.netns`) runs the server on a test host that way, switching to the service user
inside the namespace (`setpriv`), since entering a namespace needs root.
"""

from __future__ import annotations

import ctypes
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from lgsp_devkit.kafka_local import free_port

SUPERUSER = "lgsp"


class PostgresLocalError(RuntimeError):
    """The local PostgreSQL could not be found, initialised or started."""


def find_bin_dir() -> Path:
    """Return the directory of Debian's PostgreSQL binaries, or explain how to get them."""
    configured = os.environ.get("LGSP_PG_BIN")
    candidates = [Path(configured)] if configured else []
    root = Path("/usr/lib/postgresql")
    if root.is_dir():
        versions = sorted(
            (p for p in root.iterdir() if p.name.isdigit()), key=lambda p: int(p.name)
        )
        candidates += [p / "bin" for p in reversed(versions)]
    for candidate in candidates:
        if (candidate / "initdb").exists() and (candidate / "postgres").exists():
            return candidate
    raise PostgresLocalError(
        "PostgreSQL server binaries not found (looked in $LGSP_PG_BIN and "
        "/usr/lib/postgresql/*/bin); install Debian's package: apt-get install postgresql"
    )


def _run_as(user: pwd.struct_passwd | None) -> Callable[[], None]:
    def prepare() -> None:
        if user is not None:
            os.setgroups([])
            os.setgid(user.pw_gid)
            os.setuid(user.pw_uid)
        # After the user switch (which clears it): the server dies with the process that owns it.
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGTERM)
        os.setsid()

    return prepare


def _service_user() -> pwd.struct_passwd | None:
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        try:
            return pwd.getpwnam(name)
        except KeyError:
            continue
    raise PostgresLocalError("running as root and neither 'postgres' nor 'nobody' exists")


@dataclass
class LocalPostgres:
    """One PostgreSQL server in a temporary directory."""

    port: int = 0
    bin_dir: Path = field(default_factory=find_bin_dir)
    root: Path | None = None
    process: subprocess.Popen[bytes] | None = None
    host: str = "127.0.0.1"  # the address the server listens on
    clients: str | None = None  # a network admitted besides loopback (trust), e.g. a test subnet
    launch_prefix: list[str] = field(default_factory=list)  # words before the server's command
    _launch: tuple[list[str], pwd.struct_passwd | None] | None = None  # command, user to become

    @property
    def base_url(self) -> str:
        """Return the server's SQLAlchemy URL prefix (asyncpg driver), without a database."""
        return f"postgresql+asyncpg://{SUPERUSER}@{self.host}:{self.port}"

    def start(self, timeout_s: float = 60.0) -> str:
        """Initialise and start the server; returns its base URL."""
        user = _service_user()
        self.root = Path(tempfile.mkdtemp(prefix="lgsp-pg-"))
        data = self.root / "data"
        if user is not None:
            os.chown(self.root, user.pw_uid, user.pw_gid)
        self.port = self.port or free_port()
        self._initdb(data, user)
        if self.clients:
            with (data / "pg_hba.conf").open("a") as hba:
                hba.write(f"host all all {self.clients} trust\n")
        command = [
            str(self.bin_dir / "postgres"),
            "-D", str(data),
            "-p", str(self.port),
            "-k", str(self.root),
            "-c", f"listen_addresses={self.host}",
            "-c", "fsync=off",
            "-c", "max_connections=200",
        ]  # fmt: skip
        switch = user
        if self.launch_prefix:  # enter the namespace as root, then become the service user
            if user is not None:
                command = ["setpriv", f"--reuid={user.pw_uid}", f"--regid={user.pw_gid}",
                           "--clear-groups", "--", *command]  # fmt: skip
            command, switch = [*self.launch_prefix, *command], None
        self._launch = (command, switch)
        self._spawn()
        self._wait_ready(timeout_s)
        return self.base_url

    def _spawn(self) -> None:
        assert self._launch is not None, "not started"
        assert self.root is not None, "not started"
        command, switch = self._launch
        self.process = subprocess.Popen(
            command,
            stdout=(self.root / "server.log").open("ab"),
            stderr=subprocess.STDOUT,
            preexec_fn=_run_as(switch),  # noqa: PLW1509
        )

    def restart(self, timeout_s: float = 60.0, down_s: float = 0.0) -> None:
        """Stop the server (fast shutdown: every session ended), leave it down `down_s` seconds
        (an outage), start it again on the same data directory; return once it serves."""
        assert self.process is not None, "not started"
        self.process.send_signal(signal.SIGINT)
        self.process.wait(30)
        time.sleep(down_s)
        self._spawn()
        self._wait_ready(timeout_s)

    def _initdb(self, data: Path, user: pwd.struct_passwd | None) -> None:
        command = [
            str(self.bin_dir / "initdb"),
            "-D", str(data),
            "-U", SUPERUSER,
            "--auth=trust",
            "--encoding=UTF8",
            "--locale=C",
            "--no-sync",
        ]  # fmt: skip
        result = subprocess.run(
            command,
            capture_output=True,
            text=True,
            check=False,
            preexec_fn=_run_as(user),
        )
        if result.returncode != 0:
            raise PostgresLocalError(f"initdb failed: {result.stdout}{result.stderr}")

    def _wait_ready(self, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        ready = [str(self.bin_dir / "pg_isready"), "-h", self.host, "-p", str(self.port)]
        while subprocess.run(ready, capture_output=True, check=False).returncode != 0:
            assert self.process is not None
            assert self.root is not None
            if self.process.poll() is not None or time.monotonic() > deadline:
                tail = (self.root / "server.log").read_text(errors="replace")[-2000:]
                self.stop()
                raise PostgresLocalError(f"PostgreSQL did not start: {tail}")
            time.sleep(0.1)

    def create_database(self, name: str) -> str:
        """Create a database; returns its SQLAlchemy URL."""
        command = [
            str(self.bin_dir / "createdb"),
            "-h", self.host,
            "-p", str(self.port),
            "-U", SUPERUSER,
            name,
        ]  # fmt: skip
        result = subprocess.run(command, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise PostgresLocalError(f"createdb {name} failed: {result.stderr}")
        return f"{self.base_url}/{name}"

    def stop(self) -> None:
        """Stop the server (fast shutdown) and remove its directory."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.root is not None:
            shutil.rmtree(self.root, ignore_errors=True)
            self.root = None
