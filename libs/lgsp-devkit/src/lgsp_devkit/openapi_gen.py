"""`lgsp dev openapi`: write each HTTP service's OpenAPI document to contracts/openapi/.

The documents are generated from the code (each service's `create_app()`; nothing is started)
and committed, so a reviewer sees API changes and `tests/contract/test_openapi_drift.py` fails
when the code and the committed document differ.
"""

from __future__ import annotations

import importlib
import json
from pathlib import Path
from typing import Annotated, Any

import typer

from lgsp_common.settings import repo_root
from lgsp_devkit.platform import SERVICES


def openapi_dir() -> Path:
    """Return where the generated documents live."""
    return repo_root() / "contracts" / "openapi"


def live_openapi(package: str) -> dict[str, Any]:
    """Build a service's app (without starting it) and return its OpenAPI document."""
    module = importlib.import_module(f"{package}.main")
    document: dict[str, Any] = module.create_app().openapi()
    return document


def render(document: dict[str, Any]) -> str:
    """Serialise a document the way it is committed."""
    return json.dumps(document, ensure_ascii=False, indent=2) + "\n"


def write_openapi(
    check: Annotated[
        bool, typer.Option("--check", help="Only compare; exit 1 when a file is out of date.")
    ] = False,
    out_dir: Annotated[Path | None, typer.Option(help="Target folder.")] = None,
) -> None:
    """Generate contracts/openapi/<service>.json from every service's code."""
    target = out_dir or openapi_dir()
    stale: list[str] = []
    for spec in SERVICES:
        path = target / f"{spec.name}.json"
        text = render(live_openapi(spec.package))
        if path.exists() and path.read_text(encoding="utf-8") == text:
            continue
        stale.append(path.name)
        if not check:
            target.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
    verb = "out of date" if check else "written"
    typer.echo(f"{len(stale)} document(s) {verb}: {', '.join(stale) or 'none'}")
    if check and stale:
        raise typer.Exit(1)
