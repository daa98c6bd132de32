"""Who is calling: an authenticated data source (publishes) or consumer (reads)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Caller:
    """An authenticated caller: a data source (publishes) or a consumer (reads)."""

    kind: str
    id: str
    topic: str | None = None
    purpose: str | None = None
    fields: tuple[str, ...] = ()
    approved: bool = False
