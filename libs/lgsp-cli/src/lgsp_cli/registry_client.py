"""A small HTTP client of the registry for the CLI: credentials, problem+json errors, files."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from lgsp_common.settings import repo_root

DEFAULT_URL = "http://127.0.0.1:8081"
_VERSION_FILE = re.compile(r"^v([1-9][0-9]*)\.schema\.json$")


class RegistryError(Exception):
    """The registry refused a request (`problem` is its problem+json body) or was unreachable."""

    def __init__(self, status: int, problem: dict[str, Any]) -> None:
        super().__init__(problem.get("title", "error"))
        self.status = status
        self.problem = problem

    def describe(self) -> str:
        """Render the problem for a terminal, every failing place on its own line."""
        lines = [f"error {self.status}: {self.problem.get('title', '')}"]
        if self.problem.get("detail"):
            lines.append(f"  {self.problem['detail']}")
        for error in self.problem.get("errors", []):
            lines.append(
                f"  - {error.get('pointer') or '/'} [{error.get('rule')}] {error.get('message')}"
            )
        return "\n".join(lines)


def default_token() -> str | None:
    """Return the operator token a local registry generated, if there is one in var/."""
    path = repo_root() / "var" / "registry" / "operator-token"
    return path.read_text(encoding="utf-8").strip() if path.is_file() else None


@dataclass
class RegistryClient:
    """Calls the registry's HTTP API; raises RegistryError on any refusal."""

    url: str = DEFAULT_URL
    token: str | None = None
    timeout_s: float = 30.0

    def request(self, method: str, path: str, body: Any = None) -> Any:
        """Send one request and return the decoded JSON answer (None for 204)."""
        return self.send(method, path, body)[1]

    def send(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        """Send one request; returns (status, decoded JSON answer or None)."""
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        try:
            with httpx.Client(base_url=self.url, timeout=self.timeout_s) as http:
                response = http.request(method, path, json=body, headers=headers)
        except httpx.TransportError as exc:
            problem = {"title": "Registry unreachable", "detail": f"{self.url}: {exc}"}
            raise RegistryError(0, problem) from exc
        if response.status_code >= 400:
            try:
                problem = response.json()
            except ValueError:
                problem = {"title": response.reason_phrase, "detail": response.text[:500]}
            raise RegistryError(response.status_code, problem)
        return response.status_code, response.json() if response.content else None

    def get(self, path: str) -> Any:
        """GET a resource."""
        return self.request("GET", path)

    def post(self, path: str, body: Any = None) -> Any:
        """POST to a resource."""
        return self.request("POST", path, body)


def _example(path: Path, kind: str) -> Any:
    value = json.loads(path.read_text(encoding="utf-8"))
    # contracts/ wraps invalid examples as {"reason", "expected_pointer", "payload"}.
    if kind == "invalid" and isinstance(value, dict) and "payload" in value and "reason" in value:
        return value["payload"]
    return value


def load_examples(folder: Path) -> dict[str, list[Any]]:
    """Read `valid/*.json` and `invalid/*.json` from an examples folder."""
    return {
        kind: [_example(p, kind) for p in sorted((folder / kind).glob("*.json"))]
        for kind in ("valid", "invalid")
    }


def load_contract(file: Path, examples: Path | None = None) -> tuple[dict[str, Any], str | None]:
    """Read a schema file and its examples as a request body; returns (body, subject or None)."""
    schema = json.loads(file.read_text(encoding="utf-8"))
    if not isinstance(schema, dict):
        raise ValueError(f"{file} does not hold a JSON object")
    folder = examples or file.parent / "examples"
    body = {"schema": schema, "examples": load_examples(folder)}
    extension = schema.get("x-lgsp")
    subject = extension.get("topic") if isinstance(extension, dict) else None
    if subject is None and _VERSION_FILE.match(file.name):
        subject = file.parent.name
    return body, subject


def version_files(folder: Path) -> list[Path]:
    """Return a topic folder's `v<n>.schema.json` files in version order."""
    found = [
        (int(m.group(1)), p)
        for p in folder.glob("v*.schema.json")
        if (m := _VERSION_FILE.match(p.name))
    ]
    return [path for _, path in sorted(found)]
