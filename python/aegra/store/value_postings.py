"""An in-memory index of the values of the store's items, for semantic searches with a value filter.

A search with a filter used to let the vector index rank every item and SQL check the filter on
the best of them: at a million items that scans every code (~21 ms) for a 10% filter. With this
index the filter is answered first, as the sorted ids of the items that pass, and the vector core
scans only those (its candidate-id selection, the one SQL's candidate lists use).

What it answers: equality (`{"kind": "note"}`, `{"kind": {"$eq": "note"}}`) on top-level fields
holding strings, numbers or booleans, several fields ANDed; anything else (other operators, nested
keys, lists, None, a field with too many distinct values) is answered the old way, by SQL.

Per field it keeps one byte per item id, the code of the item's value (0: a value no answerable
condition equals: missing, null, a list, an object), and the dictionary of codes. A field is
indexed the first time a filter names it, in a background thread (a full read of `store_items`,
~1.4 s of CPU at a million items; the searches meanwhile go the old way), and only while it has at
most `MAX_VALUES` distinct values: at a million items a field costs 1 MB, against the 366 MB of
int8 codes. Writes are applied as they commit (`apply`), also while a field is being built: the
build reads one snapshot, taken after recording began, and the writes since are replayed on it.

Values are decoded with msgspec, as the filter's SQL function decodes them, and compared as Python
compares them (a dict lookup: `1 == 1.0 == True`), so the ids are exactly those the SQL filter
passes. The one assumption: no value holds a key twice (SQLite's `->` reads the first, msgspec the
last); the store writes values from dicts.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import msgspec
import numpy as np

from aegra import vec
from aegra.store import filters

MAX_VALUES = 255  # codes 1..255 in a byte; a field with more is not indexed
MAX_FIELDS = 8  # fields indexed at once; a filter on another goes the old way
GROWTH = 1.25  # the code arrays grow ahead by a quarter when a write names a larger id

Equality = tuple[str, Any]
Decoded = list[tuple[int, Any]]  # (item id, its decoded value)


class TooManyValues(Exception):
    """The field has more distinct values than the index keeps."""


def _key(value: Any) -> Any:
    """What a stored value is looked up by, or None when no answerable condition equals it."""
    if isinstance(value, str | bool | int):
        return value
    if isinstance(value, float) and math.isfinite(value):
        return value
    return None


def equalities(filter_: Mapping[str, Any] | None) -> list[Equality] | None:
    """The filter as (field, value) equalities, or None when it is not only equalities on plain
    top-level keys with a string, number or boolean."""
    if not filter_:
        return None
    found: list[Equality] = []
    for field, condition in filter_.items():
        if isinstance(condition, dict) and set(condition) == {"$eq"}:
            condition = condition["$eq"]
        if filters.json_path(field) is None or _key(condition) is None:
            return None
        found.append((field, condition))
    return found


class _Field:
    __slots__ = ("codes", "values")

    def __init__(self, size: int) -> None:
        self.codes = np.zeros(size, dtype=np.uint8)
        self.values: dict[Any, int] = {}

    def code(self, value: Any) -> int:
        key = _key(value)
        if key is None:
            return 0
        code = self.values.get(key)
        if code is None:
            if len(self.values) >= MAX_VALUES:
                raise TooManyValues
            code = self.values[key] = len(self.values) + 1
        return code

    def set(self, ids: np.ndarray, codes: int | np.ndarray) -> None:
        if not len(ids):
            return
        top = int(ids.max())
        if top >= len(self.codes):
            grown = np.zeros(max(top + 1, int(len(self.codes) * GROWTH)), dtype=np.uint8)
            grown[: len(self.codes)] = self.codes
            self.codes = grown
        self.codes[ids] = codes


class ValuePostings:
    """field -> the code of each item's value; see the module docstring."""

    def __init__(self) -> None:
        self._fields: dict[str, _Field] = {}
        self._refused: set[str] = set()  # too many values (or undecodable ones): never indexed
        # Fields being built: the writes committed since recording began, replayed on the build.
        self._pending: dict[str, list[tuple[Decoded, list[int]]]] = {}
        self._lock = threading.Lock()

    def memory_bytes(self) -> int:
        return sum(f.codes.nbytes for f in self._fields.values())

    def indexed(self) -> list[str]:
        return list(self._fields)

    def to_build(self, wanted: Sequence[Equality]) -> list[str]:
        """The fields of `wanted` that are neither indexed, being built nor refused, now marked as
        being built (the caller builds them: `build`). Writes are recorded for them from now on."""
        with self._lock:
            fields = [f for f, _ in wanted if f not in self._fields and f not in self._pending]
            fields = [f for f in dict.fromkeys(fields) if f not in self._refused]
            fields = fields[: max(0, MAX_FIELDS - len(self._fields) - len(self._pending))]
            for field in fields:
                self._pending[field] = []
            return fields

    def build(self, field: str, groups: Iterable[tuple[str | None, np.ndarray]] | None) -> bool:
        """Index `field` from one snapshot's (value's JSON text or None when missing, ids) groups,
        read after `to_build` named it (None: more groups than were read). False when it has too
        many values, or one msgspec cannot decode (the field is then refused)."""
        built: _Field | None = None
        try:
            if groups is not None:
                built = _Field(0)
                for text, ids in groups:
                    built.set(ids, 0 if text is None else built.code(msgspec.json.decode(text)))
        except (TooManyValues, msgspec.DecodeError):
            built = None
        with self._lock:
            pending = self._pending.pop(field, [])
            if built is not None:
                try:
                    for values, deleted in pending:
                        _apply_to(built, field, values, deleted)
                except TooManyValues:
                    built = None
            if built is None:
                self._refused.add(field)
                return False
            self._fields[field] = built
            return True

    def abandon(self, field: str) -> None:
        """A build that failed: the field may be tried again by a later filter."""
        with self._lock:
            self._pending.pop(field, None)

    def apply(self, values: Sequence[tuple[int, bytes | str]], deleted: Sequence[int]) -> None:
        """A committed batch: the (id, value JSON) of each item written, and the ids deleted."""
        if not self._fields and not self._pending:
            return  # no field indexed: writes cost nothing (a fill without filtered searches)
        try:
            decoded: Decoded = [(item_id, msgspec.json.decode(text)) for item_id, text in values]
        except msgspec.DecodeError:
            decoded = [(item_id, _decoded_or_none(text)) for item_id, text in values]
        with self._lock:
            for pending in self._pending.values():
                pending.append((decoded, list(deleted)))
            for field in list(self._fields):
                try:
                    _apply_to(self._fields[field], field, decoded, deleted)
                except TooManyValues:
                    del self._fields[field]
                    self._refused.add(field)

    def ids(self, wanted: Sequence[Equality]) -> np.ndarray | None:
        """The ids of the items whose values equal every one of `wanted`, ascending; None when a
        field is not indexed (yet)."""
        with self._lock:
            built = [self._fields.get(field) for field, _ in wanted]
            if any(f is None for f in built):
                return None
            first = built[0]
            if len(built) == 1 and first is not None:
                # One field (the common case): the vector core's `positions_of`, where numpy's
                # flatnonzero took 1.9 ms at 1M items for a field whose values are scattered.
                code = first.values.get(wanted[0][1])
                return np.empty(0, dtype=np.int64) if code is None else vec.positions_of(first.codes, code)
            mask: np.ndarray | None = None
            for f, (_, value) in zip(built, wanted, strict=True):
                assert f is not None
                code = f.values.get(value)
                if code is None:
                    return np.empty(0, dtype=np.int64)
                size = len(f.codes) if mask is None else min(len(mask), len(f.codes))
                passing = f.codes[:size] == code
                mask = passing if mask is None else mask[:size] & passing
            assert mask is not None
            return np.flatnonzero(mask).astype(np.int64)


def _decoded_or_none(text: bytes | str) -> Any:
    """A value the filter's SQL function could not decode either: it matches no condition."""
    try:
        return msgspec.json.decode(text)
    except msgspec.DecodeError:
        return None


def _apply_to(built: _Field, field: str, decoded: Decoded, deleted: Sequence[int]) -> None:
    if deleted:
        built.set(np.asarray(deleted, dtype=np.int64), 0)
    if decoded:
        ids = np.fromiter((item_id for item_id, _ in decoded), dtype=np.int64, count=len(decoded))
        codes = [built.code(value.get(field)) if isinstance(value, dict) else 0 for _, value in decoded]
        built.set(ids, np.array(codes, dtype=np.uint8))
