"""Data minimisation: keep only the payload fields a consumer was approved for.

A consumer's approval lists JSON Pointers (RFC 6901) into the event payload, as the registry
accepts them (`/amount_vnd`, `/address/commune_code`, `/result/files/*/name`, `/items/0`). The
projection keeps exactly those places and drops everything else:

- a pointer that ends at a value discloses that whole value (object, array or scalar);
- on an object, every token is a property name (`*` and digits included: `{"0": ...}`);
- on an array, `*` selects every item and a decimal index (no leading zero) selects one item;
  `-` names the element after the last, which never exists, so it discloses nothing;
- a pointer whose place is absent from the event discloses nothing (no key, no null);
- an array keeps the positions of the items it discloses: the answer lists items up to the last
  selected one (every item for `*`), with `null` where an item disclosed nothing;
- an object keeps only the properties that disclosed something.

Pure and shared: the gateway's pull reads and the webhook deliveries project with the same
`FieldSelection`, compiled once per approval and applied to every record.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

_MISSING: Any = object()


def parse_pointer(pointer: str) -> list[str]:
    """Split a JSON Pointer into unescaped reference tokens."""
    if pointer == "":
        return []
    if not pointer.startswith("/"):
        raise ValueError(f"field {pointer!r} is not a JSON Pointer (it must start with '/')")
    return [token.replace("~1", "/").replace("~0", "~") for token in pointer[1:].split("/")]


@dataclass
class _Node:
    whole: bool = False
    children: dict[str, _Node] = field(default_factory=dict)

    def add(self, tokens: Sequence[str]) -> None:
        node = self
        for token in tokens:
            if node.whole:
                return
            node = node.children.setdefault(token, _Node())
        node.whole = True
        node.children.clear()


def _is_index(token: str) -> bool:
    return token.isdigit() and token.isascii() and (len(token) == 1 or token[0] != "0")


def _project(nodes: list[_Node], value: Any) -> Any:
    if any(node.whole for node in nodes):
        return value
    if isinstance(value, Mapping):
        return _project_object(nodes, value)
    if isinstance(value, list):
        return _project_array(nodes, value)
    return _MISSING


def _project_object(nodes: list[_Node], value: Mapping[str, Any]) -> Any:
    wanted: dict[str, list[_Node]] = {}
    for node in nodes:
        for token, child in node.children.items():
            wanted.setdefault(token, []).append(child)
    out: dict[str, Any] = {}
    for token, children in wanted.items():
        if token in value:
            kept = _project(children, value[token])
            if kept is not _MISSING:
                out[token] = kept
    return out if out else _MISSING


def _project_array(nodes: list[_Node], value: list[Any]) -> Any:
    every = [node.children["*"] for node in nodes if "*" in node.children]
    indexed: dict[int, list[_Node]] = {}
    for node in nodes:
        for token, child in node.children.items():
            if _is_index(token) and int(token) < len(value):
                indexed.setdefault(int(token), []).append(child)
    span = len(value) if every else (max(indexed) + 1 if indexed else 0)
    out: list[Any] = []
    found = False
    for index in range(span):
        kept = _project(every + indexed.get(index, []), value[index])
        found = found or kept is not _MISSING
        out.append(None if kept is _MISSING else kept)
    return out if found else _MISSING


class FieldSelection:
    """The fields one approval discloses, compiled once and applied to every record."""

    def __init__(self, pointers: Iterable[str]) -> None:
        self.pointers: tuple[str, ...] = tuple(sorted(set(pointers)))
        self._root = _Node()
        self._each: list[tuple[str, _Node]] = []
        for pointer in self.pointers:
            tokens = parse_pointer(pointer)
            self._root.add(tokens)
            single = _Node()
            single.add(tokens)
            self._each.append((pointer, single))

    def project(self, payload: Any) -> Any:
        """Return a copy-free view of `payload` with only the selected fields (see module doc)."""
        kept = _project([self._root], payload)
        if kept is not _MISSING:
            return kept
        if isinstance(payload, Mapping):
            return {}
        if isinstance(payload, list):
            return []
        return None

    def disclosed(self, payload: Any) -> list[str]:
        """Name the pointers that disclosed something in `payload` (for the audit; no values)."""
        return [p for p, node in self._each if _project([node], payload) is not _MISSING]


def minimise(payload: Any, pointers: Iterable[str]) -> Any:
    """Keep only the fields of `payload` that the JSON Pointers `pointers` select."""
    return FieldSelection(pointers).project(payload)
