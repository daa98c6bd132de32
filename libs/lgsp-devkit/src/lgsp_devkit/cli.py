"""`lgsp dev …`: a local Kafka, the whole platform on this machine, the OpenAPI documents."""

from __future__ import annotations

import asyncio
import logging
import signal
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer

from lgsp_devkit.kafka_control import partition_leaders, serve_requests, submit
from lgsp_devkit.kafka_local import ACTIONS, KafkaLocalError, LocalKafka, fetch_jars
from lgsp_devkit.openapi_gen import write_openapi
from lgsp_devkit.platform import Platform

dev = typer.Typer(help="Run Kafka or the whole platform on this machine.", no_args_is_help=True)
dev.command("openapi")(write_openapi)

VarDir = Annotated[Path, typer.Option(help="Where local data and logs live.")]


def register(app: typer.Typer) -> None:
    """Add `lgsp dev` to the `lgsp` command (entry point of the `lgsp.commands` group)."""
    app.add_typer(dev, name="dev")


def _wait_for_signal(tick: Callable[[], None] | None = None) -> None:
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    while not stop.is_set():
        stop.wait(0.2 if tick else 0.5)
        if tick is not None:
            tick()


@dev.command("fetch-kafka")
def fetch_kafka() -> None:
    """Download the pinned Kafka broker's jars with Maven (once; later runs reuse them)."""
    started = time.monotonic()
    try:
        path = fetch_jars(quiet=False)
    except KafkaLocalError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from exc
    typer.echo(f"Kafka jars in {path} ({time.monotonic() - started:.1f}s)")


@dev.command("kafka")
def kafka(
    port: Annotated[
        int, typer.Option(help="Client port of the first broker (0: free port).")
    ] = 9092,
    brokers: Annotated[int, typer.Option(min=1, max=3, help="1, or 3 for replication.")] = 1,
    var_dir: VarDir = Path("var"),
) -> None:
    """Run a local Kafka (KRaft) until Ctrl-C.

    With --brokers 3, `lgsp dev kafka-node ACTION N` (same --var-dir) stops, kills, pauses,
    resumes or restarts node N while this runs.
    """
    ports = [] if port == 0 else [port + i for i in range(brokers)]
    cluster_dir = var_dir / f"kafka-{brokers}"
    cluster = LocalKafka(cluster_dir, brokers=brokers, ports=ports)
    try:
        bootstrap = cluster.start()
    except KafkaLocalError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from exc
    (cluster_dir / "bootstrap").write_text(bootstrap)
    typer.echo(f"Kafka ready: KAFKA_BOOTSTRAP_SERVERS={bootstrap}  (Ctrl-C stops it)")

    def serve() -> None:
        for message in serve_requests(cluster, cluster_dir):
            typer.echo(message)

    try:
        _wait_for_signal(serve)
    finally:
        cluster.stop()
        typer.echo("Kafka stopped")


@dev.command("kafka-node")
def kafka_node(
    action: Annotated[str, typer.Argument(help=f"{', '.join(ACTIONS)} or leaders.")],
    node: Annotated[int, typer.Argument(help="Node id (1-3); ignored by leaders.")] = 1,
    topic: Annotated[str, typer.Option(help="Topic whose partition leaders to list.")] = (
        "lgsp.audit"
    ),
    brokers: Annotated[int, typer.Option(help="Broker count of the running cluster.")] = 3,
    var_dir: VarDir = Path("var"),
) -> None:
    """Stop (SIGTERM), kill (SIGKILL), pause (SIGSTOP), resume (SIGCONT) or restart one node of
    a running `lgsp dev kafka`, or list which node leads each partition of --topic."""
    cluster_dir = var_dir / f"kafka-{brokers}"
    try:
        if action == "leaders":
            servers = (cluster_dir / "bootstrap").read_text().strip()
            for partition, leader in asyncio.run(partition_leaders(servers, topic)).items():
                typer.echo(f"{topic}[{partition}] leader: node {leader}")
            return
        if action not in ACTIONS:
            raise KafkaLocalError(f"unknown action {action!r} (one of {', '.join(ACTIONS)})")
        typer.echo(submit(cluster_dir, action, node))
    except (KafkaLocalError, OSError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from exc


@dev.command("up")
def up(
    var_dir: VarDir = Path("var"),
    kafka_port: Annotated[int, typer.Option(help="Port of the local broker.")] = 9092,
    port_offset: Annotated[int, typer.Option(help="Added to every service's port.")] = 0,
) -> None:
    """Run Kafka and the four services until Ctrl-C, printing where each listens."""
    logging.basicConfig(level=logging.WARNING)
    platform = Platform(
        var_dir.resolve(), kafka_port=kafka_port, port_offset=port_offset, say=typer.echo
    )
    try:
        platform.start()
        for service in platform.services:
            typer.echo(f"  {service.spec.name:<20} {service.url}   (log: {service.log_path})")
        typer.echo("Ctrl-C stops everything.")
        _wait_for_signal()
    except (RuntimeError, KafkaLocalError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from exc
    finally:
        typer.echo("Stopping…")
        platform.stop()
        typer.echo("Stopped.")
