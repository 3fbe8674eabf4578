"""Comparing what the official server and Aegra answered: normalization, differences, and the one
list of deliberate differences (docs/compatibility.md).

Normalization masks what legitimately varies between two servers given the same calls: ids (a
UUID the test named becomes `<thread>`, `<run:1>`..., any other UUID `<uuid>`), timestamps
(`<time>`), and a few values that name the server rather than the answer (its URL, versions,
request ids, timing). Everything else must be equal, or match a row of the deliberate-differences
table, whose first column is a glob over `<observation>:<path>`.
"""

from __future__ import annotations

import difflib
import fnmatch
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DOC = Path(__file__).resolve().parents[2] / "docs" / "compatibility.md"

UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
# Interrupt ids: a hash of the checkpoint namespace, which holds task ids derived from checkpoint ids.
HEX_ID = re.compile(r"^[0-9a-f]{32}$")
TIME = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:?\d{2})?$")
# Keys whose values describe the server or the moment, not the answer: compared for presence only.
MASKED_KEYS = frozenset(
    {
        "langgraph_api_url",
        "langgraph_api_version",
        "langgraph_version",
        "langgraph_request_id",
        "__request_start_time_ms__",
        "created_at",
        "updated_at",
        "state_updated_at",
        "run_started_at",
        "run_ended_at",
        "next_run_date",
        "expires_at",
        "webhook_sent_at",
        "ls_run_id",
    }
)
ABSENT = "<absent>"


class Names:
    """The ids one server gave the test's resources, by the name the test uses for them."""

    def __init__(self) -> None:
        self._names: dict[str, str] = {}

    def add(self, value: Any, name: str) -> None:
        if value is not None:
            self._names.setdefault(str(value).lower(), name)

    def sub(self, text: str) -> str:
        return UUID.sub(lambda m: f"<{self._names.get(m.group(0).lower(), 'uuid')}>", text)


def normalize(value: Any, names: Names) -> Any:
    if isinstance(value, dict):
        return {
            names.sub(str(k)): "<masked>" if k in MASKED_KEYS and v is not None else normalize(v, names)
            for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return [normalize(v, names) for v in value]
    if isinstance(value, str):
        if TIME.match(value):
            return "<time>"
        if HEX_ID.match(value):
            return "<hex-id>"
        return names.sub(value)
    return value


def shape(value: Any) -> Any:
    """The JSON shape of an error body: keys and types, not the words."""
    if isinstance(value, dict):
        return {k: shape(v) for k, v in value.items()}
    if isinstance(value, list):
        return [shape(v) for v in value]
    return type(value).__name__


@dataclass(frozen=True)
class Difference:
    where: str  # `<observation>:<path>`
    official: Any
    aegra: Any

    def __str__(self) -> str:
        return f"{self.where}\n    official: {_short(self.official)}\n    aegra:    {_short(self.aegra)}"


def _short(value: Any) -> str:
    text = json.dumps(value, default=str, sort_keys=True)
    return text if len(text) <= 400 else text[:400] + "..."


def _canon(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


def is_error(value: Any) -> bool:
    """An error answer as the scenarios record it: `{"status": >= 400 or "no response", "body"}`."""
    if not isinstance(value, dict) or set(value) != {"status", "body"}:
        return False
    status = value["status"]
    return status == "no response" or (isinstance(status, int) and status >= 400)


def differences(observation: str, official: Any, aegra: Any, path: str = "") -> list[Difference]:
    if is_error(official) != is_error(aegra):
        # An error on one side and an answer on the other is one difference, not one per field.
        return [Difference(f"{observation}:{path}", official, aegra)]
    if isinstance(official, dict) and isinstance(aegra, dict):
        found = []
        for key in sorted({*official, *aegra}, key=str):
            sub = f"{path}.{key}" if path else str(key)
            found += differences(observation, official.get(key, ABSENT), aegra.get(key, ABSENT), sub)
        return found
    if isinstance(official, list) and isinstance(aegra, list):
        return _list_differences(observation, official, aegra, path)
    if _canon(official) == _canon(aegra):
        return []
    return [Difference(f"{observation}:{path}", official, aegra)]


def _list_differences(observation: str, official: list[Any], aegra: list[Any], path: str) -> list[Difference]:
    """Lists are aligned first (an extra event in a stream is one difference, not a shifted tail)."""
    matcher = difflib.SequenceMatcher(a=[_canon(v) for v in official], b=[_canon(v) for v in aegra], autojunk=False)
    found: list[Difference] = []
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            continue
        paired = min(i2 - i1, j2 - j1)
        for k in range(paired):
            found += differences(observation, official[i1 + k], aegra[j1 + k], f"{path}[{i1 + k}]")
        for k in range(i1 + paired, i2):
            found.append(Difference(f"{observation}:{path}[{k}]", official[k], ABSENT))
        for k in range(j1 + paired, j2):
            found.append(Difference(f"{observation}:{path}[{k}]", ABSENT, aegra[k]))
    return found


# -- the deliberate differences ------------------------------------------------------------------


@dataclass(frozen=True)
class Deliberate:
    pattern: str  # glob over `<observation>:<path>`
    what: str
    why: str

    def matches(self, where: str) -> bool:
        # Only `*` and `?` are wildcards: the `[i]` of list paths is literal.
        return fnmatch.fnmatchcase(where, self.pattern.replace("[", "[[]"))


_ROW = re.compile(r"^\|\s*`([^`]+)`\s*\|(.*)\|(.*)\|\s*$")


def deliberate_differences(doc: Path = DOC) -> list[Deliberate]:
    """The rows of docs/compatibility.md's tables whose first cell is a backticked pattern."""
    rows = []
    for line in doc.read_text().splitlines():
        match = _ROW.match(line.strip())
        if match:
            pattern, what, why = (part.strip() for part in match.groups())
            if not why:
                raise ValueError(f"{doc}: deliberate difference {pattern!r} gives no reason")
            rows.append(Deliberate(pattern, what, why))
    if not rows:
        raise ValueError(f"{doc} lists no deliberate differences: the table could not be read")
    return rows


def unexplained(found: list[Difference], deliberate: list[Deliberate]) -> list[Difference]:
    return [d for d in found if not any(entry.matches(d.where) for entry in deliberate)]
