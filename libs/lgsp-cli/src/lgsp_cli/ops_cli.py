"""Operator and integrator commands: publish, tail a topic, KPIs and source health."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import uuid
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer
from aiokafka import AIOKafkaConsumer, TopicPartition
from rich.console import Console
from rich.table import Table

from lgsp_cli.registry_client import DEFAULT_URL as DEFAULT_REGISTRY
from lgsp_cli.registry_client import RegistryClient, RegistryError
from lgsp_common.envelope import headers_dict
from lgsp_common.settings import repo_root

GATEWAY = os.environ.get("LGSP_GATEWAY_URL", "http://127.0.0.1:8080")
COLLECTOR = os.environ.get("IOC_COLLECTOR_URL", "http://127.0.0.1:8082")
PLACEHOLDER = re.compile(r"\{([a-z][a-z0-9_]*)\}")  # of an x-lgsp eventType template
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


def _contract_event_type(registry: str, token: str | None, topic: str) -> str:
    """Return the latest contract's `eventType` template of a topic, from the registry."""
    client = RegistryClient(url=registry, token=token or None)
    try:
        contract = client.get(f"/v1/subjects/{topic}/versions/latest")
    except RegistryError as exc:
        console().print(f"[red]cannot read the contract of {topic} from the registry[/red]")
        console().print(exc.describe(), highlight=False, markup=False)
        console().print("pass --type to name the event type yourself")
        raise typer.Exit(1) from exc
    extension = (contract.get("schema") or {}).get("x-lgsp") or {}
    template = extension.get("eventType")
    if not isinstance(template, str) or not template:
        console().print(f"[red]the contract of {topic} declares no eventType[/red]; pass --type")
        raise typer.Exit(1)
    return template


def event_type_of(template: str, payload: Any) -> str:
    """Fill the template's `{field}` placeholders from the payload (the contracts' rule)."""
    missing = [
        name
        for name in PLACEHOLDER.findall(template)
        if not isinstance(payload, dict) or payload.get(name) is None
    ]
    if missing:
        raise ValueError(f"the payload has no {', '.join(missing)} for {template!r}")
    return PLACEHOLDER.sub(lambda found: str(payload[found.group(1)]), template)


def _types(template: str, payloads: list[Any]) -> list[str]:
    try:
        return [event_type_of(template, payload) for payload in payloads]
    except ValueError as exc:
        console().print(f"[red]cannot derive the event type:[/red] {exc}; pass --type")
        raise typer.Exit(1) from exc


def publish(
    topic: Annotated[str, typer.Argument(help="Topic, e.g. tthc.dossier.v1")],
    file: Annotated[Path, typer.Argument(help="A JSON payload, or a JSON array of payloads")],
    key: Annotated[str, typer.Option(envvar="LGSP_API_KEY", help="The source's API key.")],
    event_type: Annotated[
        str,
        typer.Option("--type", help="ce-type of the events (default: the contract's eventType)."),
    ] = "",
    gateway: Annotated[str, typer.Option(help="Gateway URL.")] = GATEWAY,
    registry: Annotated[
        str, typer.Option(envvar="LGSP_REGISTRY_URL", help="Registry URL (for the contract).")
    ] = DEFAULT_REGISTRY,
    registry_token: Annotated[
        str, typer.Option(envvar="LGSP_REGISTRY_TOKEN", help="Registry credential, if needed.")
    ] = "",
) -> None:
    """Publish one event, or a batch, through the gateway; print where each was stored.

    The event type is the topic's latest contract's `eventType` (read from the registry), its
    `{field}` placeholders filled from each payload; `--type` overrides it.
    """
    document = json.loads(file.read_text(encoding="utf-8"))
    payloads = document if isinstance(document, list) else [document]
    if event_type:
        kinds = [event_type] * len(payloads)
    else:
        kinds = _types(_contract_event_type(registry, registry_token, topic), payloads)
    with httpx.Client(base_url=gateway, timeout=30) as http:
        if isinstance(document, list):
            batch = [
                {"specversion": "1.0", "id": str(uuid.uuid4()), "type": kind, "data": d}
                for d, kind in zip(document, kinds, strict=True)
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
                headers={"x-api-key": key, "ce-type": kinds[0], "ce-specversion": "1.0"},
            )
    if response.status_code not in (202, 207):
        _fail(response)
    console().print_json(response.text)
    if response.status_code == 207:
        raise typer.Exit(1)


