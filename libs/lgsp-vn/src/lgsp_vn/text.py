"""Unicode normalisation of JSON documents: Vietnamese text in one form (NFC), whatever was sent.

Vietnamese has two encodings of the same text: precomposed (NFC, "ễ" is one code point) and
decomposed (NFD, "e" + circumflex + tilde, three code points), and some systems send NFD. A
length limit or an enum then judges the encoding, not the text. `nfc_document` puts every string
of a JSON document (object keys included, at any depth) in NFC and returns the very same object
when nothing had to change, so a caller can tell with `is` whether to re-serialise.
"""

from __future__ import annotations

import unicodedata
from typing import Any

__all__ = ["KeyCollisionError", "nfc", "nfc_document"]


class KeyCollisionError(ValueError):
    """Two keys of one object are the same text in different encodings."""

    def __init__(self, key: str) -> None:
        super().__init__(f"two keys are {key!r} once normalised to NFC")
        self.key = key
        self.path: list[str | int] = []  # of the object holding the keys, filled on the way out

    @property
    def pointer(self) -> str:
        """The JSON Pointer of the object whose keys collide ("" for the root)."""
        return "".join("/" + str(t).replace("~", "~0").replace("/", "~1") for t in self.path)


def nfc(text: str) -> str:
    """Return the text in NFC (the same object when it already is)."""
    if text.isascii() or unicodedata.is_normalized("NFC", text):
        return text
    return unicodedata.normalize("NFC", text)


def _object(value: dict[str, Any]) -> dict[str, Any]:
    changed: dict[str, Any] | None = None
    for index, (key, item) in enumerate(value.items()):
        new_key = nfc(key)
        try:
            new_item = _walk(item)
        except KeyCollisionError as exc:
            exc.path.insert(0, new_key)
            raise
        if changed is None and (new_key is not key or new_item is not item):
            changed = dict(list(value.items())[:index])
        if changed is not None:
            if new_key in changed:
                raise KeyCollisionError(new_key)
            changed[new_key] = new_item
    return value if changed is None else changed


def _array(value: list[Any]) -> list[Any]:
    changed: list[Any] | None = None
    for index, item in enumerate(value):
        try:
            new_item = _walk(item)
        except KeyCollisionError as exc:
            exc.path.insert(0, index)
            raise
        if changed is None and new_item is not item:
            changed = value[:index]
        if changed is not None:
            changed.append(new_item)
    return value if changed is None else changed


def _walk(value: Any) -> Any:
    if isinstance(value, str):
        return nfc(value)
    if isinstance(value, dict):
        return _object(value)
    if isinstance(value, list):
        return _array(value)
    return value


def nfc_document(document: Any) -> Any:
    """Return a JSON document with every string and key in NFC; the same object if none changed.

    Raises KeyCollisionError when two keys of one object become equal (the later one would
    silently replace the earlier).
    """
    return _walk(document)
