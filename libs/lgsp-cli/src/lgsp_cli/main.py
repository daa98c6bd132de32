"""The `lgsp` command: tools for integrators and operators, extended by installed packages.

This package depends on `lgsp-common` and httpx only, never on a service. Packages installed
beside it add their subcommands through the `lgsp.commands` entry-point group: the dev kit adds
`lgsp dev …`, the simulators `lgsp simulate`, `lgsp replay` and `lgsp population …`. An entry
point names a function that takes the `typer.Typer` app and registers its commands on it.
"""

from __future__ import annotations

import logging
from importlib.metadata import entry_points

import typer

from lgsp_cli.audit_cli import audit
from lgsp_cli.consume_cli import consume
from lgsp_cli.contracts_cli import contracts
from lgsp_cli.kpi_cli import kpi
from lgsp_cli.ops_cli import kpis, publish, sources, tail
from lgsp_cli.registry_cli import registry
from lgsp_cli.subscribe_cli import subscribe
from lgsp_cli.tokens_cli import tokens

PLUGIN_GROUP = "lgsp.commands"
log = logging.getLogger(__name__)


def build_app() -> typer.Typer:
    """Build the `lgsp` app: the integrators' commands, then every installed extension."""
    cli = typer.Typer(
        help="LGSP platform: tools for integrators, operators and developers.",
        no_args_is_help=True,
    )
    cli.add_typer(registry, name="registry")
    cli.add_typer(contracts, name="contracts")
    cli.add_typer(audit, name="audit")
    cli.add_typer(kpi, name="kpi")
    cli.add_typer(subscribe, name="subscribe")
    cli.add_typer(tokens, name="tokens")
    for command in (publish, tail, kpis, sources, consume):
        cli.command()(command)
    for plugin in sorted(entry_points(group=PLUGIN_GROUP), key=lambda found: found.name):
        plugin.load()(cli)
    return cli


app = build_app()

if __name__ == "__main__":
    app()
