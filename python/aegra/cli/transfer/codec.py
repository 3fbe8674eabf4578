"""The export file: JSON Lines, gzip-compressed when the name ends in `.gz`.

The first line is the header (format, version, where the data came from, how many records of each
kind follow); every other line is one record with a `kind`. Checkpoints and pending writes hold
arbitrary Python objects (LangChain messages, Pydantic models...), so they travel as LangGraph's
serde `dumps_typed` output: the type tag plus the bytes in base64, which `loads_typed` restores exactly.
"""

from __future__ import annotations

import base64
import gzip
import json
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from datetime import datetime
from pathlib import Path
from typing import IO, Any, cast

from langgraph.checkpoint.serde.base import SerializerProtocol

FORMAT = "aegra-export"
# Bump on any change an older `aegra db import` could misread; import refuses versions it does not know.
FORMAT_VERSION = 1
HEADER = "header"


class TransferError(Exception):
    """A problem with the file or the target database; the message is meant for the user as it is."""


@contextmanager
def open_text(path: Path, mode: str) -> Iterator[IO[str]]:
    """`path` for reading ("r") or writing ("w") as UTF-8 text; gzip when it ends in `.gz`."""
    if path.name.endswith(".gz"):
        with cast(IO[str], gzip.open(path, mode + "t", encoding="utf-8")) as file:
            yield file
    else:
        with path.open(mode, encoding="utf-8") as file:
            yield file


def dump_line(record: dict[str, Any]) -> str:
    # ensure_ascii=False keeps the file readable; separators without spaces keep it small.
    return json.dumps(record, ensure_ascii=False, separators=(",", ":"), default=_json_default) + "\n"


def load_line(line: str, number: int) -> dict[str, Any]:
    try:
        record = json.loads(line)
    except json.JSONDecodeError as exc:
        raise TransferError(f"line {number}: not JSON ({exc.msg}); is this an `aegra db export` file?") from None
    if not isinstance(record, dict) or not isinstance(record.get("kind"), str):
        raise TransferError(f"line {number}: a record must be a JSON object with a `kind`")
    return record


def check_header(line: str) -> dict[str, Any]:
    """The header's fields, after refusing other files and format versions this Aegra cannot read."""
    try:
        record = json.loads(line)
    except json.JSONDecodeError:
        record = None
    if not isinstance(record, dict) or record.get("kind") != HEADER or record.get("format") != FORMAT:
        raise TransferError("the file does not start with an `aegra db export` header")
    version = record.get("format_version")
    if version != FORMAT_VERSION:
        raise TransferError(
            f"the file has export format version {version!r}, but this Aegra reads version {FORMAT_VERSION} only "
            f"(it was written by Aegra {record.get('aegra_version', '?')}); import it with a matching Aegra"
        )
    if not isinstance(record.get("counts"), dict):
        raise TransferError("the file's header has no `counts`")
    return record


def pack(serde: SerializerProtocol, value: Any) -> dict[str, str]:
    type_, data = serde.dumps_typed(value)
    return {"type": type_, "data": base64.b64encode(data).decode("ascii")}


def unpack(serde: SerializerProtocol, packed: dict[str, str]) -> Any:
    return serde.loads_typed((packed["type"], base64.b64decode(packed["data"])))


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    raise TypeError(f"cannot write {type(value).__name__} to an export file")


@contextmanager
def open_export(path: Path) -> Iterator[tuple[dict[str, Any], Iterator[dict[str, Any]]]]:
    """The checked header and an iterator over the records after it."""
    with ExitStack() as stack:
        with _reading(path):
            file = stack.enter_context(open_text(path, "r"))
            first = file.readline()
        if not first:
            raise TransferError(f"{path} is empty")
        yield check_header(first), _records(file, path)


def _records(file: IO[str], path: Path) -> Iterator[dict[str, Any]]:
    # Read errors are caught here, not around the caller's `with` body: its own errors are no file problem.
    with _reading(path):
        for number, line in enumerate(file, start=2):
            if line.strip():
                yield load_line(line, number)


@contextmanager
def _reading(path: Path) -> Iterator[None]:
    try:
        yield
    except (OSError, EOFError, UnicodeDecodeError) as exc:
        # gzip.BadGzipFile is an OSError; a truncated .gz ends in EOFError.
        raise TransferError(f"cannot read {path}: {exc}") from None
