"""`lgsp tokens issue|list|revoke`: people's access tokens (Mã truy cập), from the registry.

A token has a role: `viewer` reads the IOC dashboard, its KPIs and live stream; `auditor` also
reads every registry listing; `operator` runs the platform. `issue` prints the token once (it
is stored only as a hash); `revoke` closes it on every service within seconds. Needs the
operator token (`--token`, `LGSP_REGISTRY_TOKEN`, or the one a local run generated). Exit 0
done, 1 refused, 2 registry unreachable.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from lgsp_cli.registry_client import DEFAULT_URL, RegistryClient, RegistryError, default_token

tokens = typer.Typer(help="People's access tokens: issue, list, revoke.", no_args_is_help=True)
ROLES = ("viewer", "operator", "auditor")


@tokens.callback()
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


def _call(ctx: typer.Context, method: str, path: str, body: Any = None) -> Any:
    client: RegistryClient = ctx.obj
    try:
        return client.request(method, path, body)
    except RegistryError as exc:
        typer.echo(exc.describe(), err=True)
        raise typer.Exit(1 if exc.status in (401, 403, 404, 409, 422) else 2) from exc


@tokens.command("issue")
def issue(
    ctx: typer.Context,
    name: Annotated[str, typer.Option(help="Who holds it, e.g. 'Chủ tịch UBND tỉnh'.")],
    role: Annotated[str, typer.Option(help="viewer, operator or auditor.")] = "viewer",
    organisation: Annotated[
        str | None, typer.Option(help="The holder's organisation id, if any.")
    ] = None,
) -> None:
    """Issue a token and print it (shown once: keep it safe)."""
    if role not in ROLES:
        typer.echo(f"error: role must be one of {', '.join(ROLES)}", err=True)
        raise typer.Exit(2)
    body = {"name": name, "role": role, "organisation_id": organisation}
    made = _call(ctx, "POST", "/v1/tokens", body)
    typer.echo(f"{made['id']}  {made['role']}  {made['name']}")
    typer.echo(f"Mã truy cập / Access token (shown once): {made['token']}")


@tokens.command("list")
def listing(ctx: typer.Context) -> None:
    """List tokens: id, role, holder, state (never a secret)."""
    for item in _call(ctx, "GET", "/v1/tokens"):
        state = "revoked" if item["revoked_at"] else "active"
        typer.echo(f"{item['id']}  {item['role']:<8}  {state:<7}  {item['name']}")


@tokens.command("revoke")
def revoke(
    ctx: typer.Context, token_id: Annotated[str, typer.Argument(help="Token id, e.g. at_3f9a1c2b.")]
) -> None:
    """Revoke a token at once."""
    done = _call(ctx, "POST", f"/v1/tokens/{token_id}/revoke")
    typer.echo(f"{done['id']} revoked at {done['revoked_at']}")
