"""What `lgsp dev up` adds to the bare services to make the provincial demo run by itself.

The population database is built once (progress shown), the registry is seeded with the
departments and contracts of `contracts/`, and the simulated departments are started in the
background at a gentle rate, as a process of their own (`lgsp simulate --quiet`), after they
imported 12 months of history (`--history-months`, `LGSP_DEMO_HISTORY_MONTHS`).
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from lgsp_cli.registry_client import RegistryClient
from lgsp_cli.registry_seed import default_seed_file, seed
from lgsp_common.settings import repo_root

Say = Callable[[str], None]
POPULATION_RESOURCE = "population.citizen.v1"
POPULATION_SOURCE = "/sources/cat-xac-thuc-dan-cu"


def _env_number(name: str, default: float) -> float:
    try:
        return float(os.environ.get(name, default))
    except ValueError:
        return default


@dataclass(frozen=True)
class DemoSettings:
    """The demo's knobs, from the environment (`lgsp dev up` keeps its options few)."""

    rate: float = field(default_factory=lambda: _env_number("LGSP_DEMO_RATE", 5.0))
    citizens: int = field(default_factory=lambda: int(_env_number("LGSP_DEMO_CITIZENS", 100_000)))
    scenario: Path = field(
        default_factory=lambda: Path(
            os.environ.get("LGSP_DEMO_SCENARIO", str(repo_root() / "scenarios" / "default.yaml"))
        )
    )
    seed: int = 6  # the population's seed: the simulators draw their patients from it too
    # Months of history every department imports before the live run (0: none).
    history_months: int = field(
        default_factory=lambda: int(_env_number("LGSP_DEMO_HISTORY_MONTHS", 12))
    )


def build_population(path: Path, count: int, population_seed: int, say: Say) -> None:
    """Build the simulated national population database once, printing progress."""
    from lgsp_simulators.national_population.store import build_database  # noqa: PLC0415

    shown = [-1]

    def progress(done: int, total: int) -> None:
        step = done * 5 // max(total, 1)  # every 20%
        if step > shown[0]:
            shown[0] = step
            say(f"Population: {done:,}/{total:,} citizens")

    started = time.monotonic()
    report = build_database(path, count, population_seed, progress=progress)
    if report.built:
        say(f"Population: {count:,} citizens built in {time.monotonic() - started:.1f}s ({path})")
    else:
        say(f"Population: {count:,} citizens already built ({path})")


def operator_token(var_dir: Path, timeout_s: float = 30.0) -> str | None:
    """Return the operator token the registry generated (or LGSP_REGISTRY_OPERATOR_TOKEN)."""
    given = os.environ.get("LGSP_REGISTRY_OPERATOR_TOKEN")
    if given:
        return given
    path = var_dir / "registry" / "operator-token"
    deadline = time.monotonic() + timeout_s
    while not path.is_file() and time.monotonic() < deadline:
        time.sleep(0.1)
    return path.read_text(encoding="utf-8").strip() if path.is_file() else None


def seed_registry(url: str, var_dir: Path, say: Say) -> None:
    """Register the departments, sources and contracts of contracts/ (idempotent)."""
    client = RegistryClient(url=url, token=operator_token(var_dir))
    tally = seed(client, repo_root() / "contracts", default_seed_file())
    say("Registry: " + ", ".join(f"{what} {count}" for what, count in sorted(tally.items())))


def simulator_command(
    demo: DemoSettings, gateway: str, registry: str, var_dir: Path, consumers_port: int
) -> list[str]:
    """Return the command running the simulated departments (and consumers) in the background."""
    token_file = var_dir / "registry" / "operator-token"
    return [
        sys.executable, "-m", "lgsp_cli.main", "simulate", "--quiet",
        "--scenario", str(demo.scenario), "--rate", f"{demo.rate:g}",
        "--gateway", gateway, "--registry", registry, "--token-file", str(token_file),
        "--citizens", str(demo.citizens), "--consumers-port", str(consumers_port),
        "--ground-truth", str(var_dir / "simulate" / "ground-truth.json"),
        "--history-months", str(demo.history_months),
    ]  # fmt: skip
