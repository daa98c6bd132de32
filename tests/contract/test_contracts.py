"""Contract tests: the schemas, their examples, the envelope and the AsyncAPI document agree."""

import base64
import hashlib
import hmac
import itertools
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema import Draft202012Validator, FormatChecker, ValidationError

ROOT = Path(__file__).resolve().parents[2]
CONTRACTS = ROOT / "contracts"
ID_BASE = "https://lgsp.example.gov.vn/contracts/"
DRAFT_2020_12 = "https://json-schema.org/draft/2020-12/schema"
FORMAT_CHECKER: FormatChecker = Draft202012Validator.FORMAT_CHECKER
PLACEHOLDER = re.compile(r"\{([a-z][a-z0-9_]*)\}")
MIN_VALID, MIN_INVALID = 3, 4


def load_json(path: Path) -> Any:
    """Read one UTF-8 JSON file."""
    return json.loads(path.read_text(encoding="utf-8"))


def schema_files() -> list[Path]:
    """List every JSON Schema in the folder, generated OpenAPI documents excluded."""
    found = CONTRACTS.rglob("*.schema.json")
    return sorted(p for p in found if "openapi" not in p.relative_to(CONTRACTS).parts)


def topic_dirs() -> list[Path]:
    """List the data-topic folders."""
    return sorted(p for p in (CONTRACTS / "topics").iterdir() if p.is_dir())


def platform_dirs() -> list[Path]:
    """List the platform-topic folders."""
    return sorted(p for p in (CONTRACTS / "platform").iterdir() if p.is_dir())


def examples_dir(schema_path: Path) -> Path:
    """Return where a schema's examples live: beside a v<n> schema, else under its stem."""
    if re.fullmatch(r"v[1-9][0-9]*\.schema\.json", schema_path.name):
        return schema_path.parent / "examples"
    return schema_path.parent / "examples" / schema_path.name.removesuffix(".schema.json")


def schemas_with_examples() -> list[Path]:
    """List the schemas that must carry examples (the meta-schema's examples are the contracts)."""
    return [p for p in schema_files() if p.parent.name != "meta"]


def example_cases(kind: str) -> list[tuple[Path, Path]]:
    """Pair each schema with each of its example files of one kind (valid or invalid)."""
    cases = []
    for schema_path in schemas_with_examples():
        for example in sorted((examples_dir(schema_path) / kind).glob("*.json")):
            cases.append((schema_path, example))
    return cases


def rel(path: Path) -> str:
    """Name a path relative to contracts/ for test ids and messages."""
    return path.relative_to(CONTRACTS).as_posix()


def validator(schema: dict[str, Any]) -> Draft202012Validator:
    """Build a 2020-12 validator that checks formats."""
    return Draft202012Validator(schema, format_checker=FORMAT_CHECKER)


def escape(token: object) -> str:
    """Escape one JSON Pointer reference token (RFC 6901)."""
    return str(token).replace("~", "~0").replace("/", "~1")


def error_pointers(error: ValidationError) -> set[str]:
    """Return the JSON Pointers of the fields an error blames."""
    parent = "".join(f"/{escape(part)}" for part in error.absolute_path)
    instance = error.instance
    if error.validator == "required" and isinstance(instance, dict):
        names = error.validator_value if isinstance(error.validator_value, list) else []
        return {f"{parent}/{escape(n)}" for n in names if n not in instance}
    if error.validator == "additionalProperties" and isinstance(instance, dict):
        schema = error.schema if isinstance(error.schema, dict) else {}
        known = set(schema.get("properties", {}))
        patterns = list(schema.get("patternProperties", {}))
        extras = [
            k for k in instance if k not in known and not any(re.search(p, k) for p in patterns)
        ]
        return {f"{parent}/{escape(k)}" for k in extras}
    if "propertyNames" in error.relative_schema_path:
        return {f"{parent}/{escape(instance)}"}
    return {parent}


def ids_to_paths() -> dict[str, Path]:
    """Map every schema $id to its file."""
    return {load_json(p)["$id"]: p for p in schema_files()}


def render(template: str, payload: dict[str, Any]) -> str:
    """Fill {field} placeholders of an x-lgsp template from a payload."""
    return PLACEHOLDER.sub(lambda m: str(payload[m.group(1)]), template)


# --- schemas -----------------------------------------------------------------------------------


def test_format_checker_checks_the_formats_the_contracts_use() -> None:
    # Without the format-nongpl extras jsonschema silently skips date-time and uri checks.
    for fmt in ("date", "date-time", "uri", "uri-reference", "json-pointer"):
        assert fmt in FORMAT_CHECKER.checkers, f"install jsonschema[format-nongpl]: {fmt}"
    assert not FORMAT_CHECKER.conforms("2024-09-24T08:15:00", "date-time")
    assert not FORMAT_CHECKER.conforms("2024-02-30", "date")


