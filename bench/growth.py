"""Growth: how a bench's figure moves at 1x, 2x and 4x its load or its data size.

A bench picks its natural axis (load: connections, concurrency or rate; data size: events or
records) and a base, then calls `grow` (or `agrow` for an async measurement) with a function
that measures one point at a given scale: the figure (a throughput, with its p99 where the
bench measures latency) and, where the bench has a raw baseline, the baseline measured at the
same scale in the same run (same settings function, payloads, concurrency, window), so the
ratio at each factor is as fair as the bench's main figure.

The result is a `Growth`: per factor the figure, its ratio to the 1x point (the cost curve: a
throughput that stays near 1.00 as the data grows is flat; under load, 2.00 means it scaled),
and the ratio to the baseline. It is printed as a small table as it goes (progress output) and
saved in the bench's JSON by `figures.finish(..., growth=[...])`, which prints the whole table
again at the end. A point that failed (an error
counted, or its measurement raised) makes the whole growth invalid, and the bench exits 1.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

FACTORS = (1, 2, 4)
Axis = Literal["load", "data size"]


@dataclass
class Point:
    """One factor's measurement; `factor` and `scale` are filled in by `grow`."""

    value: float | None
    p99_ms: float | None = None
    baseline: float | None = None
    baseline_p99_ms: float | None = None
    errors: int = 0
    note: str = ""
    factor: int = 0
    scale: int = 0

    @property
    def valid(self) -> bool:
        """Tell whether the point counts: measured, and nothing failed while measuring."""
        return self.value is not None and self.errors == 0

    @property
    def ratio(self) -> float | None:
        """Return value / baseline at this factor, None without a (non-zero) baseline."""
        if self.value is None or not self.baseline:
            return None
        return self.value / self.baseline


def _over(value: float | None, first: float | None) -> float | None:
    return value / first if value is not None and first else None


@dataclass
class Growth:
    """A figure at each factor of one axis, with its ratio to the 1x point."""

    name: str  # the figure, e.g. "single events/s"
    unit: str
    axis: Axis
    scale_unit: str  # what the scale counts, e.g. "connections", "events"
    baseline_name: str = ""
    factors: tuple[int, ...] = FACTORS
    points: list[Point] = field(default_factory=list)

    @property
    def valid(self) -> bool:
        """Tell whether every factor was measured and no point failed."""
        measured = [p.factor for p in self.points]
        return measured == list(self.factors) and all(p.valid for p in self.points)

    def first(self) -> Point | None:
        """Return the 1x point (None if nothing was measured)."""
        return self.points[0] if self.points else None

    def growth(self, point: Point) -> float | None:
        """Return the point's figure over the 1x point's (None if either is missing)."""
        first = self.first()
        return _over(point.value, first.value if first else None) if point.valid else None

    def as_dict(self) -> dict[str, Any]:
        """Return the growth as saved in a bench's JSON (and in results.json)."""
        first = self.first() or Point(None)
        points = []
        for point in self.points:
            found = dataclasses.asdict(point) | {"valid": point.valid, "ratio": point.ratio}
            points.append(found | {
                "growth": self.growth(point),
                "p99_growth": _over(point.p99_ms, first.p99_ms),
                "baseline_growth": _over(point.baseline, first.baseline),
            })  # fmt: skip
        return {
            "name": self.name, "unit": self.unit, "axis": self.axis,
            "scale_unit": self.scale_unit, "baseline_name": self.baseline_name,
            "factors": list(self.factors), "valid": self.valid, "points": points,
        }  # fmt: skip

    def columns(self) -> tuple[bool, bool]:
        """Tell which optional columns the table has: (p99, baseline)."""
        p99 = any(p.p99_ms is not None or p.baseline_p99_ms is not None for p in self.points)
        return p99, any(p.baseline is not None for p in self.points)

    def header(self) -> list[str]:
        """Return the table's title and column names."""
        p99, base = self.columns()
        title = f"growth of {self.name} ({self.axis}: {self.scale_unit}" + (
            f"; baseline {self.baseline_name})" if self.baseline_name else ")"
        )
        names = f"  {'factor':<7}{self.scale_unit:>12}{self.unit:>14}{'x 1x':>7}"
        names += f"{'p99 ms':>9}" if p99 else ""
        names += f"{'baseline':>14}{'x 1x':>7}" if base else ""
        names += f"{'p99 ms':>9}" if base and p99 else ""
        names += f"{'ratio':>7}" if base else ""
        return [title, names]

    def line(self, point: Point) -> str:
        """Return one factor's line of the table."""
        p99, base = self.columns()
        first = self.first() or Point(None)
        growth = self.growth(point)
        value = _num(point.value, 14, 0 if (point.value or 0) >= 100 else 2)
        text = f"  {str(point.factor) + 'x':<7}{point.scale:>12,}"
        text += value if point.valid else f"{'INVALID':>14}"
        text += _num(growth, 7, 2)
        text += _num(point.p99_ms, 9, 1) if p99 else ""
        if base:
            text += _num(point.baseline, 14) + _num(_over(point.baseline, first.baseline), 7, 2)
            text += _num(point.baseline_p99_ms, 9, 1) if p99 else ""
            text += _num(point.ratio, 7, 2)
        text += f"  errors={point.errors}" if point.errors else ""
        return text + (f"  ({point.note})" if point.note else "")

    def table(self) -> str:
        """Return the growth as printed: one line per factor."""
        lines = self.header() + [self.line(point) for point in self.points]
        if not self.valid:
            lines.append("  INVALID growth (a point failed or was not measured)")
        return "\n".join(lines)


