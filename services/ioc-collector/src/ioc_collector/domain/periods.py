"""Reporting periods: a month (`2026-11`), a quarter (`2026-Q4`) or a year (`2026`), local time.

The Steering Committee reports monthly, quarterly and yearly ("chế độ báo cáo định kỳ hàng
tháng, quý, năm"). A period is `[start, end)` in Asia/Ho_Chi_Minh, so it is made of whole
hour, day and month windows: its value is computed from the KPI's own windows (see
`period_values`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from ioc_collector.domain.events import LOCAL_TZ

PeriodKind = Literal["month", "quarter", "year"]
_PATTERN = re.compile(r"^(?P<year>\d{4})(?:-(?:(?P<month>\d{2})|Q(?P<quarter>[1-4])))?$")
_MONTHS = {"month": 1, "quarter": 3, "year": 12}
MIN_YEAR, MAX_YEAR = 2000, 2100
_MONTH_NAMES = (
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
)  # fmt: skip


class PeriodError(ValueError):
    """A period that is not YYYY, YYYY-MM or YYYY-Qn (or out of range)."""


@dataclass(frozen=True, order=True, slots=True)
class Period:
    """A calendar month, quarter or year; `first_month` is 1-12 (the quarter's first month)."""

    year: int
    first_month: int
    kind: PeriodKind

    @property
    def months(self) -> int:
        """Return how many months the period spans."""
        return _MONTHS[self.kind]

    @property
    def id(self) -> str:
        """Return the period as written in URLs: 2026, 2026-Q4 or 2026-11."""
        if self.kind == "year":
            return f"{self.year}"
        if self.kind == "quarter":
            return f"{self.year}-Q{(self.first_month - 1) // 3 + 1}"
        return f"{self.year}-{self.first_month:02d}"

    @property
    def label_vi(self) -> str:
        """Return the period in Vietnamese: Tháng 11/2026, Quý 4/2026, Năm 2026."""
        if self.kind == "year":
            return f"Năm {self.year}"
        if self.kind == "quarter":
            return f"Quý {(self.first_month - 1) // 3 + 1}/{self.year}"
        return f"Tháng {self.first_month}/{self.year}"

    @property
    def label_en(self) -> str:
        """Return the period in English: November 2026, Q4 2026, 2026."""
        if self.kind == "year":
            return f"{self.year}"
        if self.kind == "quarter":
            return f"Q{(self.first_month - 1) // 3 + 1} {self.year}"
        return f"{_MONTH_NAMES[self.first_month - 1]} {self.year}"

    @property
    def start(self) -> datetime:
        """Return the period's first instant (local time)."""
        return datetime(self.year, self.first_month, 1, tzinfo=LOCAL_TZ)

    @property
    def end(self) -> datetime:
        """Return the instant just after the period (local time)."""
        return self.shifted(1).start

    def shifted(self, count: int) -> Period:
        """Return the period `count` periods later (earlier when negative), of the same kind."""
        index = self.year * 12 + self.first_month - 1 + count * self.months
        return Period(index // 12, index % 12 + 1, self.kind)

    def previous(self) -> Period:
        """Return the period just before this one."""
        return self.shifted(-1)


def parse_period(text: str) -> Period:
    """Parse `2026`, `2026-Q4` or `2026-11` (PeriodError otherwise)."""
    match = _PATTERN.match(text)
    if match is None:
        raise PeriodError(
            f"period {text!r} must be a year (2026), a quarter (2026-Q4) or a month (2026-11)"
        )
    year = int(match["year"])
    if not MIN_YEAR <= year <= MAX_YEAR:
        raise PeriodError(f"period {text!r}: the year must be between {MIN_YEAR} and {MAX_YEAR}")
    if match["month"] is not None:
        month = int(match["month"])
        if not 1 <= month <= 12:
            raise PeriodError(f"period {text!r}: the month must be 01 to 12")
        return Period(year, month, "month")
    if match["quarter"] is not None:
        return Period(year, (int(match["quarter"]) - 1) * 3 + 1, "quarter")
    return Period(year, 1, "year")


def period_containing(moment: datetime, kind: PeriodKind) -> Period:
    """Return the period of `kind` containing an aware datetime (in local time)."""
    local = moment.astimezone(LOCAL_TZ)
    if kind == "year":
        return Period(local.year, 1, "year")
    if kind == "quarter":
        return Period(local.year, (local.month - 1) // 3 * 3 + 1, "quarter")
    return Period(local.year, local.month, "month")
