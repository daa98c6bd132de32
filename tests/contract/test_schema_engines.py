"""One JSON Schema verdict, whichever engine gives it.

The registry and `lgsp contracts verify` validate with python-jsonschema, the gateway and the
collector with jsonschema-rs (`lgsp_common.schemas` builds both). Every example under
`contracts/` goes through both engines; they must agree with each other and with the folder the
example sits in (`valid/` or `invalid/`). And no module builds a payload validator anywhere
else, so these two are the only engines in use.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from lgsp_common.schemas import authoring_validator, runtime_validator

ROOT = Path(__file__).resolve().parents[2]
CONTRACTS = ROOT / "contracts"


def cases() -> list[tuple[Path, Path, bool]]:
    """Every (schema, example, expected verdict) of the contracts folder."""
    found = []
    for schema in sorted(CONTRACTS.rglob("*.schema.json")):
        if "openapi" in schema.parts:
            continue
        name = schema.name.removesuffix(".schema.json")
        # Topic versions keep examples beside the schema; the envelope's are named after it.
        for folder in (schema.parent / "examples", schema.parent / "examples" / name):
            for verdict in ("valid", "invalid"):
                for example in sorted((folder / verdict).glob("*.json")):
                    found.append((schema, example, verdict == "valid"))
    return found


def load(path: Path) -> Any:
    """Read one UTF-8 JSON file."""
    return json.loads(path.read_text(encoding="utf-8"))


CASES = cases()


def test_the_contracts_folder_has_examples_of_both_kinds() -> None:
    assert sum(1 for *_, valid in CASES if valid) >= 30
    assert sum(1 for *_, valid in CASES if not valid) >= 40
    topics = {schema.parent.name for schema, *_ in CASES}
    assert {"tthc.dossier.v1", "health.medical-visit.v1", "lgsp.audit", "envelope"} <= topics


@pytest.mark.parametrize(
    ("schema", "example", "valid"),
    CASES,
    ids=[str(example.relative_to(CONTRACTS)) for _, example, _ in CASES],
)
def test_both_engines_give_the_verdict_the_example_is_filed_under(
    schema: Path, example: Path, valid: bool
) -> None:
    document, payload = load(schema), load(example)
    authoring = authoring_validator(document).is_valid(payload)
    runtime = runtime_validator(document).is_valid(payload)
    assert (authoring, runtime) == (valid, valid), (
        f"python-jsonschema says {authoring}, jsonschema-rs says {runtime}, the folder says {valid}"
    )


def test_no_module_builds_a_payload_validator_outside_lgsp_common_schemas() -> None:
    builders = re.compile(r"jsonschema_rs\.validator_for|Draft202012Validator\((?!\s*Draft2020)")
    offenders = []
    for path in [*ROOT.glob("libs/*/src/**/*.py"), *ROOT.glob("services/*/src/**/*.py")]:
        if path.name == "schemas.py" and path.parent.name == "lgsp_common":
            continue
        text = path.read_text(encoding="utf-8")
        offenders += [f"{path.relative_to(ROOT)}: {m.group(0)}" for m in builders.finditer(text)]
    assert offenders == []
