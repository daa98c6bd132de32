"""Run the schemathesis CLI against a live service's OpenAPI and return (exit code, output)."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

CHECKS = (
    "not_a_server_error,status_code_conformance,content_type_conformance,"
    "response_headers_conformance,response_schema_conformance"
)


async def run_schemathesis(
    url: str,
    headers: dict[str, str],
    cwd: Path,
    *,
    max_examples: int = 25,
    seed: int = 6,
    phases: str = "examples,coverage,fuzzing,stateful",
    extra: tuple[str, ...] = (),
    timeout_s: float = 300,
) -> tuple[int, str]:
    """Fuzz `url`/openapi.json with the given headers (every phase, stateful included)."""
    header_args = [
        arg for name, value in headers.items() for arg in ("--header", f"{name}: {value}")
    ]
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "schemathesis.cli", "run", f"{url}/openapi.json",
        "--checks", CHECKS, *header_args, "--max-examples", str(max_examples),
        "--seed", str(seed), "--request-timeout", "15", "--phases", phases, *extra,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT, cwd=cwd,
    )  # fmt: skip
    output, _ = await asyncio.wait_for(process.communicate(), timeout_s)
    return process.returncode or 0, output.decode(errors="replace")
