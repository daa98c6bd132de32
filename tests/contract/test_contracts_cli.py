"""`lgsp contracts verify`: the checks integrators run in their CI, on files and the registry."""

from __future__ import annotations

import asyncio
import json
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from lgsp_cli.junit_report import render_junit
from lgsp_cli.main import app
from lgsp_cli.registry_check_report import check_cases
from lgsp_cli.registry_client import RegistryClient, RegistryError, load_contract
from lgsp_cli.registry_seed import default_seed_file, seed
from lgsp_common.settings import KafkaSettings
from lgsp_devkit.testing import TopicFactory, serve
from lgsp_registry.main import create_app as create_registry
from lgsp_registry.settings import RegistrySettings

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "contracts-cli-operator-token-0123456789"


def run(*args: str) -> tuple[int, str]:
    """Invoke the CLI and return (exit code, output)."""
    result = CliRunner().invoke(app, ["contracts", "verify", *args])
    return result.exit_code, result.output


def test_the_repository_contracts_pass() -> None:
    code, output = run()
    assert code == 0, output
    assert output.startswith("OK:")


def test_an_example_failing_elsewhere_than_declared_is_reported(tmp_path: Path) -> None:
    folder = tmp_path / "contracts"
    shutil.copytree(ROOT / "contracts", folder)
    example = next((folder / "topics/tthc.dossier.v1/examples/invalid").glob("*.json"))
    case = json.loads(example.read_text())
    case["expected_pointer"] = "/somewhere_else"
    example.write_text(json.dumps(case))
    valid = next((folder / "topics/health.medical-visit.v1/examples/valid").glob("*.json"))
    valid.write_text(json.dumps({**json.loads(valid.read_text()), "telemedicine": "yes"}))
    code, output = run("--dir", str(folder))
    assert code == 1
    assert example.name in output
    assert "/somewhere_else" in output
    assert f"{valid.name}: should be valid" in output
    assert "FAILED: 2 problem(s)" in output


@pytest.mark.kafka
async def test_drift_between_the_folder_and_the_registry_fails(
    kafka_settings: KafkaSettings, topic_factory: TopicFactory, tmp_path: Path
) -> None:
    settings = RegistrySettings(
        kafka=kafka_settings,
        data_dir=tmp_path / "registry",
        operator_token=TOKEN,
        registry_topic=await topic_factory("registry", 1, **{"cleanup.policy": "compact"}),
    )
    async with serve(create_registry(settings)) as url:
        client = RegistryClient(url, TOKEN)
        await asyncio.to_thread(seed, client, ROOT / "contracts", default_seed_file())
        code, output = await asyncio.to_thread(run, "--registry", url)
        assert code == 0, output
        body, _ = load_contract(ROOT / "contracts/topics/tthc.dossier.v1/v1.schema.json")
        body["schema"]["properties"]["note"] = {"type": "string", "maxLength": 200}
        await asyncio.to_thread(client.post, "/v1/subjects/tthc.dossier.v1/versions", body)
        code, output = await asyncio.to_thread(run, "--registry", url)
    assert code == 1
    assert "tthc.dossier.v1: v1.schema.json differs from registered version 2" in output


DEPARTMENT_TOPIC = "education.school-enrollment.v1"
ENROLLMENT_SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "$id": f"https://lgsp.example.gov.vn/contracts/topics/{DEPARTMENT_TOPIC}/v1.schema.json",
    "title": "School enrolment (Tuyển sinh)",
    "type": "object",
    "x-lgsp": {"topic": DEPARTMENT_TOPIC, "entityKey": "enrolment_id"},
    "required": ["enrolment_id", "school_code", "grade"],
    "additionalProperties": False,
    "properties": {
        "enrolment_id": {"type": "string", "minLength": 1},
        "school_code": {"type": "string", "pattern": "^[0-9]{8}$"},
        "grade": {"type": "integer", "minimum": 1, "maximum": 12},
    },
}


def department_folder(root: Path) -> Path:
    """Write one department's contracts folder: one topic, its schema and examples, no more."""
    topic = root / "topics" / DEPARTMENT_TOPIC
    (topic / "examples" / "valid").mkdir(parents=True)
    (topic / "examples" / "invalid").mkdir(parents=True)
    (topic / "v1.schema.json").write_text(json.dumps(ENROLLMENT_SCHEMA), encoding="utf-8")
    valid = {"enrolment_id": "E-1", "school_code": "79000001", "grade": 1}
    (topic / "examples/valid/first-grade.json").write_text(json.dumps(valid))
    invalid = {
        "reason": "grade 13",
        "expected_pointer": "/grade",
        "payload": {**valid, "grade": 13},
    }
    (topic / "examples/invalid/grade-13.json").write_text(json.dumps(invalid))
    return root


def assert_clear_error(code: int, output: str, *needles: str) -> None:
    """Exit 2 with one line naming the problem, never a traceback."""
    assert code == 2, output
    lines = [line for line in output.splitlines() if line.strip()]
    assert len(lines) == 1, output
    assert lines[0].startswith("error: ")
    assert "Traceback" not in output
    for needle in needles:
        assert needle in lines[0]


