"""A bench's figures: each with its baseline, ratio, target and validity, printed and saved.

Every bench builds `Figure`s and ends with `finish(bench, figures, args.json, growth)`: it
prints the table (and each growth's, see `growth.py`), writes the figures and the growth as JSON
when `--json PATH` was given (what `run_all.py` reads), and returns the exit status: 1 when any
figure or growth is invalid. A figure is invalid when any request of
its measurement failed (only successful answers count) or it could not be measured at all;
an invalid figure is printed as such, never as a number next to a target.
"""

from __future__ import annotations

import json
import operator
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from growth import Growth

Compare = Literal[">=", "<", "<="]
_COMPARE: dict[str, Callable[[float, float], bool]] = {
    ">=": operator.ge,
    "<": operator.lt,
    "<=": operator.le,
}


@dataclass(frozen=True)
class Target:
    """What a figure must reach: its value, or its ratio to the baseline, compared to a bound."""

    compare: Compare
    bound: float
    of: Literal["value", "ratio"] = "value"

    def text(self) -> str:
        """Return the target as printed, e.g. `>= 5000` or `ratio >= 0.5`."""
        prefix = "ratio " if self.of == "ratio" else ""
        return f"{prefix}{self.compare} {self.bound:g}"


@dataclass
class Figure:
    """One measured figure with its baseline from the same run and window."""

    name: str
    value: float | None
    unit: str
    baseline: float | None = None
    baseline_name: str = ""
    target: Target | None = None
    errors: int = 0  # failed requests (or failures of any kind) during the measurement
    note: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def valid(self) -> bool:
        """Tell whether the figure counts: measured, and nothing failed while measuring."""
        return self.value is not None and self.errors == 0

    @property
    def ratio(self) -> float | None:
        """Return value / baseline, or None without a (non-zero) baseline."""
        if self.value is None or not self.baseline:
            return None
        return self.value / self.baseline

    @property
    def met(self) -> bool | None:
        """Tell whether the target holds (None: no target); an invalid figure never meets it."""
        if self.target is None:
            return None
        measured = self.ratio if self.target.of == "ratio" else self.value
        if not self.valid or measured is None:
            return False
        return _COMPARE[self.target.compare](measured, self.target.bound)

    def as_dict(self) -> dict[str, Any]:
        """Return the figure as saved in the results file."""
        found = asdict(self)
        found["target"] = self.target.text() if self.target else None
        return found | {"ratio": self.ratio, "valid": self.valid, "met": self.met}


def invalid(name: str, unit: str, reason: str, target: Target | None = None) -> Figure:
    """Return a figure that could not be measured (its measurement raised)."""
    return Figure(name, None, unit, target=target, errors=1, note=reason)


def format_row(figure: Figure) -> str:
    """Return one line of a bench's table."""
    value = "INVALID" if not figure.valid else f"{figure.value:,.2f}"
    base = f"{figure.baseline:,.2f}" if figure.baseline is not None else "-"
    ratio = f"{figure.ratio:.2f}" if figure.ratio is not None else "-"
    met = {None: "", True: "met", False: "NOT met"}[figure.met]
    target = figure.target.text() if figure.target else ""
    errors = f" errors={figure.errors}" if figure.errors else ""
    note = f" ({figure.note})" if figure.note else ""
    return (
        f"  {figure.name:<44}{value:>14} {figure.unit:<9}{base:>14}{ratio:>8}  "
        f"{target:<14}{met}{errors}{note}"
    )


def finish(
    bench: str, figures: Sequence[Figure], json_path: Path | None, growth: Sequence[Growth] = ()
) -> int:
    """Print the table, save the figures if asked; return 1 if any figure or growth is invalid."""
    print(f"\n{bench}: {'figure':<44}{'value':>14} {'unit':<9}{'baseline':>14}{'ratio':>8}")
    for figure in figures:
        print(format_row(figure))
    bad = [f.name for f in figures if not f.valid]
    if bad:
        print(f"INVALID figures (a request failed or nothing was measured): {', '.join(bad)}")
    for curve in growth:
        print("\n" + curve.table())
    bad += [f"growth of {g.name}" for g in growth if not g.valid]
    if json_path is not None:
        body = {
            "bench": bench,
            "figures": [f.as_dict() for f in figures],
            "growth": [g.as_dict() for g in growth],
        }
        json_path.write_text(json.dumps(body, indent=2), encoding="utf-8")
    return 1 if bad or not figures else 0


def percentile(values: Sequence[float], share: float) -> float:
    """Return the nearest-rank percentile of `values` (which must not be empty)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(share * len(ordered)) - 1))]
