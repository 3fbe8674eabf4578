"""`aegra db export`: everything of one database into one file (see `codec.py` for the format).

The records go to a temporary file first, because the header that leads the file carries the counts;
the finished file then replaces FILE in one rename, so an interrupted export never leaves a file that
looks complete.
"""

from __future__ import annotations

import os
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

from aegra import __version__
from aegra.cli.transfer.backend import Backend
from aegra.cli.transfer.codec import FORMAT, FORMAT_VERSION, HEADER, dump_line, open_text
from aegra.cli.transfer.progress import progress_bar
from aegra.cli.transfer.records import CHECKPOINT, KINDS, STORE_ITEM, TABLES, checkpoint_record, row_record
from aegra.cli.transfer.store_io import read_items


async def export_database(backend: Backend, path: Path) -> dict[str, int]:
    """Write the file; returns the number of records of each kind (and of pending writes)."""
    body = path.with_name(f".{path.name}.records.tmp")
    finished = path.with_name(f".tmp.{path.name}")  # same ending: `.gz` decides the compression
    try:
        with body.open("w", encoding="utf-8") as out:
            counts = await _write_records(backend, out)
        header = {
            "kind": HEADER,
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "aegra_version": __version__,
            "source_backend": backend.name,
            "exported_at": datetime.now(UTC).isoformat(),
            "counts": counts,
        }
        with open_text(finished, "w") as out, body.open(encoding="utf-8") as records:
            out.write(dump_line(header))
            shutil.copyfileobj(records, out)
        os.replace(finished, path)
    finally:
        body.unlink(missing_ok=True)
        finished.unlink(missing_ok=True)
    return counts


async def _write_records(backend: Backend, out: IO[str]) -> dict[str, int]:
    counts = dict.fromkeys(KINDS, 0)
    counts["pending_writes"] = 0
    for table in TABLES:
        with progress_bar(f"{table.name:<20}", await backend.count_rows(table)) as bar:
            async for row in backend.rows(table):
                out.write(dump_line(row_record(table, row)))
                counts[table.name] += 1
                bar.update(1)
    serde = backend.saver.serde
    thread_ids = await backend.checkpoint_thread_ids()
    with progress_bar(f"{'checkpoints (threads)':<20}", len(thread_ids)) as bar:
        for thread_id in thread_ids:
            saved = [found async for found in backend.saver.alist({"configurable": {"thread_id": thread_id}})]
            # Oldest first, so that a parent is always loaded before its children.
            for checkpoint in reversed(saved):
                record = checkpoint_record(serde, checkpoint)
                out.write(dump_line(record))
                counts[CHECKPOINT] += 1
                counts["pending_writes"] += len(record["writes"])
            bar.update(1)
    items = await read_items(backend.store)
    with progress_bar(f"{'store items':<20}", len(items)) as bar:
        for item in items:
            out.write(dump_line(item.to_record()))
            counts[STORE_ITEM] += 1
            bar.update(1)
    return counts
