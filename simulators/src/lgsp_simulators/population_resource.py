"""The read contract of the population resource, so Health can ask to read it in the registry.

The registry accepts a consumer only for a subject that has a contract declaring the fields it
reads. The national population data is read (through the gateway), never published, so
`contracts/topics/` holds no contract for it; the simulator registers this one, as the
operator, on behalf of the Provincial Police (Công an tỉnh) when the subject has none yet.
It describes what the adapter may disclose: never the CCCD number itself.
"""

from __future__ import annotations

from typing import Any

_ADDRESS_PARTS = ("province_code", "province_name", "district_code", "district_name",
                  "commune_code", "commune_name")  # fmt: skip
ADDRESS = {
    "type": "object",
    "properties": {name: {"type": ["string", "null"]} for name in _ADDRESS_PARTS},
}


def citizen_schema(resource: str) -> dict[str, Any]:
    """Return the JSON Schema of a citizen record as the population adapter discloses it."""
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"https://lgsp.example.gov.vn/contracts/resources/{resource}/v1.schema.json",
        "title": "Citizen record (fields a purpose may disclose)",
        "description": "Thông tin công dân từ CSDL quốc gia về dân cư, chỉ các trường mà mục "
        "đích được phép (citizen fields from the national population database, only those the "
        "declared purpose allows). The CCCD number is never disclosed.",
        "type": "object",
        "properties": {
            "full_name": {"type": "string", "minLength": 1},
            "sex": {"type": "string", "enum": ["male", "female"]},
            "date_of_birth": {"type": "string", "format": "date"},
            "birth_province_code": {"type": "string", "pattern": "^[0-9]{3}$"},
            "permanent_address": ADDRESS,
            "electronic_identity": {"type": "string"},
            "health_insurance_number": {"type": ["string", "null"]},
        },
        "additionalProperties": False,
        "x-lgsp": {"topic": resource, "owner": "population", "cadence": "realtime"},
    }


def contract_body(resource: str) -> dict[str, Any]:
    """Return the registry request registering the resource's read contract with examples."""
    valid = {"full_name": "Nguyễn Thị Mai", "date_of_birth": "1987-04-12", "sex": "female"}
    return {
        "schema": citizen_schema(resource),
        "examples": {"valid": [valid], "invalid": [{**valid, "sex": "unknown"}]},
    }
