"""`lgsp audit verify` and `lgsp audit public-key`: prove the audit trail whole with public keys.

`verify` reads the audit topic and the signed checkpoints (from the registry with
`--checkpoints-from`, else the compacted `<topic>.checkpoints`), takes public keys from the
registry (`--keys-from`) or a file (`--keys`), and reports altered, reordered, forged, missing
and truncated records, unanchored tails (the next checkpoint overdue), forked chains and chains
whose records are gone. `--key KEY_ID=SECRET` (the signing key material itself) also works, and
is the only way to check legacy HS256 records.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer

from lgsp_cli.audit_sources import (
    Row,
    checkpoints_from_registry,
    keys_from_file,
    keys_from_registry,
    read_topic,
)
from lgsp_common.audit import Finding, Problem, checkpoint_topic_for, verify_chain
from lgsp_common.audit_format import KeyInput, public_key_b64
from lgsp_common.settings import KafkaSettings
from lgsp_common.topics import AUDIT_TOPIC

audit = typer.Typer(help="The tamper-evident audit trail on lgsp.audit.", no_args_is_help=True)


@dataclass(frozen=True)
class Located:
    """A finding with where its record sits on the topic (when there is a record)."""

    finding: Finding
    partition: int | None
    offset: int | None


async def read_trail(kafka: KafkaSettings, topic: str) -> list[Row]:
    """Read every record of the audit topic as (partition, offset, record), in offset order."""
    return await read_topic(kafka, topic)


def _in_range(record: dict[str, Any], since: datetime | None, until: datetime | None) -> bool:
    try:
        at = datetime.fromisoformat(str(record.get("timestamp")))
    except ValueError:
        return True  # no usable time: keep it, the verifier will judge it
    return (since is None or at >= since) and (until is None or at <= until)


def verify_rows(
    rows: list[Row],
    keys: Mapping[str, KeyInput] | None,
    since: datetime | None = None,
    until: datetime | None = None,
    *,
    checkpoints: list[dict[str, Any]] | None = None,
    **options: Any,
) -> list[Located]:
    """Verify the chains in `rows` (a time range of them, if given) and locate each finding.

    With a time range the completeness checks are skipped (the range is not the whole chain).
    `options` go to `verify_chain` (now, interval_s, grace_s, full).
    """
    ranged = since is not None or until is not None
    chosen = [row for row in rows if _in_range(row[2], since, until)] if ranged else rows
    first_seq: dict[str, int] = {}
    for _, _, record in chosen:
        writer, seq = record.get("writer"), record.get("seq")
        if isinstance(writer, str) and isinstance(seq, int):
            first_seq[writer] = min(seq, first_seq.get(writer, seq))
    where = {(r.get("writer"), r.get("seq")): (p, o) for p, o, r in chosen}
    found = verify_chain(
        [r for _, _, r in chosen], keys, checkpoints=None if ranged else checkpoints, **options
    )
    located = []
    for finding in found:
        start = first_seq.get(finding.writer, 0) if since else 0
        if finding.problem is Problem.MISSING and (finding.seq or 0) < start:
            continue  # before the range: not checked, not missing
        partition, offset = where.get((finding.writer, finding.seq), (None, None))
        located.append(Located(finding, partition, offset))
    return located


def _secrets(pairs: list[str]) -> dict[str, KeyInput]:
    keys: dict[str, KeyInput] = {}
    for pair in pairs:
        key_id, sep, secret = pair.partition("=")
        if not sep:
            raise typer.BadParameter(f"--key wants KEY_ID=SECRET, got {pair!r}")
        keys[key_id] = secret.encode()
    return keys


def _key_ring(pairs: list[str], keys_file: Path | None, keys_from: str | None) -> Any:
    ring: dict[str, KeyInput] = {}
    if keys_from:
        ring.update(keys_from_registry(keys_from))
    if keys_file is not None:
        ring.update(keys_from_file(keys_file))
    ring.update(_secrets(pairs))
    return ring or None


def _checkpoints(
    kafka: KafkaSettings, topic: str, checkpoints_topic: str | None, checkpoints_from: str | None
) -> tuple[list[dict[str, Any]] | None, str]:
    if checkpoints_from:
        found = checkpoints_from_registry(checkpoints_from)
        return found, f"{len(found)} checkpoint(s) from {checkpoints_from}"
    name = checkpoints_topic or checkpoint_topic_for(topic)
    rows = asyncio.run(read_topic(kafka, name, required=False))
    if not rows:
        return None, f"no checkpoints on {name}: completeness NOT checked"
    return [r for _, _, r in rows if r], f"{len(rows)} checkpoint(s) from {name}"


def _print(located: list[Located]) -> None:
    for item in located:
        f = item.finding
        where = (
            f"partition {item.partition} offset {item.offset}"
            if item.offset is not None
            else "no record"
        )
        seq = f"{f.seq}..{f.last_seq}" if f.last_seq is not None and f.last_seq != f.seq else f.seq
        typer.echo(f"  {f.problem.value:<14} writer={f.writer} seq={seq} ({where}): {f.detail}")


@audit.command("verify")
def verify(
    topic: Annotated[str, typer.Option(help="The audit topic.")] = AUDIT_TOPIC,
    key: Annotated[
        list[str], typer.Option(help="KEY_ID=SECRET: signing key material (repeat).")
    ] = [],  # noqa: B006 - typer reads the default, never mutates it
    keys: Annotated[
        Path | None, typer.Option(help="JSON file: key_id -> base64url public key.")
    ] = None,
    keys_from: Annotated[
        str | None, typer.Option(help="Registry URL to fetch public keys from.")
    ] = None,
    checkpoints_from: Annotated[
        str | None, typer.Option(help="Registry URL to fetch checkpoints from.")
    ] = None,
    checkpoints_topic: Annotated[
        str | None, typer.Option(help="Checkpoints topic (default: <topic>.checkpoints).")
    ] = None,
    interval: Annotated[float, typer.Option(help="The writers' checkpoint interval, s.")] = 10.0,
    grace: Annotated[float, typer.Option(help="Grace before a checkpoint is overdue, s.")] = 60.0,
    full: Annotated[bool, typer.Option(help="Check every record's own signature.")] = False,
    since: Annotated[datetime | None, typer.Option(help="Only records at or after.")] = None,
    until: Annotated[datetime | None, typer.Option(help="Only records at or before.")] = None,
) -> None:
    """Check every chain; exit 1 and name each bad record or range if any is wrong."""
    kafka = KafkaSettings(
        bootstrap_servers=os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092")
    )
    ring = _key_ring(key, keys, keys_from)
    rows = asyncio.run(read_trail(kafka, topic))
    found, said = _checkpoints(kafka, topic, checkpoints_topic, checkpoints_from)
    options = {"interval_s": interval, "grace_s": grace, "full": full}
    located = verify_rows(rows, ring, since, until, checkpoints=found, **options)
    writers = {r.get("writer") for _, _, r in rows}
    typer.echo(f"checked {len(rows)} record(s) of {len(writers)} writer(s) on {topic}; {said}")
    if ring is None:
        typer.echo("no keys given: signatures NOT checked")
    _print(located)
    if located:
        typer.echo(f"FAILED: {len(located)} problem(s)")
        raise typer.Exit(1)
    typer.echo("OK: every chain is intact")


@audit.command("public-key")
def public_key(
    key: Annotated[
        str | None,
        typer.Option(
            envvar="LGSP_AUDIT_KEY", help="Signing key material (PEM, ed25519:…, secret)."
        ),
    ] = None,
    key_file: Annotated[
        Path | None, typer.Option(help="Read the key material from a file.")
    ] = None,
) -> None:
    """Print the raw Ed25519 public key (base64url) of audit key material, for the registry."""
    material = key_file.read_bytes().strip() if key_file is not None else (key or "").encode()
    if not material:
        raise typer.BadParameter("give --key, --key-file or LGSP_AUDIT_KEY")
    typer.echo(public_key_b64(material))
