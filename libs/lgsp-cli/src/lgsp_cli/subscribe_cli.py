"""`lgsp subscribe …`: a consumer's webhook subscriptions, over the registry's HTTP API.

Same connection options as `lgsp registry` (`--url`/`LGSP_REGISTRY_URL`, `--token`/
`LGSP_REGISTRY_TOKEN`, default the local operator token). The signing secret is printed once,
by `create` and `rotate`; the registry cannot show it again. Exit status: 0 done, 1 refused
(403, 409), 2 bad input (e.g. a URL outside the policy: every reason is printed) or unreachable.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Annotated, Any

import typer

from lgsp_cli.registry_client import DEFAULT_URL, RegistryClient, RegistryError, default_token

subscribe = typer.Typer(
    help="Webhook subscriptions (đăng ký nhận dữ liệu qua webhook).", no_args_is_help=True
)
ConsumerArg = Annotated[str, typer.Argument(help="Consumer id, e.g. thong-ke-thu-ngan-sach.")]
SubArg = Annotated[str, typer.Argument(help="Subscription id, e.g. wh-3f9a1c2b7d4e.")]


@subscribe.callback()
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


def _call(ctx: typer.Context, method: str, path: str, body: Any = None) -> Any:
    client: RegistryClient = ctx.obj
    try:
        return client.request(method, path, body)
    except RegistryError as exc:
        typer.echo(exc.describe(), err=True)
        raise typer.Exit(1 if exc.status in (403, 409) else 2) from exc


def _path(consumer_id: str, sub_id: str | None = None, action: str | None = None) -> str:
    path = f"/v1/consumers/{consumer_id}/subscriptions"
    return path + (f"/{sub_id}" if sub_id else "") + (f"/{action}" if action else "")


def _show(value: Any) -> None:
    typer.echo(json.dumps(value, ensure_ascii=False, indent=2))


def _show_secret(created: dict[str, Any]) -> None:
    secret = created.pop("secret")
    _show(created)
    typer.echo(f"signing secret: {secret}")
    typer.echo("Keep it now: it is shown once. Verify deliveries with a Standard Webhooks library.")


@subscribe.command("create")
def create(
    ctx: typer.Context,
    consumer_id: ConsumerArg,
    url: Annotated[str, typer.Option(help="https URL receiving the deliveries.")],
    description: Annotated[str | None, typer.Option(help="What it is for.")] = None,
) -> None:
    """Register a webhook for an approved consumer; prints its signing secret once."""
    body = {"url": url, **({"description": description} if description else {})}
    _show_secret(_call(ctx, "POST", _path(consumer_id), body))


@subscribe.command("list")
def list_subscriptions(ctx: typer.Context, consumer_id: ConsumerArg) -> None:
    """List a consumer's webhook subscriptions."""
    _show(_call(ctx, "GET", _path(consumer_id)))


def _action(name: str, doc: str) -> Callable[..., None]:
    def command(ctx: typer.Context, consumer_id: ConsumerArg, sub_id: SubArg) -> None:
        _show(_call(ctx, "POST", _path(consumer_id, sub_id, name)))

    command.__doc__ = doc
    return command


subscribe.command("pause")(_action("pause", "Stop deliveries (the position is kept)."))
subscribe.command("resume")(_action("resume", "Deliver again from the kept position."))


@subscribe.command("rotate")
def rotate(
    ctx: typer.Context,
    consumer_id: ConsumerArg,
    sub_id: SubArg,
    overlap: Annotated[int | None, typer.Option(help="Seconds the old secret still signs.")] = None,
) -> None:
    """Issue a new signing secret (printed once); both sign during the overlap."""
    body = {"overlap_s": overlap} if overlap is not None else None
    _show_secret(_call(ctx, "POST", _path(consumer_id, sub_id, "rotate-secret"), body))


@subscribe.command("replay")
def replay(
    ctx: typer.Context,
    consumer_id: ConsumerArg,
    sub_id: SubArg,
    position: Annotated[
        str | None, typer.Option("--from", help="earliest or latest (every partition).")
    ] = None,
    offset: Annotated[
        list[str] | None, typer.Option(help="PARTITION=OFFSET (repeat), instead of --from.")
    ] = None,
) -> None:
    """Deliver again from a position: every partition, or offsets per partition."""
    if (position is None) == (not offset):
        typer.echo("error: give --from earliest|latest or --offset P=O, not both", err=True)
        raise typer.Exit(2)
    body: dict[str, Any] = {"position": position} if position else {"offsets": {}}
    for item in offset or []:
        partition, sep, value = item.partition("=")
        if not sep or not partition.isdigit() or not value.isdigit():
            typer.echo(f"error: {item!r} is not PARTITION=OFFSET", err=True)
            raise typer.Exit(2)
        body["offsets"][partition] = int(value)
    _show(_call(ctx, "POST", _path(consumer_id, sub_id, "replay"), body))


@subscribe.command("delete")
def delete(ctx: typer.Context, consumer_id: ConsumerArg, sub_id: SubArg) -> None:
    """Delete a subscription; deliveries stop."""
    _call(ctx, "DELETE", _path(consumer_id, sub_id))
    typer.echo(f"deleted {sub_id}")
