"""`lgsp population ...`: the simulated national population database, for developers and demos."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import httpx
import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

population = typer.Typer(
    help="Simulated national population database (CSDL quốc gia về dân cư, mô phỏng).",
    no_args_is_help=True,
)

DbPath = Annotated[
    Path | None,
    typer.Option("--path", help="SQLite file (default: var/population/citizens.sqlite)."),
]
UpstreamUrl = Annotated[str, typer.Option(help="Base URL of the running upstream.")]


def _db_path(path: Path | None) -> Path:
    # Imported here: the CLI must start without the population adapter's package.
    from lgsp_simulators.national_population.settings import default_db_path  # noqa: PLC0415

    return path or default_db_path()


@population.command("build-db")
def build_db(
    count: Annotated[int, typer.Option(min=0, help="How many citizens.")] = 100_000,
    seed: Annotated[int, typer.Option(help="Seed of the synthetic population.")] = 6,
    path: DbPath = None,
) -> None:
    """Generate the synthetic population into SQLite (nothing to do if already built so)."""
    from lgsp_simulators.national_population.store import build_database  # noqa: PLC0415

    target = _db_path(path)
    columns = (
        TextColumn("[bold]citizens"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, transient=True) as progress:
        task = progress.add_task("build", total=count)
        report = build_database(
            target, count, seed, progress=lambda done, _: progress.update(task, completed=done)
        )
    if report.built:
        rate = count / report.seconds if report.seconds else float("inf")
        typer.echo(f"Built {count:,} citizens in {report.seconds:.1f}s ({rate:,.0f}/s): {target}")
    else:
        typer.echo(f"Already built ({count:,} citizens, seed {seed}): {target}")


@population.command("upstream")
def upstream(
    path: DbPath = None,
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8093,
    latency_ms: Annotated[float, typer.Option(min=0, help="Latency added per read.")] = 0.0,
    failure_rate: Annotated[float, typer.Option(min=0, max=1, help="Share answered 503.")] = 0.0,
) -> None:
    """Serve the simulated database over HTTP until Ctrl-C (builds it first if missing)."""
    os.environ["POPULATION_UPSTREAM_DB_PATH"] = str(_db_path(path))
    os.environ["POPULATION_UPSTREAM_PORT"] = str(port)
    os.environ["POPULATION_UPSTREAM_LATENCY_MS"] = str(latency_ms)
    os.environ["POPULATION_UPSTREAM_FAILURE_RATE"] = str(failure_rate)
    from lgsp_simulators.national_population.app import run  # noqa: PLC0415

    run()


@population.command("faults")
def faults(
    url: UpstreamUrl = "http://127.0.0.1:8093",
    latency_ms: Annotated[float, typer.Option(min=0, help="Latency added per read.")] = 0.0,
    jitter_ms: Annotated[float, typer.Option(min=0, help="Uniform extra latency.")] = 0.0,
    failure_rate: Annotated[float, typer.Option(min=0, max=1, help="Share answered 503.")] = 0.0,
) -> None:
    """Change a running upstream's injected latency and failure rate (no option: no fault)."""
    body = {"latency_ms": latency_ms, "latency_jitter_ms": jitter_ms, "failure_rate": failure_rate}
    try:
        response = httpx.post(f"{url}/_faults", json=body, timeout=5.0)
        response.raise_for_status()
    except httpx.HTTPError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from exc
    typer.echo(response.text)
