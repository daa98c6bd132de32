"""Figures of the two share benches, read from their printed tables.

`share_pull_bench.py` and `share_webhook_bench.py` print their figures but write no `--json`;
`run_all.py` reads them here. A missing line means the bench did not get that far: the figure
is then invalid, never left out.
"""

from __future__ import annotations

import re
from typing import Any

from figures import Figure, Target, invalid

NUMBER = r"([\d.]+)"


def _row(text: str, label: str, columns: int) -> list[float] | None:
    """Return the numbers following `label` on its line, or None."""
    found = re.search(re.escape(label) + r"[^\n]*?" + r"\s+".join([NUMBER] * columns), text)
    return [float(x) for x in found.groups()] if found else None


def parse_share_pull(text: str) -> list[dict[str, Any]]:
    """Read the pull throughput (against the raw consumer) and the wake-up latency."""
    figures: list[Figure] = []
    pull = re.search(r"pull records/s \([^)]*\)\s+" + r"\s+".join([NUMBER] * 3), text)
    if pull:
        ours, raw, _ = (float(x) for x in pull.groups())
        figures.append(Figure("pull records/s", ours, "records/s", raw, "raw aiokafka consumer",
                              Target(">=", 0.5, "ratio")))  # fmt: skip
    else:
        figures.append(invalid("pull records/s", "records/s", "not printed"))
    for share, target in (("p50", None), ("p99", Target("<", 50))):
        row = _row(text, f"produce-to-wake-up {share} ms", 2)
        name = f"produce-to-wake-up {share}"
        if row is None:
            figures.append(invalid(name, "ms", "not printed", target))
        else:
            figures.append(Figure(name, row[0], "ms", row[1], "raw consumer tailing", target))
    return [f.as_dict() for f in figures]


def parse_share_webhooks(text: str) -> list[dict[str, Any]]:
    """Read the webhook delivery rate and the raw consumer's."""
    raw = re.search(r"raw aiokafka consumer:\s+" + NUMBER, text)
    hooks = re.search(r"webhook deliveries:\s+" + NUMBER, text)
    name = "webhook deliveries/s (one worker)"
    if not (raw and hooks):
        return [invalid(name, "events/s", "not printed", Target(">=", 2000)).as_dict()]
    figure = Figure(name, float(hooks.group(1)), "events/s", float(raw.group(1)),
                    "raw aiokafka consumer", Target(">=", 2000))  # fmt: skip
    return [figure.as_dict()]
