"""Limits on what a request may contain, checked before any work is done on it."""

from __future__ import annotations

from typing import Any


def json_depth(value: Any) -> int:
    """Return how deeply arrays and objects nest in a JSON value (a scalar is 0)."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:  # iterative, so a hostile document cannot exhaust the call stack
        node, depth = stack.pop()
        if isinstance(node, dict):
            children: Any = node.values()
        elif isinstance(node, list):
            children = node
        else:
            continue
        deepest = max(deepest, depth + 1)
        stack.extend((child, depth + 1) for child in children)
    return deepest
