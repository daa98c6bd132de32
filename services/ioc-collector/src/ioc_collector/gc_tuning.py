"""Garbage-collector tuning for the consumer loop (the entrypoint's `prepare` step)."""

from __future__ import annotations

import gc

GC_YOUNG_THRESHOLD = 50_000


def tune_gc() -> None:
    """Collect young objects less often, and never scan what start-up built (process-wide).

    The loop builds thousands of short-lived containers per batch (payloads, rows); with the
    default threshold (700) they outlive several young collections, get promoted, and then set
    off full collections, which walk every dedup set of the state: about a quarter of the CPU
    at full speed in the bench. With this threshold a batch's garbage mostly dies young.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(GC_YOUNG_THRESHOLD, 20, 20)
