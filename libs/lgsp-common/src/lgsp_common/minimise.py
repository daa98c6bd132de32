"""Data minimisation: keep only the payload fields a consumer was approved for.

A consumer's approval lists JSON Pointers (RFC 6901) into the event payload, as the registry
accepts them (`/amount_vnd`, `/address/commune_code`, `/result/files/*/name`, `/items/0`). The
projection keeps exactly those places and drops everything else:

- a pointer that ends at a value discloses that whole value (object, array or scalar);
- on an object, every token is a property name (`*` and digits included: `{"0": ...}`);
- on an array, `*` selects every item and a decimal index (no leading zero) selects one item;
  `-` names the element after the last, which never exists, so it discloses nothing;
- a pointer whose place is absent from the event discloses nothing (no key, no null);
- an array keeps the positions of the items it discloses: with `*` every item is listed, with
  indexes the items up to the last one that disclosed something; `null` stands where an item
  disclosed nothing;
- an object keeps only the properties that disclosed something.

Pure and shared: the gateway's pull reads and the webhook deliveries project with the same
`FieldSelection`, compiled once per approval (into nested closures, a few microseconds per
record) and applied to every record.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
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


def _merge(nodes: list[_Node]) -> _Node:
    """One node selecting what any of `nodes` selects (a `*` and an index on the same item)."""
    merged = _Node()
    if any(node.whole for node in nodes):
        merged.whole = True
        return merged
    for node in nodes:
        for token, child in node.children.items():
            existing = merged.children.get(token)
            merged.children[token] = _merge([existing, child]) if existing else child
    return merged


Projector = Callable[[Any], Any]


def _keep(value: Any) -> Any:
    return value


def _compile(node: _Node) -> Projector:
    """Turn a selection tree into nested closures, so that a record costs no tree walk."""
    if node.whole:
        return _keep
    fields = [(token, _compile(child)) for token, child in node.children.items()]
    leaves = tuple(token for token, child in node.children.items() if child.whole)
    every = node.children.get("*")
    indexes = {int(t): child for t, child in node.children.items() if _is_index(t)}
    for_index = {i: _compile(_merge([every, c]) if every else c) for i, c in indexes.items()}
    for_rest = _compile(every) if every is not None else None
    span = max(indexes) + 1 if indexes else 0
    all_leaves = len(leaves) == len(fields)

    def project(value: Any) -> Any:
        if isinstance(value, dict):
            if all_leaves:
                out = {token: value[token] for token in leaves if token in value}
            else:
                out = {}
                for token, child in fields:
                    if token in value:
                        kept = child(value[token])
                        if kept is not _MISSING:
                            out[token] = kept
            return out if out else _MISSING
        if isinstance(value, list):
            return _project_array(value, for_index, for_rest, span)
        return _MISSING

    return project


def _project_array(
    value: list[Any], for_index: dict[int, Projector], for_rest: Projector | None, span: int
) -> Any:
    count = len(value) if for_rest is not None else min(span, len(value))
    out: list[Any] = []
    found = False
    for index in range(count):
        child = for_index.get(index, for_rest)
        kept = child(value[index]) if child is not None else _MISSING
        if kept is _MISSING:
            out.append(None)
        else:
            found = True
            out.append(kept)
    if not found:
        return _MISSING
    while out and out[-1] is None and for_rest is None:
        out.pop()  # positions after the last disclosed item say nothing
    return out


class FieldSelection:
    """The fields one approval discloses, compiled once and applied to every record."""

    def __init__(self, pointers: Iterable[str]) -> None:
        self.pointers: tuple[str, ...] = tuple(sorted(set(pointers)))
        root = _Node()
        self._each: list[tuple[str, Projector]] = []
        for pointer in self.pointers:
            tokens = parse_pointer(pointer)
            root.add(tokens)
            single = _Node()
            single.add(tokens)
            self._each.append((pointer, _compile(single)))
        self._project = _compile(root)

    def project(self, payload: Any) -> Any:
        """Return a copy-free view of `payload` with only the selected fields (see module doc)."""
        kept = self._project(payload)
        if kept is not _MISSING:
            return kept
        if isinstance(payload, dict):
            return {}
        if isinstance(payload, list):
            return []
        return None

    def disclosed(self, payload: Any) -> list[str]:
        """Name the pointers that disclosed something in `payload` (for the audit; no values)."""
        return [p for p, project in self._each if project(payload) is not _MISSING]


def minimise(payload: Any, pointers: Iterable[str]) -> Any:
    """Keep only the fields of `payload` that the JSON Pointers `pointers` select."""
    return FieldSelection(pointers).project(payload)