def _num(value: float | None, width: int, digits: int = 0) -> str:
    return f"{'-':>{width}}" if value is None else f"{value:>{width},.{digits}f}"


def _start(growth: Growth, factor: int, scale: int) -> None:
    print(f"» growth of {growth.name}: {factor}x = {scale:,} {growth.scale_unit}", flush=True)


def _failed(exc: BaseException) -> Point:
    return Point(None, errors=1, note=f"{type(exc).__name__}: {exc}"[:200])


def _done(growth: Growth, point: Point, factor: int, scale: int) -> None:
    growth.points.append(dataclasses.replace(point, factor=factor, scale=scale))
    header = growth.header() if len(growth.points) == 1 else []
    print("\n".join([*header, growth.line(growth.points[-1])]), flush=True)


def grow(
    name: str, unit: str, axis: Axis, scale_unit: str, base: int,
    measure: Callable[[int], Point], baseline_name: str = "",
    factors: Sequence[int] = FACTORS,
) -> Growth:  # fmt: skip
    """Measure `measure(base * factor)` for each factor in turn; print and return the growth.

    A measurement that raises is an invalid point (the growth goes on with the next factor).
    """
    growth = Growth(name, unit, axis, scale_unit, baseline_name, tuple(factors))
    for factor in factors:
        _start(growth, factor, base * factor)
        try:
            point = measure(base * factor)
        except Exception as exc:  # any failure is an invalid point, printed
            point = _failed(exc)
        _done(growth, point, factor, base * factor)
    return growth


async def agrow(
    name: str, unit: str, axis: Axis, scale_unit: str, base: int,
    measure: Callable[[int], Awaitable[Point]], baseline_name: str = "",
    factors: Sequence[int] = FACTORS,
) -> Growth:  # fmt: skip
    """`grow` for an async measurement."""
    growth = Growth(name, unit, axis, scale_unit, baseline_name, tuple(factors))
    for factor in factors:
        _start(growth, factor, base * factor)
        try:
            point = await measure(base * factor)
        except Exception as exc:  # any failure is an invalid point, printed
            point = _failed(exc)
        _done(growth, point, factor, base * factor)
    return growth


def skipped(name: str, unit: str, axis: Axis, scale_unit: str, reason: str) -> Growth:
    """Return a growth whose measurement could not even start: invalid, with the reason."""
    growth = Growth(name, unit, axis, scale_unit, factors=FACTORS)
    growth.points.append(Point(None, errors=1, note=reason[:200], factor=FACTORS[0]))
    print(growth.table(), flush=True)
    return growth
