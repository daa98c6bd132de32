"""`lgsp kpi check FILE` and `lgsp kpi push FILE`: KPI definitions pushed to the registry.

A KPI file is the collector's YAML format (`contracts/meta/kpi-definition.schema.json`), read
as data (YAML dates become ISO strings). `check` is a dry run (`POST /v1/kpis/check`); `push`
registers the KPI or a new version of it (`PUT /v1/kpis/{id}`, the operator token). Exit 0 done,
1 refused (every failing place printed by JSON Pointer), 2 unreadable file or registry
unreachable.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
import yaml

from lgsp_cli.registry_client import DEFAULT_URL, RegistryClient, RegistryError, default_token

kpi = typer.Typer(help="KPIs: check and push definitions to the registry.", no_args_is_help=True)
FileArg = Annotated[Path, typer.Argument(help="KPI definition file (YAML or JSON).")]


class KpiFileError(ValueError):
    """A KPI file that cannot be read as one definition."""


def load_kpi_file(path: Path) -> dict[str, Any]:
    """Read a KPI definition file as the JSON the registry takes."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise KpiFileError(f"{path}: cannot be read: {exc}") from exc
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        raise KpiFileError(f"{path}: not valid YAML{where}") from exc
    if not isinstance(data, dict):
        raise KpiFileError(f"{path}: expected a mapping at the top level")
    document: dict[str, Any] = json.loads(json.dumps(data, default=str))
    return document


@kpi.callback()
def connect(
    ctx: typer.Context,
    url: Annotated[str, typer.Option(envvar="LGSP_REGISTRY_URL", help="Registry URL.")] = (
        DEFAULT_URL
    ),
    token: Annotated[
        str | None,
        typer.Option(envvar="LGSP_REGISTRY_TOKEN", help="Operator token.", show_default=False),
    ] = None,
) -> None:
    """Say where the registry is and which credential to present."""
    ctx.obj = RegistryClient(url=url.rstrip("/"), token=token or default_token())


def _load(file: Path) -> dict[str, Any]:
    try:
        return load_kpi_file(file)
    except KpiFileError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc


def _refused(exc: RegistryError) -> typer.Exit:
    typer.echo(exc.describe(), err=True)
    return typer.Exit(1 if exc.status in (401, 403, 409, 422) else 2)


@kpi.command("check")
def check(ctx: typer.Context, file: FileArg) -> None:
    """Dry run: would the registry accept this KPI? Exit 1 naming each failing field."""
    body = _load(file)
    client: RegistryClient = ctx.obj
    try:
        result = client.post("/v1/kpis/check", body)
    except RegistryError as exc:
        raise _refused(exc) from exc
    fields = ", ".join(result["fields"]) or "no field"
    typer.echo(
        f"✓ {result['id']} fits {result['topic']} contract version {result['contract_version']}"
        f" (reads {fields})"
    )


@kpi.command("push")
def push(ctx: typer.Context, file: FileArg) -> None:
    """Register the KPI, or a new version of it (operator token)."""
    body = _load(file)
    if not isinstance(body.get("id"), str) or not body["id"]:
        typer.echo(f"error: {file}: no 'id'", err=True)
        raise typer.Exit(2)
    client: RegistryClient = ctx.obj
    try:
        found, changed = push_kpi(client, body)
    except RegistryError as exc:
        raise _refused(exc) from exc
    what = "registered" if changed else "unchanged (already registered)"
    typer.echo(f"KPI {found['id']} version {found['version']} {what} on {found['topic']}")


def push_kpi(client: RegistryClient, body: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    """PUT a KPI definition; returns (the registered KPI, whether a version was added)."""
    try:
        before: int | None = client.get(f"/v1/kpis/{body['id']}")["version"]
    except RegistryError as exc:
        if exc.status != 404:
            raise
        before = None
    found: dict[str, Any] = client.request("PUT", f"/v1/kpis/{body['id']}", body)
    return found, found["version"] != before
