"""`aegra db import`: load an export file into the configured database, then check it all arrived.

Three passes over the file: (1) read every record's key and check the counts against the header
(a truncated file is refused before anything is written); (2) look the keys up in the target: any
already there is a conflict, refused unless `skip_existing`, in which case those records are left
out; (3) load. Afterwards every key of the file must be present in the target.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from itertools import groupby
from pathlib import Path
from typing import Any

from aegra.cli.transfer.backend import Backend
from aegra.cli.transfer.codec import TransferError, open_export
from aegra.cli.transfer.progress import progress_bar
from aegra.cli.transfer.records import (
    CHECKPOINT,
    KINDS,
    STORE_ITEM,
    TABLES_BY_KIND,
    CheckpointToLoad,
    Key,
    StoredItem,
    checkpoint_key,
    row_key,
    row_values,
    store_item_key,
)
from aegra.cli.transfer.store_io import read_items, write_items

# Rows per INSERT and items per store batch: big enough to be quick, small enough to keep transactions short.
BATCH = 200


@dataclass
class ImportReport:
    header: dict[str, Any]
    in_file: dict[str, int]
    skipped: dict[str, int] = field(default_factory=dict)

    def imported(self, kind: str) -> int:
        return self.in_file[kind] - self.skipped.get(kind, 0)


async def import_file(backend: Backend, path: Path, *, skip_existing: bool) -> ImportReport:
    scan = _scan(path)
    keys = scan.keys
    existing = await _present(backend, keys)
    conflicts = {kind: found - scan.server_defaults(kind, found) for kind, found in existing.items()}
    conflicts = {kind: found for kind, found in conflicts.items() if found}
    if conflicts and not skip_existing:
        raise TransferError(_conflict_message(conflicts, backend))
    report = ImportReport(scan.header, {kind: len(keys[kind]) for kind in KINDS})
    report.skipped = {kind: len(found) for kind, found in existing.items() if found}
    await _load(backend, path, existing, total=sum(report.imported(kind) for kind in KINDS))
    missing = {kind: keys[kind] - found for kind, found in (await _present(backend, keys)).items()}
    if any(missing.values()):
        lost = ", ".join(f"{len(found)} {kind}" for kind, found in missing.items() if found)
        raise TransferError(f"after the import, the target lacks {lost} of the file's records")
    return report


@dataclass
class _Scan:
    header: dict[str, Any]
    keys: dict[str, set[Key]]
    system_assistant_ids: set[str]

    def server_defaults(self, kind: str, found: set[Key]) -> set[Key]:
        """The keys of `found` that are the default assistants every Aegra server creates (one per graph,
        with the same id everywhere): a target that has run a server holds them already, and that is no conflict.
        """
        if kind not in ("assistants", "assistant_versions"):
            return set()
        return {key for key in found if key[0] in self.system_assistant_ids}


def _scan(path: Path) -> _Scan:
    scan = _Scan({}, {kind: set() for kind in KINDS}, set())
    records: dict[str, int] = dict.fromkeys(KINDS, 0)
    with open_export(path) as (header, lines):
        scan.header = header
        for record in lines:
            kind = _kind(record)
            scan.keys[kind].add(_key(record))
            records[kind] += 1
            if kind == "assistants" and (record["data"].get("metadata") or {}).get("created_by") == "system":
                scan.system_assistant_ids.add(record["data"]["assistant_id"])
    for kind in KINDS:
        expected = header["counts"].get(kind, 0)
        if records[kind] != expected:
            raise TransferError(
                f"{path} is incomplete or altered: its header announces {expected} {kind} records, "
                f"but it holds {records[kind]}; nothing was imported"
            )
        if len(scan.keys[kind]) != records[kind]:
            raise TransferError(f"{path} holds the same {kind} record more than once; nothing was imported")
    return scan


def _kind(record: dict[str, Any]) -> str:
    if record["kind"] not in KINDS:
        raise TransferError(f"unknown record kind {record['kind']!r} (known: {', '.join(KINDS)})")
    return str(record["kind"])


def _key(record: dict[str, Any]) -> Key:
    kind = record["kind"]
    if kind == CHECKPOINT:
        return checkpoint_key(record)
    if kind == STORE_ITEM:
        return store_item_key(record["namespace"], record["key"])
    return row_key(TABLES_BY_KIND[kind], record["data"])


async def _present(backend: Backend, keys: dict[str, set[Key]]) -> dict[str, set[Key]]:
    """Which of the file's keys the target already holds, by kind."""
    present: dict[str, set[Key]] = {}
    for kind, table in TABLES_BY_KIND.items():
        present[kind] = keys[kind] & await backend.row_keys(table)
    thread_ids = {key[0] for key in keys[CHECKPOINT]}
    present[CHECKPOINT] = keys[CHECKPOINT] & await backend.checkpoint_keys(thread_ids)
    present[STORE_ITEM] = keys[STORE_ITEM] & {item.item_key for item in await read_items(backend.store)}
    return present


def _conflict_message(conflicts: dict[str, set[Key]], backend: Backend) -> str:
    found = ", ".join(f"{len(keys)} {kind}" for kind, keys in conflicts.items())
    kind, keys = next(iter(conflicts.items()))
    example = "/".join(str(part) for part in sorted(keys)[0] if part != "\0")
    return (
        f"{backend.settings.describe()} already holds records the file has ({found}; e.g. {kind} {example}). "
        "Nothing was imported. Import into an empty database, or pass --skip-existing to keep the "
        "target's copies and import the rest"
    )


async def _load(backend: Backend, path: Path, skip: dict[str, set[Key]], total: int) -> None:
    with open_export(path) as (_, lines), progress_bar("importing", total) as bar:
        for kind, group in groupby(_without(lines, skip), key=lambda record: record["kind"]):
            for batch in _batches(group, BATCH):
                await _load_batch(backend, kind, batch)
                bar.update(len(batch))


def _without(lines: Iterator[dict[str, Any]], skip: dict[str, set[Key]]) -> Iterator[dict[str, Any]]:
    for record in lines:
        if _key(record) not in skip.get(record["kind"], ()):
            yield record


def _batches(records: Iterator[dict[str, Any]], size: int) -> Iterator[list[dict[str, Any]]]:
    batch: list[dict[str, Any]] = []
    for record in records:
        batch.append(record)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


async def _load_batch(backend: Backend, kind: str, batch: list[dict[str, Any]]) -> None:
    if kind == STORE_ITEM:
        await write_items(backend.store, [StoredItem.from_record(record) for record in batch])
    elif kind == CHECKPOINT:
        for record in batch:
            await _put_checkpoint(backend, CheckpointToLoad.from_record(backend.saver.serde, record))
    else:
        table = TABLES_BY_KIND[kind]
        await backend.insert_rows(table, [row_values(table, record["data"]) for record in batch])


async def _put_checkpoint(backend: Backend, loaded: CheckpointToLoad) -> None:
    # Every channel's version counts as new: a PostgreSQL target stores each channel value as a blob
    # per version, and this checkpoint may be the first of the thread it receives with that version.
    versions = loaded.checkpoint["channel_versions"]
    await backend.saver.aput(loaded.config, loaded.checkpoint, loaded.metadata, versions)
    for task_id, writes in loaded.writes_by_task.items():
        await backend.saver.aput_writes(loaded.own_config(), writes, task_id)
