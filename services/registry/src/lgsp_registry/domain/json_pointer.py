"""RFC 6901 JSON Pointers: the one spelling of a place in a schema or in data.

Every reason the registry gives (schema problems, compatibility findings, consumer fields) names
its place with these, so they sit below every other domain module and import none of them.
"""

from __future__ import annotations

from collections.abc import Iterable


def escape_token(token: str) -> str:
    """Escape one reference token (`~` as `~0`, `/` as `~1`)."""
    return token.replace("~", "~0").replace("/", "~1")


def unescape_token(token: str) -> str:
    """Undo `escape_token`."""
    return token.replace("~1", "/").replace("~0", "~")


def to_pointer(tokens: Iterable[str]) -> str:
    """Render tokens as a JSON Pointer."""
    return "".join("/" + escape_token(token) for token in tokens)


def parse_pointer(pointer: str) -> list[str]:
    """Split a JSON Pointer into unescaped tokens."""
    if pointer == "":
        return []
    return [unescape_token(token) for token in pointer[1:].split("/")]