@pytest.mark.parametrize("path", schema_files(), ids=rel)
def test_schema_is_valid_json_schema_2020_12(path: Path) -> None:
    schema = load_json(path)
    assert schema.get("$schema") == DRAFT_2020_12
    Draft202012Validator.check_schema(schema, format_checker=FORMAT_CHECKER)


@pytest.mark.parametrize("path", schema_files(), ids=rel)
def test_schema_id_mirrors_its_path(path: Path) -> None:
    assert load_json(path)["$id"] == ID_BASE + rel(path)


def test_schema_ids_are_unique() -> None:
    assert len(ids_to_paths()) == len(schema_files())


def test_topic_folders_match_topics_md() -> None:
    spec = (CONTRACTS / "TOPICS.md").read_text(encoding="utf-8")
    listed = set(re.findall(r"^\| `([a-z0-9.-]+\.v[0-9]+)` \|", spec, flags=re.MULTILINE))
    assert listed, "no topic rows found in TOPICS.md"
    assert {p.name for p in topic_dirs()} == listed


@pytest.mark.parametrize("folder", topic_dirs(), ids=lambda p: p.name)
def test_topic_contract_follows_the_profile(folder: Path) -> None:
    profile = load_json(CONTRACTS / "meta" / "topic-contract.schema.json")
    revisions = sorted(folder.glob("v*.schema.json"))
    assert revisions, f"{folder.name} has no contract"
    for path in revisions:
        schema = load_json(path)
        validator(profile).validate(schema)
        ext = schema["x-lgsp"]
        assert ext["topic"] == folder.name
        assert ext["entityKey"] in schema["required"]
        assert ext["entityKey"] in schema["properties"]
        for field in PLACEHOLDER.findall(ext["eventType"]):
            assert field in schema["required"]
            assert "enum" in schema["properties"][field]


@pytest.mark.parametrize("folder", topic_dirs(), ids=lambda p: p.name)
def test_every_event_type_a_topic_can_emit_is_a_valid_ce_type(folder: Path) -> None:
    ce_type = load_json(CONTRACTS / "envelope" / "cloudevent.schema.json")["properties"]["type"]
    for path in folder.glob("v*.schema.json"):
        schema = load_json(path)
        template = schema["x-lgsp"]["eventType"]
        fields = PLACEHOLDER.findall(template)
        for combo in itertools.product(*(schema["properties"][f]["enum"] for f in fields)):
            rendered = render(template, dict(zip(fields, combo, strict=True)))
            validator(ce_type).validate(rendered)


@pytest.mark.parametrize("folder", platform_dirs(), ids=lambda p: p.name)
def test_platform_record_key_names_required_fields(folder: Path) -> None:
    schema = load_json(folder / "v1.schema.json")
    ext = schema["x-lgsp"]
    assert ext["topic"] == folder.name
    fields = PLACEHOLDER.findall(ext["recordKey"])
    assert fields, "recordKey names no field"
    assert set(fields) <= set(schema["required"])


# --- examples ----------------------------------------------------------------------------------


@pytest.mark.parametrize("path", schemas_with_examples(), ids=rel)
def test_schema_has_enough_examples(path: Path) -> None:
    folder = examples_dir(path)
    assert len(list((folder / "valid").glob("*.json"))) >= MIN_VALID
    assert len(list((folder / "invalid").glob("*.json"))) >= MIN_INVALID


@pytest.mark.parametrize(("schema_path", "example"), example_cases("valid"), ids=rel)
def test_valid_example_validates(schema_path: Path, example: Path) -> None:
    errors = list(validator(load_json(schema_path)).iter_errors(load_json(example)))
    assert errors == [], [e.message for e in errors]


@pytest.mark.parametrize(("schema_path", "example"), example_cases("invalid"), ids=rel)
def test_invalid_example_fails_at_expected_pointer(schema_path: Path, example: Path) -> None:
    case = load_json(example)
    assert set(case) == {"reason", "expected_pointer", "payload"}
    assert case["reason"].strip()
    errors = list(validator(load_json(schema_path)).iter_errors(case["payload"]))
    assert errors, f"{rel(example)} unexpectedly validates"
    blamed = set().union(*(error_pointers(e) for e in errors))
    # Exactly one failing field, so each example documents one rule.
    assert blamed == {case["expected_pointer"]}, [e.message for e in errors]


@pytest.mark.parametrize(
    "example", sorted((CONTRACTS / "envelope/examples/cloudevent/valid").glob("*.json")), ids=rel
)
def test_cloudevent_example_agrees_with_its_contract(example: Path) -> None:
    event = load_json(example)
    schema = load_json(ids_to_paths()[event["dataschema"]])
    validator(schema).validate(event["data"])
    ext = schema["x-lgsp"]
    assert event["subject"] == str(event["data"][ext["entityKey"]])
    assert event["type"] == render(ext["eventType"], event["data"])


