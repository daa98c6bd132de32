"""JUnit XML reports of contract checks, so CI systems show each failing check by name.

One `<testcase>` per schema, example and compatibility verdict, grouped by kind (`classname`);
a failed check carries a `<failure>` with every problem found. Written with the standard
library's `xml.etree`.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated

import typer

JunitOpt = Annotated[
    Path | None,
    typer.Option("--junit", help="Also write a JUnit XML report (one test case per check)."),
]


@dataclass
class Case:
    """One check: what was checked, its kind, and every problem found (none: it passed)."""

    name: str
    kind: str
    failures: list[str] = field(default_factory=list)


def render_junit(suite: str, cases: list[Case]) -> bytes:
    """Render cases as a JUnit XML document."""
    failed = sum(1 for case in cases if case.failures)
    root = ET.Element("testsuites", name=suite, tests=str(len(cases)), failures=str(failed))
    group = ET.SubElement(
        root, "testsuite", name=suite, tests=str(len(cases)), failures=str(failed), errors="0"
    )
    for case in cases:
        element = ET.SubElement(group, "testcase", classname=f"{suite}.{case.kind}", name=case.name)
        if case.failures:
            failure = ET.SubElement(element, "failure", message=case.failures[0][:500])
            failure.text = "\n".join(case.failures)
    ET.indent(root)
    document: bytes = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    return document


def write_junit(path: Path, suite: str, cases: list[Case]) -> None:
    """Write the report; exit 2 with one line when the file cannot be written."""
    try:
        path.write_bytes(render_junit(suite, cases))
    except OSError as exc:
        typer.echo(f"error: cannot write the JUnit report {path}: {exc}", err=True)
        raise typer.Exit(2) from exc
