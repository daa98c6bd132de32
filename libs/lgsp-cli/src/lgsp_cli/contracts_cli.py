"""`lgsp contracts verify`: the contract checks CI runs, for integrators' own pipelines too.

Checks a contracts folder, the repository's or one department's own (`topics/<topic>/v<n>.schema
.json` with examples; no central file needed): every schema is valid JSON Schema 2020-12; every
valid example validates; every invalid example fails exactly at its `expected_pointer`; when the
folder has an `asyncapi.yaml`, it names every topic and its `$ref`s resolve; with `--registry`,
every topic's newest schema file is the version registered there. Exit 0 all pass, 1 a check
failed (each named), 2 an input cannot be used (missing folder or schema, malformed JSON or
YAML, a schema that is not a JSON Schema): one line, never a traceback. `--junit FILE` writes
one test case per schema, example, AsyncAPI document and registry comparison.
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

from lgsp_cli.junit_report import Case, JunitOpt, write_junit
from lgsp_cli.registry_client import RegistryClient, RegistryError, version_files
from lgsp_common.schemas import authoring_validator
from lgsp_common.settings import repo_root


class InputError(Exception):
    """An input that cannot be checked at all (missing, malformed): one line, exit 2."""


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


def read_json(path: Path, folder: Path) -> Any:
    """Read one JSON file; InputError (one line, the file named) when it cannot be read."""
    name = _name(path, folder)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise InputError(
            f"{name}: not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})"
        ) from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{name}: cannot be read: {exc}") from exc


def _name(path: Path, folder: Path) -> str:
    try:
        return path.relative_to(folder).as_posix()
    except ValueError:
        return str(path)


def _schema(path: Path, folder: Path) -> Any:
    schema = read_json(path, folder)
    if not isinstance(schema, dict | bool):
        kind = type(schema).__name__
        raise InputError(f"{_name(path, folder)}: not a JSON Schema (a {kind}, not an object)")
    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as exc:
        where = "/".join(str(p) for p in exc.path) or "(root)"
        raise InputError(
            f"{_name(path, folder)}: not a valid JSON Schema 2020-12 at {where}: "
            f"{exc.message[:200]}"
        ) from exc
    return schema


def _invalid_case(validator: Any, example: Path, folder: Path) -> list[str]:
    name = _name(example, folder)
    case = read_json(example, folder)
    if not isinstance(case, dict) or "payload" not in case:
        return [f"{name}: an invalid example is {{reason, expected_pointer, payload}}"]
    errors = list(validator.iter_errors(case.get("payload")))
    found = set().union(*(error_pointers(e) for e in errors)) if errors else set()
    if not errors:
        return [f"{name}: should be invalid but validates"]
    if case.get("expected_pointer") not in found:
        return [f"{name}: fails at {sorted(found)}, not at {case.get('expected_pointer')!r}"]
    return []


def check_schema_file(path: Path, folder: Path) -> list[Case]:
    """Check one schema and its examples: a case for the schema, then one per example."""
    validator = authoring_validator(_schema(path, folder))
    cases = [Case(_name(path, folder), "schema")]
    for example in _examples(path, "valid"):
        payload = read_json(example, folder)
        failures = [
            f"{_name(example, folder)}: should be valid: {error.message}"
            for error in validator.iter_errors(payload)
        ]
        cases.append(Case(_name(example, folder), "example", failures))
    for example in _examples(path, "invalid"):
        failures = _invalid_case(validator, example, folder)
        cases.append(Case(_name(example, folder), "example", failures))
    return cases


def _refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        if isinstance(node.get("$ref"), str):
            yield node["$ref"]
        for value in node.values():
            yield from _refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from _refs(value)


def _asyncapi_document(folder: Path) -> Any:
    path = folder / "asyncapi.yaml"
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        problem = getattr(exc, "problem", None) or "malformed"
        raise InputError(f"asyncapi.yaml: not valid YAML: {problem}{where}") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"asyncapi.yaml: cannot be read: {exc}") from exc
    if not isinstance(document, dict):
        raise InputError("asyncapi.yaml: not a YAML mapping")
    return document


def check_asyncapi(folder: Path) -> Iterator[str]:
    """Yield problems of the AsyncAPI document: missing topics, dangling file references."""
    document = _asyncapi_document(folder)
    if not str(document.get("asyncapi", "")).startswith("3."):
        yield "asyncapi.yaml: not an AsyncAPI 3 document"
    channels = document.get("channels") if isinstance(document.get("channels"), dict) else {}
    addresses = {c.get("address") for c in channels.values() if isinstance(c, dict)}
    for topic in (p.name for p in _topic_dirs(folder)):
        if topic not in addresses:
            yield f"asyncapi.yaml: no channel for topic {topic}"
    for ref in _refs(document):
        target = ref.split("#", 1)[0]
        if target and not (folder / target).is_file():
            yield f"asyncapi.yaml: $ref {ref} points at no file"


def _topic_dirs(folder: Path) -> list[Path]:
    topics = folder / "topics"
    return sorted(p for p in topics.iterdir() if p.is_dir()) if topics.is_dir() else []


def check_registry(folder: Path, client: RegistryClient) -> Iterator[Case]:
    """Yield one case per topic: is its newest schema file the registered newest version?"""
    for topic_dir in _topic_dirs(folder):
        files = version_files(topic_dir)
        if not files:
            continue
        local = read_json(files[-1], folder)
        case = Case(topic_dir.name, "registry")
        try:
            registered = client.get(f"/v1/subjects/{topic_dir.name}/versions/latest")
        except RegistryError as exc:
            case.failures.append(f"{topic_dir.name}: not registered ({exc.describe()})")
            yield case
            continue
        if _canonical(registered.get("schema")) != _canonical(local):
            case.failures.append(
                f"{topic_dir.name}: {files[-1].name} differs from registered version "
                f"{registered.get('version')}"
            )
        yield case


def _canonical(document: Any) -> str:
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def collect(folder: Path, registry: str | None) -> list[Case]:
    """Run every check of a contracts folder; InputError when an input cannot be used."""
    if not folder.is_dir():
        raise InputError(f"{folder}: no such folder")
    schemas = _schemas(folder)
    if not schemas:
        raise InputError(
            f"{folder}: no schema: expected topics/<topic>/v<n>.schema.json (or *.schema.json)"
        )
    for topic_dir in _topic_dirs(folder):
        if not version_files(topic_dir):
            raise InputError(f"{_name(topic_dir, folder)}: no v<n>.schema.json in this topic")
    cases = [case for path in schemas for case in check_schema_file(path, folder)]
    if (folder / "asyncapi.yaml").is_file():
        cases.append(Case("asyncapi.yaml", "asyncapi", list(check_asyncapi(folder))))
    if registry:
        cases += check_registry(folder, RegistryClient(registry))
    return cases


@contracts.command("verify")
def verify(
    folder: Annotated[
        Path | None,
        typer.Option("--dir", help="A contracts folder: the repo's, or one department's."),
    ] = None,
    registry: Annotated[str | None, typer.Option(help="Also compare with this registry.")] = None,
    junit: JunitOpt = None,
) -> None:
    """Run every contract check; exit 1 naming each problem, 2 when an input is unusable."""
    folder = folder or repo_root() / "contracts"
    try:
        cases = collect(folder, registry)
    except InputError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    if junit is not None:
        write_junit(junit, "lgsp contracts verify", cases)
    problems = [failure for case in cases for failure in case.failures]
    for problem in problems:
        typer.echo(f"  ✗ {problem}")
    checked = sum(1 for case in cases if case.kind == "schema")
    if problems:
        typer.echo(f"FAILED: {len(problems)} problem(s) in {checked} schema(s)")
        raise typer.Exit(1)
    also = " and asyncapi.yaml" if (folder / "asyncapi.yaml").is_file() else ""
    typer.echo(f"OK: {checked} schema(s), their examples{also} agree")
