"""The explanation attached to every incompatibility the registry reports."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from lgsp_registry.domain.diff_model import Direction


class Reason(BaseModel):
    """One incompatibility, precise enough to act on.

    ``pointer`` is the JSON Pointer of the keyword in the new schema, walked like JSON Schema's
    ``keywordLocation`` (e.g. ``/properties/amount_vnd/minimum``; removed things point where they
    were). ``data_path`` is the matching JSON Pointer into the event payload (e.g.
    ``/amount_vnd``), where ``*`` stands for any array index or any undeclared property name.
    """

    model_config = ConfigDict(frozen=True)

    pointer: str
    data_path: str
    rule: str
    message: str
    version: int | None = None
    direction: Direction | None = None
    consumer_id: str | None = None
