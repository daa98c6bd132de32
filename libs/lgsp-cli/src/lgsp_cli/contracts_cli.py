"""`lgsp contracts verify`: the contract checks CI runs, for integrators' own pipelines too.

Checks a contracts folder: every schema is valid JSON Schema 2020-12; every valid example
validates; every invalid example fails exactly at its `expected_pointer`; the AsyncAPI document
names every topic and its `$ref`s resolve; and, with `--registry`, every topic's newest schema
file is the version registered there (drift between the folder and the registry fails).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import typer
import yaml
from jsonschema import Draft202012Validator, ValidationError
from jsonschema.exceptions import SchemaError

from lgsp_cli.registry_client import RegistryClient, RegistryError, version_files
from lgsp_common.schemas import authoring_validator
from lgsp_common.settings import repo_root

contracts = typer.Typer(
    help="Check the contracts folder and its agreement with the registry.", no_args_is_help=True
)


def _escape(token: object) -> str:
    return str(token).replace("~", "~0").replace("/", "~1")


def error_pointers(error: ValidationError) -> set[str]:
    """Return the JSON Pointers an error names (a missing or extra property's own pointer)."""
    base = "".join("/" + _escape(t) for t in error.absolute_path)
    instance = error.instance if isinstance(error.instance, dict) else {}
    if "propertyNames" in error.absolute_schema_path:  # the failing instance is a name
        return {f"{base}/{_escape(error.instance)}"}
    if error.validator == "required":
        wanted: list[str] = list(error.validator_value)  # type: ignore[arg-type]
        return {f"{base}/{_escape(p)}" for p in wanted if p not in instance}
    if error.validator in ("additionalProperties", "unevaluatedProperties"):
        declared = (
            set((error.schema or {}).get("properties", {}))
            if isinstance(error.schema, dict)
            else set()
        )
        return {f"{base}/{_escape(p)}" for p in instance if p not in declared} or {base}
    pointers = {base}
    for sub in error.context or ():
        pointers |= error_pointers(sub)
    return pointers


def _schemas(folder: Path) -> list[Path]:
    return sorted(
        p for p in folder.rglob("*.schema.json") if "openapi" not in p.relative_to(folder).parts
    )


def _examples(schema_path: Path, kind: str) -> list[Path]:
    base = schema_path.parent / "examples"
    if not schema_path.name.startswith("v"):
        base = base / schema_path.name.removesuffix(".schema.json")
    return sorted((base / kind).glob("*.json"))


def check_schema_file(path: Path, folder: Path) -> Iterator[str]:
    """Yield every problem of one schema and its examples."""
    name = path.relative_to(folder)
    schema = json.loads(path.read_text(encoding="utf-8"))
    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as exc:
        yield f"{name}: not a valid JSON Schema 2020-12: {exc.message}"
        return
    validator = authoring_validator(schema)
    for example in _examples(path, "valid"):
        for error in validator.iter_errors(json.loads(example.read_text(encoding="utf-8"))):
            yield f"{example.relative_to(folder)}: should be valid: {error.message}"
    for example in _examples(path, "invalid"):
        case = json.loads(example.read_text(encoding="utf-8"))
        errors = list(validator.iter_errors(case.get("payload")))
        found = set().union(*(error_pointers(e) for e in errors)) if errors else set()
        if not errors:
            yield f"{example.relative_to(folder)}: should be invalid but validates"
        elif case.get("expected_pointer") not in found:
            yield (
                f"{example.relative_to(folder)}: fails at {sorted(found)}, "
                f"not at {case.get('expected_pointer')!r}"
            )


def _refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        if isinstance(node.get("$ref"), str):
            yield node["$ref"]
        for value in node.values():
            yield from _refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from _refs(value)


def check_asyncapi(folder: Path) -> Iterator[str]:
    """Yield problems of the AsyncAPI document: missing topics, dangling file references."""
    document = yaml.safe_load((folder / "asyncapi.yaml").read_text(encoding="utf-8"))
    if not str(document.get("asyncapi", "")).startswith("3."):
        yield "asyncapi.yaml: not an AsyncAPI 3 document"
    addresses = {c.get("address") for c in (document.get("channels") or {}).values()}
    for topic in sorted(p.name for p in (folder / "topics").iterdir() if p.is_dir()):
        if topic not in addresses:
            yield f"asyncapi.yaml: no channel for topic {topic}"
    for ref in _refs(document):
        target = ref.split("#", 1)[0]
        if target and not (folder / target).is_file():
            yield f"asyncapi.yaml: $ref {ref} points at no file"


def check_registry(folder: Path, client: RegistryClient) -> Iterator[str]:
    """Yield topics whose newest schema file is not the registered newest version."""
    for topic_dir in sorted(p for p in (folder / "topics").iterdir() if p.is_dir()):
        files = version_files(topic_dir)
        if not files:
            continue
        local = json.loads(files[-1].read_text(encoding="utf-8"))
        try:
            registered = client.get(f"/v1/subjects/{topic_dir.name}/versions/latest")
        except RegistryError as exc:
            yield f"{topic_dir.name}: not registered ({exc.describe()})"
            continue
        if _canonical(registered.get("schema")) != _canonical(local):
            yield (
                f"{topic_dir.name}: {files[-1].name} differs from registered version "
                f"{registered.get('version')}"
            )


def _canonical(document: Any) -> str:
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


@contracts.command("verify")
def verify(
    folder: Annotated[
        Path | None, typer.Option("--dir", help="The contracts folder (default: the repo's).")
    ] = None,
    registry: Annotated[str | None, typer.Option(help="Also compare with this registry.")] = None,
) -> None:
    """Run every contract check; exit 1 naming each problem."""
    folder = folder or repo_root() / "contracts"
    problems = [p for path in _schemas(folder) for p in check_schema_file(path, folder)]
    problems += list(check_asyncapi(folder))
    if registry:
        problems += list(check_registry(folder, RegistryClient(registry)))
    for problem in problems:
        typer.echo(f"  ✗ {problem}")
    checked = len(_schemas(folder))
    if problems:
        typer.echo(f"FAILED: {len(problems)} problem(s) in {checked} schema(s)")
        raise typer.Exit(1)
    typer.echo(f"OK: {checked} schema(s), their examples and asyncapi.yaml agree")