async def _assign(consumer: AIOKafkaConsumer, topic: str) -> list[TopicPartition]:
    # A consumer with no subscription knows no topic's partitions until its client's metadata
    # is refreshed (no public API for it; `lgsp audit verify` does the same).
    await consumer._client.force_metadata_update()
    numbers = consumer.partitions_for_topic(topic)
    if not numbers:
        console().print(f"[red]no topic {topic!r} on the broker[/red]")
        raise typer.Exit(1)
    partitions = [TopicPartition(topic, number) for number in sorted(numbers)]
    consumer.assign(partitions)
    return partitions


async def _at_end(consumer: AIOKafkaConsumer, ends: dict[TopicPartition, int]) -> bool:
    return all([await consumer.position(tp) >= end for tp, end in ends.items()])


def _show(record: Any) -> None:
    headers = headers_dict(record.headers)
    key = record.key.decode(errors="replace") if record.key else None
    console().print(
        f"[dim]{record.partition}:{record.offset}[/dim] key={key} "
        f"id={headers.get('ce_id', '-')} "
        f"source={headers.get('ce_source', '-')} "
        f"ce_type={headers.get('ce_type', '-')}",
        highlight=False,
    )
    console().print(
        record.value.decode(errors="replace") if record.value else "[dim]tombstone[/dim]",
        highlight=False,
    )


async def _tail(
    bootstrap: str, topic: str, from_beginning: bool, limit: int, until_end: bool
) -> None:
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, group_id=None, isolation_level="read_committed"
    )
    await consumer.start()
    shown = 0
    try:
        partitions = await _assign(consumer, topic)
        if from_beginning:
            await consumer.seek_to_beginning(*partitions)
        else:
            await consumer.seek_to_end(*partitions)
        # The end offsets when the command starts: --until-end stops once every partition is
        # read up to them (records arriving later are not waited for).
        ends = await consumer.end_offsets(partitions) if until_end else {}
        while limit == 0 or shown < limit:
            if until_end and await _at_end(consumer, ends):
                break
            for records in (await consumer.getmany(timeout_ms=1000)).values():
                for record in records:
                    if limit and shown >= limit:
                        break
                    _show(record)
                    shown += 1
    finally:
        await consumer.stop()


def tail(
    topic: Annotated[str, typer.Argument(help="Topic to follow.")],
    from_beginning: Annotated[bool, typer.Option(help="Start at the oldest record.")] = False,
    limit: Annotated[int, typer.Option(help="Stop after this many records (0: follow).")] = 0,
    until_end: Annotated[
        bool, typer.Option(help="Stop at the topic's end offsets as they were at the start.")
    ] = False,
) -> None:
    """Print a topic's records (key, id, source, ce_type, value) as they arrive (Ctrl-C stops)."""
    bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092")
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_tail(bootstrap, topic, from_beginning, limit, until_end))


ViewerToken = Annotated[
    str | None,
    typer.Option(
        "--token", envvar="LGSP_VIEWER_TOKEN", show_default=False,
        help="A viewer's access token (lgsp tokens issue); default: the local run's.",
    ),
]  # fmt: skip


def default_viewer_token() -> str | None:
    """Return the viewer token a local run (`lgsp dev up`) issued, if there is one in var/."""
    path = repo_root() / "var" / "ioc-collector" / "viewer-token"
    return path.read_text(encoding="utf-8").strip() if path.is_file() else None


def _get(collector: str, path: str, token: str | None) -> Any:
    token = token or default_viewer_token()
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    try:
        response = httpx.get(collector + path, timeout=10, headers=headers)
    except httpx.TransportError as exc:
        console().print(f"[red]collector unreachable at {collector}: {exc}[/red]")
        raise typer.Exit(1) from exc
    if response.status_code != 200:
        _fail(response)
    return response.json()


def kpis(
    collector: Annotated[str, typer.Option(help="Collector URL.")] = COLLECTOR,
    token: ViewerToken = None,
) -> None:
    """Show every KPI's current value against its target (Chỉ tiêu / KPIs)."""
    table = Table("KPI", "Chỉ tiêu (vi)", "window", "value", "target", "status")
    for tile in _get(collector, "/v1/kpis", token)["kpis"]:
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


def sources(
    collector: Annotated[str, typer.Option(help="Collector URL.")] = COLLECTOR,
    token: ViewerToken = None,
) -> None:
    """Show every source's freshness, volume, rejections and lag (Nguồn dữ liệu / sources)."""
    table = Table("source", "topic", "status", "last event", "events/min", "rejected", "lag")
    for item in _get(collector, "/v1/sources/health", token)["sources"]:
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
