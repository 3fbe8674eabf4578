"""Reading run streams in tests: the SDK's stream parts, and raw SSE bodies as the server frames them."""

from __future__ import annotations

import json
from typing import Any


async def collect(stream: Any) -> list[tuple[str, Any]]:
    """(event, data) of every part of a langgraph-sdk stream."""
    return [(part.event, part.data) async for part in stream]


def sse_frames(body: str) -> list[dict[str, str]]:
    """The fields (id, event, data) of each frame of an SSE body, as the server framed it (CRLF)."""
    frames = [dict(line.split(": ", 1) for line in frame.split("\r\n") if ": " in line)
              for frame in body.split("\r\n\r\n")]  # fmt: skip
    return [frame for frame in frames if "event" in frame]


def sse_events(body: str) -> list[tuple[str, Any]]:
    return [(frame["event"], json.loads(frame["data"])) for frame in sse_frames(body)]