def test_one_departments_folder_passes_without_a_central_file(tmp_path: Path) -> None:
    folder = department_folder(tmp_path / "education")
    report = tmp_path / "report.xml"
    code, output = run("--dir", str(folder), "--junit", str(report))
    assert code == 0, output
    assert output.startswith("OK: 1 schema(s)")
    cases = ET.parse(report).getroot().findall(".//testcase")
    names = {(case.get("classname", "").rsplit(".", 1)[-1], case.get("name")) for case in cases}
    assert names == {
        ("schema", f"topics/{DEPARTMENT_TOPIC}/v1.schema.json"),
        ("example", f"topics/{DEPARTMENT_TOPIC}/examples/valid/first-grade.json"),
        ("example", f"topics/{DEPARTMENT_TOPIC}/examples/invalid/grade-13.json"),
    }
    assert not any(case.find("failure") is not None for case in cases)


def test_the_junit_report_names_each_failing_example(tmp_path: Path) -> None:
    folder = department_folder(tmp_path / "education")
    example = folder / "topics" / DEPARTMENT_TOPIC / "examples/valid/first-grade.json"
    example.write_text(json.dumps({"enrolment_id": "E-1", "school_code": "7", "grade": 1}))
    report = tmp_path / "report.xml"
    code, output = run("--dir", str(folder), "--junit", str(report))
    assert code == 1, output
    failed = [
        c for c in ET.parse(report).getroot().iter("testcase") if c.find("failure") is not None
    ]
    assert [c.get("name") for c in failed] == [example.relative_to(folder).as_posix()]


def test_a_missing_folder_is_a_clear_error(tmp_path: Path) -> None:
    assert_clear_error(*run("--dir", str(tmp_path / "nowhere")), "no such folder")


def test_a_folder_without_a_schema_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "topics" / DEPARTMENT_TOPIC / "examples").mkdir(parents=True)
    assert_clear_error(*run("--dir", str(tmp_path)), "no schema")


def test_a_topic_without_its_schema_is_a_clear_error(tmp_path: Path) -> None:
    folder = department_folder(tmp_path / "education")
    (folder / "topics" / "education.teacher.v1" / "examples").mkdir(parents=True)
    assert_clear_error(*run("--dir", str(folder)), "education.teacher.v1", "no v<n>.schema.json")


def test_malformed_json_is_a_clear_error(tmp_path: Path) -> None:
    folder = department_folder(tmp_path / "education")
    (folder / "topics" / DEPARTMENT_TOPIC / "v1.schema.json").write_text('{"type": "object",')
    assert_clear_error(*run("--dir", str(folder)), "v1.schema.json", "not valid JSON", "line 1")


def test_a_malformed_example_is_a_clear_error(tmp_path: Path) -> None:
    folder = department_folder(tmp_path / "education")
    (folder / "topics" / DEPARTMENT_TOPIC / "examples/valid/first-grade.json").write_text(
        "{'a': 1}"
    )
    assert_clear_error(*run("--dir", str(folder)), "first-grade.json", "not valid JSON")


@pytest.mark.parametrize(
    "document", [[1, 2], "a string", {"type": "objekt"}, {"minLength": -1}], ids=repr
)
def test_a_schema_that_is_not_a_json_schema_is_a_clear_error(tmp_path: Path, document: Any) -> None:
    folder = department_folder(tmp_path / "education")
    (folder / "topics" / DEPARTMENT_TOPIC / "v1.schema.json").write_text(json.dumps(document))
    assert_clear_error(*run("--dir", str(folder)), "v1.schema.json", "not a")


def test_malformed_yaml_is_a_clear_error(tmp_path: Path) -> None:
    folder = department_folder(tmp_path / "education")
    (folder / "asyncapi.yaml").write_text("asyncapi: 3.0.0\nchannels:\n  a: [unclosed\n")
    assert_clear_error(*run("--dir", str(folder)), "asyncapi.yaml", "not valid YAML", "line")


@pytest.mark.parametrize(
    ("text", "needle"),
    [("id: [unclosed\n", "not valid YAML (line"), ("- a\n- b\n", "expected a mapping")],
    ids=["malformed", "a-list"],
)
def test_a_broken_kpi_file_is_a_clear_error(tmp_path: Path, text: str, needle: str) -> None:
    file = tmp_path / "kpi.yaml"
    file.write_text(text)
    result = CliRunner().invoke(app, ["kpi", "--url", "http://127.0.0.1:9", "check", str(file)])
    assert_clear_error(result.exit_code, result.output, needle)


def test_a_refused_candidates_report_names_the_failing_example(tmp_path: Path) -> None:
    problem = {
        "title": "The examples do not match the schema",
        "errors": [{"pointer": "/examples/valid/1", "rule": "valid_example", "message": "fails"}],
    }
    body = {"schema": ENROLLMENT_SCHEMA, "examples": {"valid": [{}, {}], "invalid": [{}]}}
    cases = check_cases(tmp_path / "v1.schema.json", body, RegistryError(422, problem))
    failed = {case.name: case.failures for case in cases if case.failures}
    assert failed == {
        "valid example 1": ["/examples/valid/1: fails"],
        "compatibility": ["not checked: the candidate was refused"],
    }
    document = ET.fromstring(render_junit("check", cases))
    assert document.get("tests") == "5" and document.get("failures") == "2"
