"""Each HTTP service's live OpenAPI document equals the one committed in contracts/openapi/.

Regenerate with `uv run lgsp dev openapi` after changing a service's API, and commit the result.
"""

from __future__ import annotations

import json

import pytest

from lgsp_devkit.openapi_gen import live_openapi, openapi_dir
from lgsp_devkit.platform import SERVICES, ServiceSpec


@pytest.mark.parametrize("spec", SERVICES, ids=[s.name for s in SERVICES])
def test_live_openapi_matches_the_committed_document(spec: ServiceSpec) -> None:
    name, package = spec.name, spec.package
    path = openapi_dir() / f"{name}.json"
    assert path.exists(), f"{path} is missing: run `uv run lgsp dev openapi`"
    committed = json.loads(path.read_text(encoding="utf-8"))
    live = live_openapi(package)
    assert live == committed, (
        f"{name}'s API differs from contracts/openapi/{name}.json: run `uv run lgsp dev openapi`"
    )


def test_every_document_is_openapi_3_with_paths() -> None:
    for spec in SERVICES:
        document = json.loads((openapi_dir() / f"{spec.name}.json").read_text(encoding="utf-8"))
        assert str(document["openapi"]).startswith("3.")
        assert "/healthz" in document["paths"]
