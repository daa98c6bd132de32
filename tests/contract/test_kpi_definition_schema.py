"""The KPI definition format: contracts/meta/kpi-definition.schema.json, the collector's YAMLs.

The schema file is a copy of the registry's `KPI_DEFINITION_SCHEMA` (no drift); every KPI YAML
of the collector's seed folder validates against it with both engines; broken definitions are
refused at the place they break.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema import Draft202012Validator

from lgsp_common.schemas import authoring_validator, runtime_validator
from lgsp_registry.domain.kpi_format import KPI_DEFINITION_SCHEMA
from lgsp_registry.domain.kpi_rules import format_violations

ROOT = Path(__file__).resolve().parents[2]
SCHEMA_FILE = ROOT / "contracts/meta/kpi-definition.schema.json"
KPI_FILES = sorted((ROOT / "services/ioc-collector/kpis").glob("*.yaml"))


def as_json(path: Path) -> Any:
    """Read a KPI YAML as the JSON the CLI pushes (YAML dates become ISO strings)."""
    return json.loads(json.dumps(yaml.safe_load(path.read_text(encoding="utf-8")), default=str))


def test_the_schema_file_is_the_registrys_format() -> None:
    on_disk = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    assert on_disk == KPI_DEFINITION_SCHEMA, (
        "contracts/meta/kpi-definition.schema.json drifted from "
        "lgsp_registry.domain.kpi_format; rewrite it from KPI_DEFINITION_SCHEMA"
    )
    Draft202012Validator.check_schema(on_disk)


@pytest.mark.parametrize("path", KPI_FILES, ids=[p.name for p in KPI_FILES])
def test_every_seed_kpi_validates(path: Path) -> None:
    document = as_json(path)
    errors = [e.message for e in authoring_validator(KPI_DEFINITION_SCHEMA).iter_errors(document)]
    assert errors == []
    assert runtime_validator(KPI_DEFINITION_SCHEMA).is_valid(document)


def test_there_are_seed_kpis() -> None:
    assert len(KPI_FILES) >= 10


BASE = as_json(ROOT / "services/ioc-collector/kpis/online-dossier-rate.yaml")


def broken(change: str) -> dict[str, Any]:
    """Return the online-dossier-rate KPI with one thing broken."""
    body = copy.deepcopy(BASE)
    if change == "unknown-key":
        body["dimension"] = body.pop("dimensions")
    elif change == "measure-key":
        body["measure"]["numerator"]["filtre"] = body["measure"]["numerator"].pop("filter")
    elif change == "op":
        body["filter"]["where"][0]["op"] = "equals"
    elif change == "gt-without-value":
        body["filter"]["where"][0] = {"field": "status", "op": "gt"}
    elif change == "duration":
        body["idle_timeout"] = "PT"
    elif change == "reference-unused":
        body["reference"] = {"value": 10, "source": "x"}
    elif change == "bad-id":
        body["id"] = "Online Rate"
    return body


CASES = {
    "unknown-key": "/dimension",
    "measure-key": "/measure/numerator/filtre",
    "op": "/filter/where/0/op",
    "gt-without-value": "/filter/where/0/value",
    "duration": "/idle_timeout",
    "reference-unused": "/reference",
    "bad-id": "/id",
}


@pytest.mark.parametrize(("change", "pointer"), CASES.items(), ids=list(CASES))
def test_a_broken_definition_is_refused_at_its_place(change: str, pointer: str) -> None:
    body = broken(change)
    assert not runtime_validator(KPI_DEFINITION_SCHEMA).is_valid(body)
    assert pointer in {v.pointer for v in format_violations(body)}
