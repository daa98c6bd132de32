"""The platform's two JSON Schema engines, decided once, built here and nowhere else.

- **Authoring** (the registry, `lgsp contracts verify`): python-jsonschema, Draft 2020-12 with
  its format checker. Its errors carry the schema path and the failing keyword, which the
  registry turns into explained refusals; speed does not matter there.
- **Runtime** (the gateway on every publish, the collector on every record): jsonschema-rs,
  Draft 2020-12, formats asserted. About an order of magnitude faster per payload.

Both assert formats, so an event the gateway accepts is one the collector accepts and one the
registry's examples would accept: `tests/contract/test_schema_engines.py` runs every example
under `contracts/` through both and fails when they disagree.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import jsonschema_rs

if TYPE_CHECKING:
    from jsonschema import Draft202012Validator


def authoring_validator(schema: dict[str, Any]) -> Draft202012Validator:
    """Build the validator the registry and the CLI check contracts and examples with."""
    # Imported here: the runtime services never load python-jsonschema and its format extras.
    from jsonschema import Draft202012Validator  # noqa: PLC0415

    return Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)


def runtime_validator(schema: dict[str, Any]) -> Any:
    """Build the validator the gateway and the collector check payloads with (jsonschema-rs)."""
    return jsonschema_rs.validator_for(schema, validate_formats=True)
