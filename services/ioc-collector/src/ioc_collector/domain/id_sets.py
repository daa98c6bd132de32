"""A set of dedup ids that remembers which ids were added since it was last stored.

An open month window can hold a million event ids; storing them again at every commit would
make the commit cost grow with the window. The store therefore writes, per commit, only the
ids added since the previous commit (`domain/stored_parts.py`). `IdSet` is a plain `set` to
the domain code (membership, `add`, `update`) that also keeps those additions, in order.
Removing ids cannot be written as an addition: it marks the set `rewritten`, and the store then
writes the set whole.
"""

from __future__ import annotations

from collections.abc import Iterable, Set
from typing import Any, Self


class IdSet(set[str]):
    """A set of ids with the list of ids added since `take_added` last ran (their order is not
    kept: a stored set has none)."""

    def __init__(self, items: Iterable[str] = ()) -> None:
        super().__init__(items)
        self.added: list[str] = []
        self.rewritten = False

    def take_added(self) -> list[str]:
        """Return the ids added since the last call, and forget them."""
        added, self.added = self.added, []
        return added

    def add(self, element: str) -> None:
        """Add an id (and remember it when it is new)."""
        if element not in self:
            set.add(self, element)
            self.added.append(element)

    def update(self, *others: Iterable[str]) -> None:
        """Add ids (and remember the new ones, once each)."""
        for other in others:
            # Set operations in C over the ids given, never over the whole set; the usual
            # batch (every id new, each once) costs one look-up and one insert per id.
            items = other if isinstance(other, list | tuple) else list(other)
            if self.isdisjoint(items):
                before = len(self)
                set.update(self, items)
                self.added.extend(items if len(self) - before == len(items) else set(items))
            else:
                new = set(items).difference(self)
                set.update(self, new)
                self.added.extend(new)

    def __ior__(self, other: Set[str]) -> Self:  # type: ignore[override,misc]
        self.update(other)
        return self

    def _removed(self) -> None:
        self.rewritten = True
        self.added = []

    def discard(self, element: object) -> None:
        """Remove an id if present (the set is then written whole)."""
        set.discard(self, element)
        self._removed()

    def remove(self, element: str) -> None:
        """Remove an id (the set is then written whole)."""
        set.remove(self, element)
        self._removed()

    def pop(self) -> str:
        """Remove and return an id (the set is then written whole)."""
        self._removed()
        return set.pop(self)

    def clear(self) -> None:
        """Remove every id (the set is then written whole)."""
        set.clear(self)
        self._removed()

    def difference_update(self, *others: Iterable[Any]) -> None:
        """Remove ids (the set is then written whole)."""
        set.difference_update(self, *others)
        self._removed()

    def intersection_update(self, *others: Iterable[Any]) -> None:
        """Keep only common ids (the set is then written whole)."""
        set.intersection_update(self, *others)
        self._removed()

    def symmetric_difference_update(self, other: Iterable[str]) -> None:
        """Toggle ids (the set is then written whole)."""
        set.symmetric_difference_update(self, other)
        self._removed()

    def __isub__(self, other: Set[object]) -> Self:
        self.difference_update(other)
        return self

    def __iand__(self, other: Set[object]) -> Self:
        self.intersection_update(other)
        return self

    def __ixor__(self, other: Set[str]) -> Self:  # type: ignore[override,misc]
        self.symmetric_difference_update(other)
        return self
