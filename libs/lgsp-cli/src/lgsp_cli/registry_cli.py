"""`lgsp registry …`: what an integrator or operator does with the registry, over HTTP.

The registry is at `--url` (`LGSP_REGISTRY_URL`, default http://127.0.0.1:8081); the credential
is `--token` (`LGSP_REGISTRY_TOKEN`): an API key or the operator token, and for a local registry
the operator token it generated in `var/registry/operator-token`. Exit status: 0 done, 1 refused
(e.g. an incompatible contract: every reason is printed), 2 bad input or registry unreachable.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer

from lgsp_cli.junit_report import JunitOpt, write_junit
from lgsp_cli.kpi_cli import KpiFileError
from lgsp_cli.registry_check_report import check_cases
from lgsp_cli.registry_client import (
    DEFAULT_URL,
    RegistryClient,
    RegistryError,
    default_token,
    load_contract,
)
from lgsp_cli.registry_seed import default_kpis_dir, default_seed_file, seed
from lgsp_common.settings import repo_root

registry = typer.Typer(
    help="Register organisations, sources, contracts, consumers; keys.", no_args_is_help=True
)
org_app = typer.Typer(help="Organisations (departments).", no_args_is_help=True)
source_app = typer.Typer(help="Data sources.", no_args_is_help=True)
contract_app = typer.Typer(help="Contracts: check and push JSON Schemas.", no_args_is_help=True)
consumer_app = typer.Typer(help="Consumers and access approvals.", no_args_is_help=True)
key_app = typer.Typer(help="API keys.", no_args_is_help=True)
for _name, _sub in (
    ("org", org_app),
    ("source", source_app),
    ("contract", contract_app),
    ("consumer", consumer_app),
    ("key", key_app),
):
    registry.add_typer(_sub, name=_name)

ExamplesOpt = Annotated[
    Path | None, typer.Option(help="Folder with valid/ and invalid/ examples (default: beside).")
]
SubjectOpt = Annotated[
    str | None, typer.Option(help="Subject (topic); default: the schema's x-lgsp.topic.")
]


@registry.callback()
def connect(
    ctx: typer.Context,
    url: Annotated[str, typer.Option(envvar="LGSP_REGISTRY_URL", help="Registry URL.")] = (
        DEFAULT_URL
    ),
    token: Annotated[
        str | None,
        typer.Option(
            envvar="LGSP_REGISTRY_TOKEN", help="API key or operator token.", show_default=False
        ),
    ] = None,
) -> None:
    """Say where the registry is and which credential to present."""
    ctx.obj = RegistryClient(url=url.rstrip("/"), token=token or default_token())


def _client(ctx: typer.Context) -> RegistryClient:
    client: RegistryClient = ctx.obj
    return client


def _run(action: Callable[[], Any]) -> Any:
    try:
        return action()
    except RegistryError as exc:
        typer.echo(exc.describe(), err=True)
        raise typer.Exit(1 if exc.status in (403, 409) else 2) from exc


def _show(value: Any) -> None:
    typer.echo(json.dumps(value, ensure_ascii=False, indent=2))


def _show_key(created: dict[str, Any]) -> None:
    typer.echo(f"key id: {created['id']}")
    typer.echo(f"key:    {created['key']}")
    typer.echo("Keep it now: the registry stores only its hash and cannot show it again.")


@org_app.command("create")
def org_create(
    ctx: typer.Context,
    org_id: Annotated[str, typer.Argument(help="Slug, e.g. so-tai-chinh.")],
    code: Annotated[
        str,
        typer.Option(
            help="Official agency code (mã định danh cơ quan): 2 to 6 dot-separated groups of "
            "1-4 digits or capital letters, e.g. 000.00.17.H03 (a level-3 unit of province H03)."
        ),
    ],
    name_vi: Annotated[str, typer.Option(help="Vietnamese name.")],
    name_en: Annotated[str, typer.Option(help="English name.")],
) -> None:
    """Register an organisation (operator token).

    The agency code follows the national format of QCVN 102:2016/BTTTT, e.g. 000.00.17.H03:
    groups of 1-4 digits or capital letters separated by dots (2 to 6 groups).
    """
    body = {"id": org_id, "code": code, "name_vi": name_vi, "name_en": name_en}
    _show(_run(lambda: _client(ctx).post("/v1/organisations", body)))


@org_app.command("key")
def org_key(ctx: typer.Context, org_id: str) -> None:
    """Issue an organisation's administration key (shown once)."""
    _show_key(_run(lambda: _client(ctx).post(f"/v1/organisations/{org_id}/keys")))


