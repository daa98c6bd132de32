"""The `lgsp` command: the integrators' commands always, extensions from entry points."""

from __future__ import annotations

from importlib.metadata import EntryPoint
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from lgsp_cli import main

INTEGRATOR_COMMANDS = {
    "registry", "contracts", "audit", "kpi", "subscribe", "publish", "tail", "kpis", "sources",
    "consume", "tokens",
}  # fmt: skip


def command_names(app: typer.Typer) -> set[str]:
    """Return the names of the app's top-level commands and groups."""
    group = typer.main.get_group(app)
    return set(group.commands)


def test_the_installed_extensions_add_dev_simulate_replay_and_population() -> None:
    names = command_names(main.build_app())
    assert names >= INTEGRATOR_COMMANDS | {"dev", "simulate", "replay", "population"}


def test_without_extensions_the_cli_has_only_the_integrators_commands(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(main, "entry_points", lambda **_: [])
    assert command_names(main.build_app()) == INTEGRATOR_COMMANDS


def test_an_extension_registers_its_commands_on_the_app(monkeypatch: pytest.MonkeyPatch) -> None:
    def register(app: typer.Typer) -> None:
        @app.command("hello")
        def hello() -> None:
            typer.echo("xin chào")

    found = EntryPoint("greeter", "x:register", main.PLUGIN_GROUP)
    monkeypatch.setattr(found.__class__, "load", lambda self: register)

    def only(**kwargs: Any) -> list[EntryPoint]:
        assert kwargs == {"group": main.PLUGIN_GROUP}
        return [found]

    monkeypatch.setattr(main, "entry_points", only)
    result = CliRunner().invoke(main.build_app(), ["hello"])
    assert result.exit_code == 0
    assert result.output.strip() == "xin chào"
