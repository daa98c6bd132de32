"""Operator and integrator commands: publish, tail a topic, KPIs and source health."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import uuid
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer
from aiokafka import AIOKafkaConsumer
from rich.console import Console
from rich.table import Table

from lgsp_common.envelope import headers_dict

GATEWAY = os.environ.get("LGSP_GATEWAY_URL", "http://127.0.0.1:8080")
COLLECTOR = os.environ.get("IOC_COLLECTOR_URL", "http://127.0.0.1:8082")
STATUS_STYLE = {
    "OK": "green",
    "LATE": "yellow",
    "SILENT": "bold red",
    "met": "green",
    "not_met": "red",
}


def console() -> Console:
    """Return a console sized for the terminal now (COLUMNS is read at each command)."""
    return Console()


def _fail(response: httpx.Response) -> None:
    console().print(f"[red]{response.status_code}[/red] {response.text}")
    raise typer.Exit(1)


def publish(
    topic: Annotated[str, typer.Argument(help="Topic, e.g. tthc.dossier.v1")],
    file: Annotated[Path, typer.Argument(help="A JSON payload, or a JSON array of payloads")],
    key: Annotated[str, typer.Option(envvar="LGSP_API_KEY", help="The source's API key.")],
    event_type: Annotated[str, typer.Option("--type", help="ce-type of the events.")] = "",
    gateway: Annotated[str, typer.Option(help="Gateway URL.")] = GATEWAY,
) -> None:
    """Publish one event, or a batch, through the gateway; print where each was stored."""
    document = json.loads(file.read_text(encoding="utf-8"))
    kind = event_type or f"vn.gov.lgsp.{topic.rsplit('.', 1)[0]}.published"
    with httpx.Client(base_url=gateway, timeout=30) as http:
        if isinstance(document, list):
            batch = [
                {"specversion": "1.0", "id": str(uuid.uuid4()), "type": kind, "data": d}
                for d in document
            ]
            response = http.post(
                f"/v1/topics/{topic}/batches",
                content=json.dumps(batch),
                headers={"content-type": "application/cloudevents-batch+json", "x-api-key": key},
            )
        else:
            response = http.post(
                f"/v1/topics/{topic}/events",
                json=document,
                headers={"x-api-key": key, "ce-type": kind, "ce-specversion": "1.0"},
            )
    if response.status_code not in (202, 207):
        _fail(response)
    console().print_json(response.text)
    if response.status_code == 207:
        raise typer.Exit(1)


async def _tail(bootstrap: str, topic: str, from_beginning: bool, limit: int) -> None:
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=None,
        auto_offset_reset="earliest" if from_beginning else "latest",
        isolation_level="read_committed",
    )
    await consumer.start()
    shown = 0
    try:
        while limit == 0 or shown < limit:
            for records in (await consumer.getmany(timeout_ms=1000)).values():
                for record in records:
                    headers = headers_dict(record.headers)
                    key = record.key.decode(errors="replace") if record.key else None
                    console().print(
                        f"[dim]{record.partition}:{record.offset}[/dim] key={key} "
                        f"id={headers.get('ce_id', '-')} "
                        f"source={headers.get('ce_source', '-')}"
                    )
                    console().print(
                        record.value.decode(errors="replace")
                        if record.value
                        else "[dim]tombstone[/dim]",
                        highlight=False,
                    )
                    shown += 1
    finally:
        await consumer.stop()


def tail(
    topic: Annotated[str, typer.Argument(help="Topic to follow.")],
    from_beginning: Annotated[bool, typer.Option(help="Start at the oldest record.")] = False,
    limit: Annotated[int, typer.Option(help="Stop after this many records (0: follow).")] = 0,
) -> None:
    """Print a topic's records as they arrive (Ctrl-C stops)."""
    bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092")
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_tail(bootstrap, topic, from_beginning, limit))


def _get(collector: str, path: str) -> Any:
    try:
        response = httpx.get(collector + path, timeout=10)
    except httpx.TransportError as exc:
        console().print(f"[red]collector unreachable at {collector}: {exc}[/red]")
        raise typer.Exit(1) from exc
    if response.status_code != 200:
        _fail(response)
    return response.json()


def kpis(collector: Annotated[str, typer.Option(help="Collector URL.")] = COLLECTOR) -> None:
    """Show every KPI's current value against its target (Chỉ tiêu / KPIs)."""
    table = Table("KPI", "Chỉ tiêu (vi)", "window", "value", "target", "status")
    for tile in _get(collector, "/v1/kpis")["kpis"]:
        current, target = tile["current"], tile["target"]
        value = "-" if current["value"] is None else f"{current['value']:,.2f} {tile['unit']}"
        goal = (
            "-"
            if not target
            else f"{'≥' if target['direction'] == 'gte' else '≤'} {target['value']:,}"
        )
        style = STATUS_STYLE.get(current["status"], "")
        table.add_row(
            tile["id"],
            tile["title_vi"],
            tile["window"],
            value,
            goal,
            f"[{style}]{current['status']}[/]" if style else current["status"],
        )
    console().print(table)


def sources(collector: Annotated[str, typer.Option(help="Collector URL.")] = COLLECTOR) -> None:
    """Show every source's freshness, volume, rejections and lag (Nguồn dữ liệu / sources)."""
    table = Table("source", "topic", "status", "last event", "events/min", "rejected", "lag")
    for item in _get(collector, "/v1/sources/health")["sources"]:
        style = STATUS_STYLE.get(item["status"], "")
        lag = (
            "-"
            if item["lag_records"] is None
            else f"{item['lag_records']} ({item['lag_seconds'] or 0:.1f}s)"
        )
        table.add_row(
            item["id"],
            item["topic"] or "-",
            f"[{style}]{item['status']}[/]",
            str(item["last_event_at"] or "-"),
            f"{item['events_per_minute']:.1f}",
            str(item["rejected"]),
            lag,
        )
    console().print(table)
