"""What of a citizen's record leaves the adapter: only the fields a decision granted."""

from collections.abc import Iterable
from typing import Any

from lgsp_vn.citizen import Citizen
from population_adapter.domain.purposes import CitizenField


def disclose(citizen: Citizen, fields: Iterable[CitizenField]) -> dict[str, Any]:
    """Return the JSON-ready values of only the given fields of the record."""
    wanted = {CitizenField(f).value for f in fields}
    return citizen.model_dump(mode="json", include=wanted)
