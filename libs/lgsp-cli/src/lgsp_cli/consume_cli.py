"""`lgsp consume`: read a shared topic through the gateway, one JSON record per line.

The consumer's key reads only what its approval allows (the gateway trims every record to the
approved fields). The command keeps its cursor in a file (by default under
`~/.cache/lgsp/cursors/`, named by topic and key id, never by the secret), so the next run
continues where this one stopped; `--commit` also stores each page's cursor as the consumer's
committed position on the platform (Kafka group `lgsp.consumer.<id>`), which any later reader
resumes with `--from committed`.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer

GATEWAY = os.environ.get("LGSP_GATEWAY_URL", "http://127.0.0.1:8080")
CURSOR_DIR = Path.home() / ".cache" / "lgsp" / "cursors"
FOLLOW_WAIT_MS = 20_000


class Start(StrEnum):
    """Where to start when not continuing from the cursor file."""

    earliest = "earliest"
    latest = "latest"
    committed = "committed"


def cursor_path(topic: str, key: str) -> Path:
    """Return the default cursor file of a topic and key (named by the key's id)."""
    parts = key.split("_")
    key_id = parts[1] if len(parts) >= 3 and parts[0] == "lgsp" else "key"
    return CURSOR_DIR / f"{topic}.{key_id}.cursor"


def save_cursor(path: Path, cursor: str) -> None:
    """Write the cursor atomically (a crash leaves the old or the new one, never half)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".tmp")
    temporary.write_text(cursor, encoding="ascii")
    temporary.replace(path)


def _fail(answer: httpx.Response) -> None:
    try:
        problem = answer.json()
        text = f"{problem.get('status')} {problem.get('title')}: {problem.get('detail') or ''}"
    except ValueError:
        text = f"{answer.status_code} {answer.text[:200]}"
    typer.echo(f"lgsp consume: {text}", err=True)
    raise typer.Exit(1)


def pages(
    http: httpx.Client, topic: str, position: str, limit: int, follow: bool
) -> Iterator[tuple[list[dict[str, Any]], str]]:
    """Yield (records, next cursor) until caught up (or forever with `follow`)."""
    read = 0
    while limit == 0 or read < limit:
        size = 1000 if limit == 0 else min(1000, limit - read)
        answer = http.get(
            f"/v1/topics/{topic}/records",
            params={
                "position": position,
                "max_records": size,
                "wait_ms": FOLLOW_WAIT_MS if follow else 0,
            },
        )
        if answer.status_code != 200:
            _fail(answer)
        body = answer.json()
        position = body["next"]
        read += len(body["records"])
        yield body["records"], position
        if not body["records"] and not follow:
            return


def consume(
    topic: Annotated[str, typer.Argument(help="The topic to read, e.g. tthc.dossier.v1.")],
    key: Annotated[str, typer.Option(envvar="LGSP_API_KEY", help="The consumer's API key.")],
    start: Annotated[
        Start | None,
        typer.Option("--from", help="Start here instead of the saved cursor (default: saved)."),
    ] = None,
    follow: Annotated[bool, typer.Option(help="Keep waiting for new records.")] = False,
    commit: Annotated[
        bool, typer.Option(help="Commit each page's cursor on the platform.")
    ] = False,
    max_records: Annotated[int, typer.Option("--max", help="Stop after N records (0: all).")] = 0,
    cursor_file: Annotated[
        Path | None, typer.Option(help="Where the cursor is kept (default ~/.cache/lgsp/cursors).")
    ] = None,
    gateway: Annotated[str, typer.Option(help="Gateway URL.")] = GATEWAY,
) -> None:
    """Read a shared topic (only the approved fields), one JSON record per line."""
    path = cursor_file or cursor_path(topic, key)
    if start is not None:
        position = start.value
    elif path.exists():
        position = path.read_text(encoding="ascii").strip()
    else:
        position = Start.committed.value
    headers = {"x-api-key": key}
    with httpx.Client(
        base_url=gateway, headers=headers, timeout=FOLLOW_WAIT_MS / 1000 + 30
    ) as http:
        try:
            for records, cursor in pages(http, topic, position, max_records, follow):
                for record in records:
                    sys.stdout.write(json.dumps(record, ensure_ascii=False) + "\n")
                sys.stdout.flush()
                save_cursor(path, cursor)
                if commit and records:
                    answer = http.put(
                        f"/v1/topics/{topic}/records/committed", json={"cursor": cursor}
                    )
                    if answer.status_code != 200:
                        _fail(answer)
        except KeyboardInterrupt:
            raise typer.Exit(0) from None
        except httpx.HTTPError as exc:
            typer.echo(f"lgsp consume: cannot reach the gateway ({exc})", err=True)
            raise typer.Exit(2) from exc