@source_app.command("create")
def source_create(
    ctx: typer.Context,
    source_id: Annotated[str, typer.Argument(help="Slug, e.g. stc-thu-ngan-sach.")],
    org: Annotated[str, typer.Option(help="Owning organisation id.")],
    topic: Annotated[str, typer.Option(help="Topic it publishes to.")],
    name: Annotated[str, typer.Option(help="Human-readable name.")],
    cadence: Annotated[str, typer.Option(help="realtime, daily or monthly.")] = "realtime",
) -> None:
    """Register a data source (operator token or the organisation's key)."""
    body = {
        "id": source_id,
        "organisation_id": org,
        "topic": topic,
        "name": name,
        "cadence": cadence,
    }
    _show(_run(lambda: _client(ctx).post("/v1/sources", body)))


@source_app.command("key")
def source_key(ctx: typer.Context, source_id: str) -> None:
    """Issue a publishing key for a source (shown once)."""
    _show_key(_run(lambda: _client(ctx).post(f"/v1/sources/{source_id}/keys")))


def _contract_request(file: Path, examples: Path | None, subject: str | None) -> tuple[Any, str]:
    try:
        body, found = load_contract(file, examples)
    except (OSError, ValueError) as exc:
        typer.echo(f"error: cannot read {file}: {exc}", err=True)
        raise typer.Exit(2) from exc
    chosen = subject or found
    if not chosen:
        typer.echo("error: no subject: pass --subject or set x-lgsp.topic", err=True)
        raise typer.Exit(2)
    return body, chosen


def _print_reasons(reasons: list[dict[str, Any]]) -> None:
    for reason in reasons:
        against = f"v{reason['version']}" if reason.get("version") else "-"
        who = reason.get("consumer_id") or reason.get("direction") or ""
        typer.echo(
            f"  ✗ {reason['rule']} at {reason['pointer'] or '/'} "
            f"(data {reason['data_path'] or '/'}; {who} {against})"
        )
        typer.echo(f"    {reason['message']}")


@contract_app.command("check")
def contract_check(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="Schema file.")],
    examples: ExamplesOpt = None,
    subject: SubjectOpt = None,
    junit: JunitOpt = None,
) -> None:
    """Dry run: would this version be accepted? Exit 1 when not, printing every reason."""
    body, chosen = _contract_request(file, examples, subject)
    try:
        result = _client(ctx).post(f"/v1/subjects/{chosen}/compatibility", body)
    except RegistryError as exc:
        if junit is not None and exc.status == 422:
            write_junit(junit, "lgsp registry contract check", check_cases(file, body, exc))
        typer.echo(exc.describe(), err=True)
        raise typer.Exit(1 if exc.status in (403, 409) else 2) from exc
    if junit is not None:
        write_junit(junit, "lgsp registry contract check", check_cases(file, body, None, result))
    rules = f"{result['compatibility']}/{result['policy']}"
    if result["compatible"]:
        known = result.get("registered_version")
        note = f"; already registered as version {known}" if known else ""
        typer.echo(f"✓ compatible with {chosen} under {rules}{note}")
        return
    typer.echo(f"✗ incompatible with {chosen} under {rules}: {len(result['reasons'])} reason(s)")
    _print_reasons(result["reasons"])
    raise typer.Exit(1)


@contract_app.command("push")
def contract_push(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="Schema file.")],
    examples: ExamplesOpt = None,
    subject: SubjectOpt = None,
) -> None:
    """Register a new contract version (refused, with every reason, when incompatible)."""
    body, chosen = _contract_request(file, examples, subject)
    try:
        status, contract = _client(ctx).send("POST", f"/v1/subjects/{chosen}/versions", body)
    except RegistryError as exc:
        typer.echo(exc.describe(), err=True)
        _print_reasons(exc.problem.get("reasons", []))
        raise typer.Exit(1 if exc.status in (403, 409) else 2) from exc
    what = "registered" if status == 201 else "already registered"
    typer.echo(f"{chosen} version {contract['version']} {what} (id {contract['id']})")