@pytest.mark.parametrize(
    "example", sorted((CONTRACTS / "envelope/examples/kafka-headers/valid").glob("*.json")), ids=rel
)
def test_kafka_headers_example_names_a_topic_contract(example: Path) -> None:
    headers = load_json(example)
    path = ids_to_paths()[headers["ce_dataschema"]]
    assert path.is_relative_to(CONTRACTS / "topics")
    assert headers["ce_type"].startswith("vn.gov.lgsp.")


AUDIT_EXAMPLE_KEY = b"example-audit-key-not-a-secret"


@pytest.mark.parametrize(
    "example", sorted((CONTRACTS / "platform/lgsp.audit/examples/valid").glob("*.json")), ids=rel
)
def test_audit_example_follows_the_hash_chain_rule(example: Path) -> None:
    record = load_json(example)
    body = {k: v for k, v in record.items() if k not in {"hash", "signature"}}
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert record["hash"] == hashlib.sha256(canonical.encode()).hexdigest()
    mac = hmac.new(AUDIT_EXAMPLE_KEY, record["hash"].encode("ascii"), hashlib.sha256).digest()
    assert record["signature"] == base64.urlsafe_b64encode(mac).rstrip(b"=").decode()


# --- AsyncAPI ----------------------------------------------------------------------------------


def asyncapi() -> dict[str, Any]:
    """Load contracts/asyncapi.yaml."""
    document = yaml.safe_load((CONTRACTS / "asyncapi.yaml").read_text(encoding="utf-8"))
    assert isinstance(document, dict)
    return document


def refs(node: Any) -> Iterator[str]:
    """Yield every $ref value in a parsed document."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                yield value
            else:
                yield from refs(value)
    elif isinstance(node, list):
        for item in node:
            yield from refs(item)


def resolve_pointer(document: Any, fragment: str) -> Any:
    """Follow a JSON Pointer fragment (without '#') through a document."""
    node = document
    for raw in fragment.split("/")[1:]:
        token = raw.replace("~1", "/").replace("~0", "~")
        node = node[int(token)] if isinstance(node, list) else node[token]
    return node


def resolve_ref(ref: str) -> Any:
    """Resolve an AsyncAPI $ref, local or relative to contracts/."""
    target, _, fragment = ref.partition("#")
    document = asyncapi() if not target else load_json(CONTRACTS / target)
    return resolve_pointer(document, fragment) if fragment else document


def channels_by_address() -> dict[str, dict[str, Any]]:
    """Map each AsyncAPI channel's Kafka topic to the channel."""
    return {c["address"]: c for c in asyncapi()["channels"].values()}


def test_asyncapi_is_version_3() -> None:
    document = asyncapi()
    assert str(document["asyncapi"]).startswith("3.")
    assert document["info"]["title"]
    assert document["info"]["version"]


def test_asyncapi_names_every_topic_folder() -> None:
    expected = {p.name for p in topic_dirs() + platform_dirs()}
    assert set(channels_by_address()) == expected


def test_asyncapi_refs_resolve() -> None:
    found = list(refs(asyncapi()))
    assert found
    for ref in found:
        target = ref.partition("#")[0]
        assert not target or (CONTRACTS / target).is_file(), f"missing file for {ref}"
        assert resolve_ref(ref) is not None, ref


def test_asyncapi_channel_payloads_are_their_topics_contracts() -> None:
    for address, channel in channels_by_address().items():
        for message_ref in channel["messages"].values():
            message = resolve_ref(message_ref["$ref"])
            payload = resolve_ref(message["payload"]["schema"]["$ref"])
            assert payload["x-lgsp"]["topic"] == address


def key_field(extension: dict[str, Any]) -> str | None:
    """Return the payload field that is the whole record key, if one is."""
    if "entityKey" in extension:
        return str(extension["entityKey"])
    match = re.fullmatch(r"\{([a-z][a-z0-9_]*)\}", extension["recordKey"])
    return match.group(1) if match else None


def test_asyncapi_record_keys_are_the_contracts_keys() -> None:
    for address, channel in channels_by_address().items():
        for message_ref in channel["messages"].values():
            message = resolve_ref(message_ref["$ref"])
            payload = resolve_ref(message["payload"]["schema"]["$ref"])
            key = message["bindings"]["kafka"]["key"]
            field = key_field(payload["x-lgsp"])
            if field is None:
                assert key["type"] == "string", address
                assert key["description"], address
            else:
                assert key["$ref"].endswith(f"#/properties/{field}"), address


def test_asyncapi_registry_topic_is_compacted() -> None:
    binding = channels_by_address()["lgsp.registry"]["bindings"]["kafka"]
    assert binding["topicConfiguration"]["cleanup.policy"] == ["compact"]
