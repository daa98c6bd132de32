"""The simulators' subcommands of `lgsp`: `simulate`, `replay` and `population …`."""

from __future__ import annotations

import typer

from lgsp_simulators.cli import replay, simulate
from lgsp_simulators.population_cli import population


def register(app: typer.Typer) -> None:
    """Add the simulators' commands to `lgsp` (entry point of the `lgsp.commands` group)."""
    app.command("simulate")(simulate)
    app.command("replay")(replay)
    app.add_typer(population, name="population")
