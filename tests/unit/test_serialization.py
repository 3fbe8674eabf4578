"""JSON encoding of what graphs and services put in responses."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import UTC, datetime

import msgspec
import pytest
from langchain_core.messages import AIMessage, HumanMessage
from langgraph.types import Interrupt

from aegra.serialization import dumps, dumps_lenient


@dataclasses.dataclass
class Point:
    x: int
    y: int


def test_messages_models_dataclasses_uuids_and_datetimes() -> None:
    ident = uuid.UUID("12345678-1234-5678-1234-567812345678")
    when = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    payload = {
        "messages": [HumanMessage(content="hi", id="h1"), AIMessage(content="yo", id="a1")],
        "point": Point(1, 2),
        "id": ident,
        "at": when,
        "tags": {"a"},
        "interrupt": Interrupt(value={"q": 1}, id="i1"),
    }
    decoded = msgspec.json.decode(dumps(payload))
    assert decoded["messages"][0]["type"] == "human" and decoded["messages"][1]["content"] == "yo"
    assert decoded["point"] == {"x": 1, "y": 2}
    assert decoded["id"] == str(ident) and decoded["at"] == "2026-01-02T03:04:05Z"
    assert decoded["tags"] == ["a"]
    assert decoded["interrupt"]["value"] == {"q": 1} and decoded["interrupt"]["id"] == "i1"


def test_unknown_objects_fail_loudly_in_responses_but_not_in_run_streams() -> None:
    class Opaque:
        def __repr__(self) -> str:
            return "<opaque>"

    with pytest.raises(TypeError, match="Opaque"):
        dumps({"x": Opaque()})
    assert msgspec.json.decode(dumps_lenient({"x": Opaque()})) == {"x": "<opaque>"}