@registry.command("list")
def list_entities(
    ctx: typer.Context,
    kind: Annotated[str, typer.Argument(help="organisations, sources, subjects, consumers.")],
    topic: Annotated[str | None, typer.Option(help="Only this topic.")] = None,
) -> None:
    """List organisations, sources, subjects or consumers."""
    paths = {
        "organisations": "/v1/organisations",
        "sources": "/v1/sources",
        "subjects": "/v1/subjects",
        "consumers": "/v1/consumers",
    }
    if kind not in paths:
        typer.echo(f"error: kind must be one of {', '.join(paths)}", err=True)
        raise typer.Exit(2)
    query = f"?topic={topic}" if topic and kind in ("sources", "consumers") else ""
    _show(_run(lambda: _client(ctx).get(paths[kind] + query)))


@key_app.command("rotate")
def key_rotate(
    ctx: typer.Context,
    key_id: Annotated[str, typer.Argument(help="Key id, e.g. k_3f9a1c2b.")],
    grace: Annotated[int | None, typer.Option(help="Seconds the old key keeps working.")] = None,
) -> None:
    """Replace a key; the old one expires after the grace period."""
    body = {"grace_period_s": grace} if grace is not None else None
    _show_key(_run(lambda: _client(ctx).post(f"/v1/keys/{key_id}/rotate", body)))


@key_app.command("revoke")
def key_revoke(ctx: typer.Context, key_id: str) -> None:
    """Revoke a key at once."""
    _show(_run(lambda: _client(ctx).post(f"/v1/keys/{key_id}/revoke")))


@consumer_app.command("request")
def consumer_request(
    ctx: typer.Context,
    consumer_id: Annotated[str, typer.Argument(help="Slug, e.g. ioc-tthc-kpi.")],
    org: Annotated[str, typer.Option(help="Requesting organisation id.")],
    topic: Annotated[str, typer.Option(help="Topic to read.")],
    purpose: Annotated[str, typer.Option(help="Declared purpose code.")],
    field: Annotated[list[str], typer.Option(help="JSON Pointer of a field read (repeat).")],
    name: Annotated[str | None, typer.Option(help="Human-readable name.")] = None,
) -> None:
    """Ask to read a topic's fields for a purpose (pending until the owner decides)."""
    body = {
        "id": consumer_id,
        "organisation_id": org,
        "topic": topic,
        "purpose": purpose,
        "fields": field,
        **({"name": name} if name else {}),
    }
    _show(_run(lambda: _client(ctx).post("/v1/consumers", body)))


@consumer_app.command("approve")
def consumer_approve(ctx: typer.Context, consumer_id: str) -> None:
    """Approve a consumer (the topic owner's key or the operator token)."""
    _show(_run(lambda: _client(ctx).post(f"/v1/consumers/{consumer_id}/approve")))


@consumer_app.command("reject")
def consumer_reject(ctx: typer.Context, consumer_id: str) -> None:
    """Reject a consumer (the topic owner's key or the operator token)."""
    _show(_run(lambda: _client(ctx).post(f"/v1/consumers/{consumer_id}/reject")))


@source_app.command("restore")
def source_restore(ctx: typer.Context, source_id: str) -> None:
    """Restore a deleted source and the keys its delete suspended (operator, grace period)."""
    _show(_run(lambda: _client(ctx).post(f"/v1/sources/{source_id}/restore")))


@consumer_app.command("restore")
def consumer_restore(ctx: typer.Context, consumer_id: str) -> None:
    """Restore a deleted consumer and the keys its delete suspended (operator, grace period)."""
    _show(_run(lambda: _client(ctx).post(f"/v1/consumers/{consumer_id}/restore")))


@consumer_app.command("key")
def consumer_key(ctx: typer.Context, consumer_id: str) -> None:
    """Issue a reading key for an approved consumer (shown once)."""
    _show_key(_run(lambda: _client(ctx).post(f"/v1/consumers/{consumer_id}/keys")))


@registry.command("seed")
def seed_command(
    ctx: typer.Context,
    contracts_dir: Annotated[
        Path | None, typer.Option(help="The contracts folder (default: the repository's).")
    ] = None,
    seed_file: Annotated[
        Path | None, typer.Option(help="Organisations and sources (default: the repository's).")
    ] = None,
    kpis_dir: Annotated[
        Path | None,
        typer.Option(help="KPI YAML files to push (default: services/ioc-collector/kpis)."),
    ] = None,
) -> None:
    """Register the departments, sources, contracts and KPIs of the repository (idempotent)."""
    folder = contracts_dir or repo_root() / "contracts"
    kpis = kpis_dir or default_kpis_dir()
    try:
        tally = _run(lambda: seed(_client(ctx), folder, seed_file or default_seed_file(), kpis))
    except KpiFileError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    typer.echo(", ".join(f"{what}: {count}" for what, count in sorted(tally.items())))
