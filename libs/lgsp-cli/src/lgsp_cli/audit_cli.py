"""`lgsp audit verify`: replay the audit trail and pinpoint altered, missing or moved records."""

from __future__ import annotations

import asyncio
import json
import os
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

import typer
from aiokafka import AIOKafkaConsumer, TopicPartition

from lgsp_common.audit import Finding, Problem, verify_chain
from lgsp_common.settings import KafkaSettings
from lgsp_common.topics import AUDIT_TOPIC

audit = typer.Typer(help="The tamper-evident audit trail on lgsp.audit.", no_args_is_help=True)


@dataclass(frozen=True)
class Located:
    """A finding with where its record sits on the topic (when there is a record)."""

    finding: Finding
    partition: int | None
    offset: int | None


async def read_trail(kafka: KafkaSettings, topic: str) -> list[tuple[int, int, dict[str, Any]]]:
    """Read every record of the audit topic as (partition, offset, record), in offset order."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=kafka.bootstrap_servers,
        group_id=None,
        enable_auto_commit=False,
        isolation_level="read_committed",
    )
    await consumer.start()
    try:
        await consumer._client.force_metadata_update()
        found = consumer.partitions_for_topic(topic) or set()
        partitions = [TopicPartition(topic, p) for p in sorted(found)]
        if not partitions:
            raise typer.BadParameter(f"topic {topic!r} does not exist")
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        rows: list[tuple[int, int, dict[str, Any]]] = []
        while [tp for tp in partitions if await consumer.position(tp) < ends[tp]]:
            for tp, records in (await consumer.getmany(timeout_ms=1000)).items():
                rows += [(tp.partition, r.offset, _decode(r.value)) for r in records]
        return sorted(rows, key=lambda row: (row[0], row[1]))
    finally:
        await consumer.stop()


def _decode(value: bytes | None) -> dict[str, Any]:
    try:
        loaded = json.loads(value or b"null")
    except json.JSONDecodeError:
        return {}
    return loaded if isinstance(loaded, dict) else {}


def _in_range(record: dict[str, Any], since: datetime | None, until: datetime | None) -> bool:
    try:
        at = datetime.fromisoformat(str(record.get("timestamp")))
    except ValueError:
        return True  # no usable time: keep it, the verifier will judge it
    return (since is None or at >= since) and (until is None or at <= until)


def verify_rows(
    rows: list[tuple[int, int, dict[str, Any]]],
    keys: dict[str, bytes] | None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> list[Located]:
    """Verify the chains in `rows` (a time range of them, if given) and locate each finding."""
    chosen = [row for row in rows if _in_range(row[2], since, until)]
    first_seq: dict[str, int] = {}
    for _, _, record in chosen:
        writer, seq = record.get("writer"), record.get("seq")
        if isinstance(writer, str) and isinstance(seq, int):
            first_seq[writer] = min(seq, first_seq.get(writer, seq))
    where = {(r.get("writer"), r.get("seq")): (p, o) for p, o, r in chosen}
    located = []
    for finding in verify_chain([r for _, _, r in chosen], keys):
        start = first_seq.get(finding.writer, 0) if since else 0
        if finding.problem is Problem.MISSING and (finding.seq or 0) < start:
            continue  # before the range: not checked, not missing
        partition, offset = where.get((finding.writer, finding.seq), (None, None))
        located.append(Located(finding, partition, offset))
    return located


def _keys(pairs: list[str]) -> dict[str, bytes] | None:
    keys = {}
    for pair in pairs:
        key_id, sep, secret = pair.partition("=")
        if not sep:
            raise typer.BadParameter(f"--key wants KEY_ID=SECRET, got {pair!r}")
        keys[key_id] = secret.encode()
    return keys or None


@audit.command("verify")
def verify(
    topic: Annotated[str, typer.Option(help="The audit topic.")] = AUDIT_TOPIC,
    key: Annotated[
        list[str], typer.Option(help="KEY_ID=SECRET to check signatures (repeat).")
    ] = [],  # noqa: B006 - typer reads the default, never mutates it
    since: Annotated[datetime | None, typer.Option(help="Only records at or after.")] = None,
    until: Annotated[datetime | None, typer.Option(help="Only records at or before.")] = None,
) -> None:
    """Check every writer's hash chain; exit 1 and name each bad record if any is wrong."""
    kafka = KafkaSettings(
        bootstrap_servers=os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092")
    )
    rows = asyncio.run(read_trail(kafka, topic))
    located = verify_rows(rows, _keys(key), since, until)
    writers = {r.get("writer") for _, _, r in rows}
    typer.echo(f"checked {len(rows)} record(s) of {len(writers)} writer(s) on {topic}")
    for item in located:
        where = (
            f"partition {item.partition} offset {item.offset}"
            if item.offset is not None
            else "no record"
        )
        typer.echo(
            f"  {item.finding.problem.value:<14} writer={item.finding.writer} "
            f"seq={item.finding.seq} ({where}): {item.finding.detail}"
        )
    if located:
        typer.echo(f"FAILED: {len(located)} problem(s)")
        raise typer.Exit(1)
    typer.echo("OK: every chain is intact")
