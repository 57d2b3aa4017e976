"""A map that keeps what fits in a budget of bytes, least recently used going first.

Counting entries bounds nothing when a caller chooses how big each entry is:
a thousand entries of a few bytes and a thousand of a megabyte are both a
thousand. Each entry here is put with its size, and the map never holds more
than `max_bytes` of them; one larger than `max_entry_bytes` is not kept at all,
so a single entry can never push out everything else.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class ByteBudget(Generic[K, V]):
    """At most `max_bytes` of entries, each of at most `max_entry_bytes`."""

    def __init__(self, *, max_bytes: int, max_entry_bytes: int) -> None:
        if max_bytes < 0 or max_entry_bytes < 0:
            raise ValueError("a byte budget cannot be negative")
        self.max_bytes = max_bytes
        self.max_entry_bytes = min(max_entry_bytes, max_bytes)
        self._entries: OrderedDict[K, tuple[V, int]] = OrderedDict()
        self._bytes = 0

    @property
    def bytes(self) -> int:
        """The sum of the sizes of the entries held now."""
        return self._bytes

    def get(self, key: K) -> V | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        self._entries.move_to_end(key)
        return entry[0]

    def put(self, key: K, value: V, size: int) -> bool:
        """Keep `value` under `key`, as `size` bytes; False when it is too big to keep."""
        if size < 0:
            raise ValueError("an entry cannot have a negative size")
        self.discard(key)
        if size > self.max_entry_bytes:
            return False
        self._entries[key] = (value, size)
        self._bytes += size
        while self._bytes > self.max_bytes:
            _, (_, evicted) = self._entries.popitem(last=False)
            self._bytes -= evicted
        return True

    def discard(self, key: K) -> None:
        entry = self._entries.pop(key, None)
        if entry is not None:
            self._bytes -= entry[1]

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, key: object) -> bool:
        return key in self._entries
