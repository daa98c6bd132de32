"""`lgsp simulate` and `lgsp replay`: simulated departments against a running platform."""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)

from lgsp_cli.registry_client import RegistryError
from lgsp_common.settings import repo_root
from lgsp_common.telemetry import setup_tracing
from lgsp_simulators.replay import Replayer, onboard_all, read_stream
from lgsp_simulators.runner import Stats
from lgsp_simulators.scenario import Scenario, ScenarioError, load_scenario
from lgsp_simulators.session import Options, Simulation, Target

GatewayOpt = Annotated[
    str, typer.Option("--gateway", envvar="LGSP_GATEWAY_URL", help="The gateway's base URL.")
]
RegistryOpt = Annotated[
    str, typer.Option("--registry", envvar="LGSP_REGISTRY_URL", help="The registry's base URL.")
]
TokenOpt = Annotated[
    str | None,
    typer.Option(envvar="LGSP_REGISTRY_TOKEN", help="Operator token.", show_default=False),
]
TokenFileOpt = Annotated[
    Path | None, typer.Option(help="File holding the operator token (default: var/registry).")
]


def _token(token: str | None, token_file: Path | None) -> str | None:
    path = token_file or repo_root() / "var" / "registry" / "operator-token"
    if token:
        return token
    return path.read_text(encoding="utf-8").strip() if path.is_file() else None


def _target(gateway: str, registry: str, token: str | None, token_file: Path | None) -> Target:
    return Target(gateway.rstrip("/"), registry.rstrip("/"), _token(token, token_file))


def _summary(stats: Stats, truth_path: Path | None) -> str:
    verified = ", ".join(f"{k} {v}" for k, v in sorted(stats.verified.items())) or "none"
    lines = [
        f"Sent {stats.planned:,} events in {time.monotonic() - stats.started:.1f}s "
        f"({stats.rate():.1f}/s): {stats.accepted:,} accepted, {stats.rejected:,} broken on "
        f"purpose and refused, {stats.refused:,} refused unexpectedly, {stats.failed:,} failed",
        f"Identity verifications: {verified}",
    ]
    if truth_path is not None:
        lines.append(f"Ground truth: {truth_path}")
    return "\n".join(lines)


def _reads(document: dict[str, Any] | None) -> list[str]:
    """One line per consumer department: what it read against what was accepted."""
    rows = (document or {}).get("consumers", {})
    return [f"Reads: {name} ({row['transport']}) {row['distinct']:,}/{row['expected']:,} of "
            f"{row['topic']}, fields {', '.join(row['fields_received']) or 'none'}"
            for name, row in rows.items()]  # fmt: skip


def _columns(total: int | None) -> list[object]:
    columns: list[object] = [SpinnerColumn(), TextColumn("[bold]{task.description}")]
    if total is not None:
        columns += [BarColumn(), MofNCompleteColumn()]
    return [*columns, TextColumn("{task.fields[detail]}"), TimeElapsedColumn()]


async def _run_with_progress(simulation: Simulation, total: int | None, quiet: bool) -> Stats:
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, simulation.stop)
    if quiet:
        last = [time.monotonic()]

        def report(stats: Stats) -> None:
            if time.monotonic() - last[0] >= 30:
                last[0] = time.monotonic()
                print(_summary(stats, None).splitlines()[0], flush=True)

        return await simulation.run(report)
    with Progress(*_columns(total)) as progress:  # type: ignore[arg-type]
        task = progress.add_task("events", total=total, detail="onboarding…")

        def update(stats: Stats) -> None:
            detail = (f"{stats.rate():6.1f}/s · accepted {stats.accepted:,} · refused "
                      f"{stats.rejected + stats.refused:,} · verified "
                      f"{sum(stats.verified.values()):,}")  # fmt: skip
            progress.update(task, completed=stats.planned, detail=detail)

        return await simulation.run(update)


ScenarioOpt = Annotated[Path, typer.Option(help="Scenario YAML file.")]
RateOpt = Annotated[float | None, typer.Option(min=0.01, help="Events per second.")]
EventsOpt = Annotated[int | None, typer.Option(min=0, help="How many (default: until Ctrl-C).")]
TruthOpt = Annotated[Path | None, typer.Option(help="Ground-truth JSON to write.")]
RecordOpt = Annotated[Path | None, typer.Option(help="Also write the events, for replay.")]
SeedOpt = Annotated[int | None, typer.Option(help="Override the scenario's seed.")]
RunIdOpt = Annotated[str | None, typer.Option(help="Run id (event ids derive from it).")]
BatchOpt = Annotated[int | None, typer.Option(min=1, max=1000, help="Events per batch.")]
CitizensOpt = Annotated[int | None, typer.Option(min=1, help="Citizens in the upstream DB.")]
OfflineOpt = Annotated[bool, typer.Option(help="Send nothing: write record and truth only.")]
ConsumersOpt = Annotated[
    int | None,
    typer.Option(
        min=1,
        max=65535,
        help="Also run the consumer departments (Statistics Office by pull, Sở Tư pháp by "
        "webhook); their webhook receiver listens on this loopback port.",
    ),
]
QuietOpt = Annotated[bool, typer.Option(help="No progress bar: a line every 30 s.")]
HistoryOpt = Annotated[
    int,
    typer.Option(
        min=0,
        max=36,
        help="First import this many months of deterministic history (one import run through "
        "the batch endpoint), then run live; 0: none.",
    ),
]


