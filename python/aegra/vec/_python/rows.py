"""Which vector slots each row owns, in a few bytes a row (`index/row_ids.rs` keeps a hash map).

A Python dict of row id -> list of slots cost ~190 bytes a row (the dict entry, two int objects,
a list): 190 MB at a million rows, half as much again as the int8 codes' 366 MB. Here the rows of
one vector each sit in two arrays sorted by row id (`_ids` int64, `_slots` int32: 12 bytes a
row); a row whose vector was deleted keeps its entry with slot -1 until the arrays are compacted.
Only rows that do not fit that shape stay in a dict (`_extra`): rows of several vectors, and rows
added out of id order (an update of an older item) until the next compaction. Store ids are
SQLite rowids, so a load and new items arrive in increasing order and append to the arrays.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

EXTRA_SHARE = 8  # compact when the dict or the dead entries pass 1/EXTRA_SHARE of the arrays


class RowSlots:
    def __init__(self) -> None:
        self._ids = np.empty(0, dtype=np.int64)
        self._slots = np.empty(0, dtype=np.int32)
        self._used = 0  # entries of `_ids`/`_slots` in use (the rest is room)
        self._dead = 0  # entries with slot -1
        self._extra: dict[int, list[int]] = {}
        self._count = 0

    def __len__(self) -> int:
        return self._count

    def nbytes(self) -> int:
        return self._ids.nbytes + self._slots.nbytes + 120 * len(self._extra)

    def reserve(self, rows: int) -> None:
        self._grow(self._used + rows)

    def get(self, row_id: int) -> list[int] | None:
        slots = self._extra.get(row_id)
        if slots is not None:
            return slots
        at = self._find(row_id)
        return None if at < 0 else [int(self._slots[at])]

    def present(self, row_ids: npt.NDArray[np.int64]) -> npt.NDArray[np.bool_]:
        """Which of `row_ids` are held, in one pass."""
        ids = self._ids[: self._used]
        at = np.minimum(np.searchsorted(ids, row_ids), max(self._used - 1, 0))
        found = (ids[at] == row_ids) & (self._slots[at] >= 0) if self._used else np.zeros(len(row_ids), dtype=bool)
        if self._extra:
            found |= np.isin(row_ids, np.fromiter(self._extra, dtype=np.int64, count=len(self._extra)))
        return found

    def add(self, row_id: int, slots: list[int]) -> None:
        """A row not held."""
        if len(slots) == 1 and (self._used == 0 or row_id > self._ids[self._used - 1]):
            self.add_many(np.array([row_id], dtype=np.int64), slots[0])
            return
        self._extra[row_id] = slots
        self._count += 1
        self._compact_if_due()

    def add_many(self, row_ids: npt.NDArray[np.int64], first_slot: int) -> None:
        """Rows not held, distinct, of one vector each: row `row_ids[i]` at slot `first_slot + i`."""
        n = len(row_ids)
        slots = np.arange(first_slot, first_slot + n, dtype=np.int32)
        increasing = n < 2 or bool((row_ids[1:] > row_ids[:-1]).all())
        if increasing and (self._used == 0 or n == 0 or row_ids[0] > self._ids[self._used - 1]):
            self._grow(self._used + n)
            self._ids[self._used : self._used + n] = row_ids
            self._slots[self._used : self._used + n] = slots
            self._used += n
            self._count += n
            return
        if n * EXTRA_SHARE < max(self._used, 1024):  # a few (updates of older rows): the dict
            self._extra.update(zip(row_ids.tolist(), ([slot] for slot in slots.tolist()), strict=True))
            self._count += n
            self._compact_if_due()
            return
        self._merge(row_ids, slots)
        self._count += n

    def remove(self, row_id: int) -> list[int] | None:
        slots = self._extra.pop(row_id, None)
        if slots is None:
            at = self._find(row_id)
            if at < 0:
                return None
            slots = [int(self._slots[at])]
            self._slots[at] = -1
            self._dead += 1
        self._count -= 1
        self._compact_if_due()
        return slots

    def move(self, row_id: int, old: int, new: int) -> None:
        """The vector of `row_id` at slot `old` is now at slot `new`."""
        slots = self._extra.get(row_id)
        if slots is not None:
            slots[slots.index(old)] = new
        else:
            self._slots[self._find(row_id)] = new

    def _find(self, row_id: int) -> int:
        """The live entry of `row_id` in the arrays, or -1."""
        at = int(np.searchsorted(self._ids[: self._used], row_id))
        if at < self._used and self._ids[at] == row_id and self._slots[at] >= 0:
            return at
        return -1

    def _grow(self, size: int) -> None:
        if size > len(self._ids):
            size = max(size, len(self._ids) + len(self._ids) // 8)
            for name in ("_ids", "_slots"):
                old = getattr(self, name)
                new = np.empty(size, dtype=old.dtype)  # pages past `_used` stay untouched
                new[: self._used] = old[: self._used]
                setattr(self, name, new)

    def _compact_if_due(self) -> None:
        if (len(self._extra) + self._dead) * EXTRA_SHARE > max(self._used, 1024):
            self._compact()

    def _compact(self) -> None:
        """Dead entries out; rows of one vector from the dict into the arrays."""
        single = [(row_id, slots[0]) for row_id, slots in self._extra.items() if len(slots) == 1]
        for row_id, _ in single:
            del self._extra[row_id]
        moved = np.array(single, dtype=np.int64).reshape(-1, 2)
        self._merge(moved[:, 0], moved[:, 1].astype(np.int32))

    def _merge(self, row_ids: np.ndarray, slots: np.ndarray) -> None:
        """The arrays' live entries and these (rows not held), sorted: no id twice, none dead."""
        live = self._slots[: self._used] >= 0
        ids = np.concatenate([self._ids[: self._used][live], row_ids])
        order = np.argsort(ids, kind="stable")
        self._ids = ids[order]
        self._slots = np.concatenate([self._slots[: self._used][live], slots])[order]
        self._used, self._dead = len(ids), 0
