"""What the figures were measured on: machine, CPU, cores, versions, commit, load average."""

from __future__ import annotations

import os
import platform
import re
import subprocess
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


def load_average() -> list[float]:
    """Return the 1, 5 and 15 minute load averages."""
    return [round(x, 2) for x in os.getloadavg()]


def cpu_times() -> tuple[int, int]:
    """Return the machine's CPU time so far as (stolen, all), in clock ticks (/proc/stat).

    On a virtual machine "steal" is the time its virtual CPUs were ready to run while the host
    ran something else: every process here, bench and baseline alike, was stopped meanwhile.
    """
    try:
        fields = Path("/proc/stat").read_text(encoding="ascii").split("\n", 1)[0].split()[1:]
    except OSError:
        return 0, 0
    ticks = [int(x) for x in fields[:8]]
    return (ticks[7] if len(ticks) > 7 else 0), sum(ticks)


def stolen_share(before: tuple[int, int], after: tuple[int, int]) -> float:
    """Return the share of the CPU time between two `cpu_times` that the host took (0..1)."""
    total = after[1] - before[1]
    return round((after[0] - before[0]) / total, 3) if total > 0 else 0.0


def cpu_model(cpuinfo: str | None = None) -> str:
    """Return the CPU's model name (Linux /proc/cpuinfo), or the platform's processor."""
    if cpuinfo is None:
        try:
            cpuinfo = Path("/proc/cpuinfo").read_text(encoding="utf-8")
        except OSError:
            cpuinfo = ""
    found = re.search(r"^model name\s*:\s*(.+)$", cpuinfo, re.M)
    return found.group(1).strip() if found else platform.processor() or "unknown"


def kafka_version() -> str:
    """Return the broker version the dev kit runs (pinned in deploy/kafka/pom.xml)."""
    found = re.search(
        r"<kafka.version>([^<]+)</kafka.version>",
        (ROOT / "deploy/kafka/pom.xml").read_text(encoding="utf-8"),
    )
    return found.group(1) if found else "unknown"


def git_commit() -> str:
    """Return HEAD's commit, with `-dirty` if the work tree has changes."""

    def git(*args: str) -> str:
        return subprocess.run(
            ["git", *args], cwd=ROOT, capture_output=True, text=True, check=False
        ).stdout.strip()

    commit = git("rev-parse", "HEAD") or "unknown"
    return commit + ("-dirty" if git("status", "--porcelain", "--untracked-files=no") else "")


def machine() -> dict[str, Any]:
    """Return the machine and software the run used."""
    return {
        "host": platform.node(),
        "platform": platform.platform(),
        "cpu_model": cpu_model(),
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "aiokafka": version("aiokafka"),
        "kafka": kafka_version(),
        "commit": git_commit(),
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
    }
