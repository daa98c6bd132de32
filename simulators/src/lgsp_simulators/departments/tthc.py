"""Administrative procedures (TTHC): the lifecycle of dossiers at the one-stop shops.

A dossier is submitted online or on paper (53.6% online, DOMAIN.md), processed, and its result
returned, on time or late, digitised or not. The department's system sends one event per state
change, keyed by the dossier id. Dossiers already in progress when the run starts (submitted in
the last weeks) are processed and returned too, which is where late returns come from.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from lgsp_simulators.departments.drafts import (
    DISTRICTS,
    Draft,
    before,
    iso,
    local,
    pick,
    pick_district,
)
from lgsp_simulators.scenario import TthcMix

TOPIC = "tthc.dossier.v1"
EVENT_TYPE = "vn.gov.lgsp.tthc.dossier.{status}"
# (procedure code, level, days allowed) of common procedures on the provincial portal.
_PROCEDURES = (
    ("1.001612", "province", 15),  # business registration change
    ("2.002154", "province", 10),  # construction permit
    ("1.004227", "province", 5),  # judicial record certificate
    ("2.000908", "district", 5),  # household business registration
    ("1.003584", "district", 20),  # land-use right certificate
    ("2.001157", "district", 3),  # certified copies
    ("1.001193", "commune", 1),  # birth registration
    ("1.000894", "commune", 3),  # residence confirmation
    ("2.000986", "commune", 2),  # marriage registration
)
_PROVINCE_AGENCIES = ("000.00.11.H03", "000.00.10.H03", "000.00.22.H03", "000.00.19.H03")
_OPEN_LIMIT = 5000  # dossiers remembered as in progress


@dataclass(frozen=True, slots=True)
class Dossier:
    """What the system knows of a dossier in progress."""

    dossier_id: str
    procedure_code: str
    agency_code: str
    district_code: str
    level: str
    channel: str
    submitted_at: datetime
    due_at: datetime
    paid_online: bool
    processed: bool = False


def agency_code(level: str, district: str, rng: random.Random) -> str:
    """Return the code of the agency handling a dossier at this level."""
    if level == "province":
        return rng.choice(_PROVINCE_AGENCIES)
    number = list(DISTRICTS).index(district) + 1
    if level == "district":
        return f"000.{number:02d}.29.H03"
    return f"{rng.randint(1, 20):03d}.{number:02d}.29.H03"


class TthcSim:
    """The provincial administrative-procedure system (one-stop shops and the portal)."""

    name = "tthc"

    def __init__(self, mix: TthcMix, rng: random.Random, run_tag: str) -> None:
        self._mix = mix
        self._rng = rng
        self._tag = run_tag
        self._open: list[Dossier] = []
        self._sequence = 0

    def next_draft(self, now: datetime) -> Draft:
        """Return the next state change: a new dossier, or one in progress moving on."""
        action = pick(self._rng, self._mix.actions)
        if action == "submitted":
            dossier = self._new(now, earlier=False)
            if len(self._open) < _OPEN_LIMIT:
                self._open.append(dossier)
            return self._event(dossier, "submitted", now)
        dossier = self._take(now)
        if action == "processed" and not dossier.processed:
            self._open.append(replace(dossier, processed=True))
            return self._event(dossier, "processed", now)
        return self._event(dossier, "returned", now)

    def _new(self, now: datetime, *, earlier: bool) -> Dossier:
        rng, mix = self._rng, self._mix
        self._sequence += 1
        level = pick(rng, mix.levels)
        code, _, days = rng.choice([p for p in _PROCEDURES if p[1] == level])
        submitted = before(now, rng, 60)
        if earlier:  # in progress before the run: most within the time allowed, some past it
            submitted = local(submitted - timedelta(days=days) * rng.uniform(0.3, 1.3))
        district = pick_district(rng)
        channel = "online" if rng.random() < mix.online_share else "paper"
        return Dossier(
            dossier_id=f"H03.{list(DISTRICTS).index(district) + 1:02d}-"
            f"{submitted:%y%m%d}-{self._tag}{self._sequence:06d}",
            procedure_code=code,
            agency_code=agency_code(level, district, rng),
            district_code=district,
            level=level,
            channel=channel,
            submitted_at=submitted,
            due_at=submitted + timedelta(days=days),
            paid_online=rng.random() < mix.paid_online[channel],
        )

    def _take(self, now: datetime) -> Dossier:
        """Return a dossier in progress: one of this run's, else one submitted days ago."""
        rng = self._rng
        if self._open and rng.random() < 0.7:
            return self._open.pop(rng.randrange(len(self._open)))
        return self._new(now, earlier=True)

    def _event(self, dossier: Dossier, status: str, now: datetime) -> Draft:
        payload: dict[str, object] = {
            "dossier_id": dossier.dossier_id,
            "procedure_code": dossier.procedure_code,
            "agency_code": dossier.agency_code,
            "district_code": dossier.district_code,
            "level": dossier.level,
            "status": status,
            "channel": dossier.channel,
            "submitted_at": iso(dossier.submitted_at),
            "due_at": iso(dossier.due_at),
            "paid_online": dossier.paid_online,
        }
        if status == "returned":
            returned = max(before(now, self._rng, 60), dossier.submitted_at)
            payload["returned_at"] = iso(returned)
            payload["on_time"] = returned <= dossier.due_at
            payload["result_digitised"] = self._rng.random() < self._mix.digitised[dossier.level]
        event_type = EVENT_TYPE.format(status=status)
        return Draft(self.name, TOPIC, event_type, payload)
