"""The registry as the adapter sees it: a live local copy, read on the hot path without I/O.

The real implementation is `lgsp_common.registry_copy.RegistryCopy` (fed by the compacted
`lgsp.registry` topic); unit tests inject a dictionary-backed fake with the same two members.
"""

from __future__ import annotations

from typing import Any, Protocol


class RegistryView(Protocol):
    """Read access to the registry's entities (kind `consumer`, `organisation`, ...)."""

    def get(self, kind: str, entity_id: str) -> dict[str, Any] | None:
        """Return the entity's latest state, or None if unknown or deleted."""
        ...

    @property
    def caught_up(self) -> bool:
        """Tell whether the copy has read the topic up to where it stood at start."""
        ...


def agency_code(registry: RegistryView, organisation_id: str | None) -> str | None:
    """Return the official agency code of an organisation, if the copy knows it."""
    if organisation_id is None:
        return None
    organisation = registry.get("organisation", organisation_id)
    code = None if organisation is None else organisation.get("code")
    return str(code) if code else None
