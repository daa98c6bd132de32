"""Resolution of references inside one schema document (`#/$defs/...`, `#anchor`, `#`).

Contracts must be self-contained: only references into the same document are resolved, so that
checking and validating a contract never needs the network. Embedded resources with their own
`$id` are not treated as new base URIs; every local reference is resolved against the root.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import unquote

from lgsp_registry.domain.json_pointer import unescape_token
from lgsp_registry.domain.schema_walk import iter_subschemas, validation_part


class RefError(ValueError):
    """A reference that cannot be resolved, or a chain of references that loops."""


class SchemaDocument:
    """One schema document and the lookups its local references need."""

    def __init__(self, root: Any) -> None:
        self.root = root
        root_id = root.get("$id") if isinstance(root, Mapping) else None
        self._root_id = root_id.split("#", 1)[0] if isinstance(root_id, str) else None
        self._anchors: dict[str, Any] | None = None

    def is_local(self, ref: str) -> bool:
        """Tell whether a reference points into this document."""
        if ref.startswith("#"):
            return True
        return self._root_id is not None and ref.split("#", 1)[0] == self._root_id

    def lookup(self, ref: str) -> Any:
        """Return the subschema a local reference points at."""
        fragment = unquote(ref.split("#", 1)[1]) if "#" in ref else ""
        if fragment == "":
            return self.root
        if fragment.startswith("/"):
            return self._walk_pointer(fragment, ref)
        anchor = self._anchor_index().get(fragment)
        if anchor is None:
            raise RefError(f"$ref {ref!r} names an anchor that no subschema declares")
        return anchor

    def _walk_pointer(self, fragment: str, ref: str) -> Any:
        node: Any = self.root
        for raw in fragment[1:].split("/"):
            token = unescape_token(raw)
            if isinstance(node, Mapping) and token in node:
                node = node[token]
            elif isinstance(node, list) and token.isdigit() and int(token) < len(node):
                node = node[int(token)]
            else:
                raise RefError(f"$ref {ref!r} does not resolve inside the document")
        if not isinstance(node, (Mapping, bool)):
            raise RefError(f"$ref {ref!r} points at a value that is not a schema")
        return node

    def _anchor_index(self) -> dict[str, Any]:
        if self._anchors is None:
            self._anchors = {}
            for _, node in iter_subschemas(self.root):
                if isinstance(node, Mapping) and isinstance(node.get("$anchor"), str):
                    self._anchors.setdefault(node["$anchor"], node)
        return self._anchors

    def follow_refs(self, node: Any) -> Any:
        """Follow local `$ref` chains; a `$ref` with validating siblings becomes an `allOf`."""
        seen: list[str] = []
        while isinstance(node, Mapping) and isinstance(node.get("$ref"), str):
            ref = node["$ref"]
            if not self.is_local(ref):
                return node
            if ref in seen:
                raise RefError("$ref cycle without any constraint: " + " -> ".join([*seen, ref]))
            seen.append(ref)
            target = self.lookup(ref)
            siblings = {k: v for k, v in validation_part(node).items() if k != "$ref"}
            if siblings:
                # In 2020-12 a $ref applies alongside its sibling keywords, i.e. a conjunction.
                return {"allOf": [target, siblings]}
            node = target
        return node


def ref_problems(root: Any) -> list[tuple[tuple[str, ...], str]]:
    """List (path, message) for every reference that is remote, dangling or looping."""
    doc = SchemaDocument(root)
    problems: list[tuple[tuple[str, ...], str]] = []
    for path, node in iter_subschemas(root):
        if not isinstance(node, Mapping):
            continue
        if "$dynamicRef" in node:
            problems.append(((*path, "$dynamicRef"), "$dynamicRef is not supported in contracts"))
        ref = node.get("$ref")
        if not isinstance(ref, str):
            continue
        if not doc.is_local(ref):
            message = f"$ref {ref!r} is not local; contracts must be self-contained (#/$defs/...)"
            problems.append(((*path, "$ref"), message))
            continue
        try:
            doc.follow_refs(node)
        except RefError as error:
            problems.append(((*path, "$ref"), str(error)))
    return problems