def _scenario(path: Path, seed: int | None, citizens: int | None) -> Scenario:
    try:
        chosen = load_scenario(path if path.exists() else repo_root() / path)
    except ScenarioError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    updates: dict[str, object] = {"seed": seed} if seed is not None else {}
    if citizens is not None:
        updates["population"] = chosen.population.model_copy(update={"count": citizens})
    return chosen.model_copy(update=updates)


def _execute(simulation: Simulation, quiet: bool, finish: Callable[[], object]) -> Stats:
    """Run the simulation, ending cleanly on Ctrl-C; exit 2 when the platform cannot be used."""
    try:
        return asyncio.run(_run_with_progress(simulation, simulation.options.events, quiet))
    except KeyboardInterrupt:
        return simulation.runner.stats if simulation.runner else Stats()
    except (RegistryError, httpx.HTTPError, OSError) as exc:
        message = exc.describe() if isinstance(exc, RegistryError) else str(exc)
        typer.echo(f"error: {message}", err=True)
        raise typer.Exit(2) from exc
    finally:
        finish()


def _truth_path(run_id: str) -> Path:
    return repo_root() / "var" / "simulate" / f"ground-truth-{run_id}.json"


def simulate(
    scenario: ScenarioOpt = Path("scenarios/default.yaml"),
    rate: RateOpt = None,
    events: EventsOpt = None,
    gateway: GatewayOpt = "http://127.0.0.1:8080",
    registry: RegistryOpt = "http://127.0.0.1:8081",
    token: TokenOpt = None,
    token_file: TokenFileOpt = None,
    ground_truth: TruthOpt = None,
    record: RecordOpt = None,
    seed: SeedOpt = None,
    run_id: RunIdOpt = None,
    batch_size: BatchOpt = None,
    citizens: CitizensOpt = None,
    offline: OfflineOpt = False,
    consumers_port: ConsumersOpt = None,
    quiet: QuietOpt = False,
    history_months: HistoryOpt = 0,
) -> None:
    """Run the simulated departments (finance, health, tourism, TTHC) against the platform."""
    chosen = _scenario(scenario, seed, citizens)
    speed = rate or chosen.rate
    options = Options(rate=speed, events=events if events is not None else chosen.events,
                      batch_size=batch_size or chosen.chosen_batch_size(speed), offline=offline,
                      record_path=record, truth_path=ground_truth,
                      consumers_port=consumers_port,
                      history_months=history_months)  # fmt: skip
    provider = setup_tracing("lgsp-simulator")
    target = _target(gateway, registry, token, token_file)
    simulation = Simulation(chosen, target, options, provider.get_tracer("lgsp-simulator"),
                            say=typer.echo)  # fmt: skip
    options.run_id = run_id or options.run_id
    options.truth_path = options.truth_path or _truth_path(options.run_id)
    typer.echo(f"Scenario {chosen.name} (seed {chosen.seed}, run {options.run_id}): "
               f"{speed:g} events/s, batches of {options.batch_size}")  # fmt: skip
    stats = _execute(simulation, quiet, provider.shutdown)
    typer.echo("\n".join([_summary(stats, options.truth_path), *_reads(simulation.document)]))


def replay(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="Recorded stream.")],
    gateway: GatewayOpt = "http://127.0.0.1:8080",
    registry: RegistryOpt = "http://127.0.0.1:8081",
    token: TokenOpt = None,
    token_file: TokenFileOpt = None,
    batch_size: Annotated[int, typer.Option(min=1, max=1000, help="Events per batch.")] = 500,
    concurrency: Annotated[int, typer.Option(min=1, max=64, help="Batches in flight.")] = 8,
    keep_ids: Annotated[bool, typer.Option(help="Keep the recorded event ids.")] = False,
) -> None:
    """Publish a recorded stream as fast as the gateway accepts it; print events per second."""
    target = _target(gateway, registry, token, token_file)

    async def go() -> None:
        onboarded = await asyncio.to_thread(onboard_all, target, lambda _: None)
        limits = httpx.Limits(max_connections=concurrency * 2)
        async with httpx.AsyncClient(
            base_url=target.gateway_url, timeout=60, limits=limits
        ) as http:
            replayer = Replayer(http, onboarded, batch_size=batch_size, concurrency=concurrency,
                                keep_ids=keep_ids)  # fmt: skip
            report = await replayer.run(read_stream(file))
        typer.echo(f"Replayed {report.sent:,} events in {report.seconds:.1f}s: "
                   f"{report.accepted:,} accepted ({report.per_second:,.0f} events/s), "
                   f"{report.refused:,} refused, {report.failed:,} failed")  # fmt: skip

    try:
        asyncio.run(go())
    except (RegistryError, ValueError, httpx.HTTPError) as exc:
        message = exc.describe() if isinstance(exc, RegistryError) else str(exc)
        typer.echo(f"error: {message}", err=True)
        raise typer.Exit(2) from exc
