"""Every v1 stream mode, with and without subgraphs, compared event by event per mode."""

from __future__ import annotations

from typing import Any

import pytest

from tests.compat.pair import Pair, Side, by_mode, parts

MODES = ["values", "updates", "messages", "messages-tuple", "custom", "tasks", "checkpoints", "debug", "events"]
CASES = {
    "agent": {"messages": [{"role": "user", "content": "hi there"}]},
    "tool_agent": {"messages": [{"role": "user", "content": "Paris"}]},
    "subgraph_parent": {"topic": "cats"},
    "custom_schema": {"name": "Ann"},
    "slow": {"seconds": 0.1},
    "interrupting": {"request": "deploy"},
}


def _name_events(s: Side, events: list[tuple[str, Any]]) -> None:
    """Name the ids the events introduce (checkpoints, tasks, messages), in the order they appear."""
    for event, data in events:
        mode = event.split("|")[0]
        if mode == "checkpoints" and isinstance(data, dict) and data.get("config"):
            s.new_id(data["config"]["configurable"]["checkpoint_id"], "checkpoint")
        elif mode == "tasks" and isinstance(data, dict) and "input" in data:
            s.new_id(data["id"], "task")


async def _stream(
    s: Side, graph: str, modes: list[str], *, thread: bool = True, subgraphs: bool = False, resumable: bool = False
) -> dict[str, list[Any]]:
    tid = s.name_id((await s.sdk.threads.create())["thread_id"], "thread") if thread else None
    events = await parts(
        s.sdk.runs.stream(
            tid, graph, input=CASES[graph], stream_mode=modes, stream_subgraphs=subgraphs, stream_resumable=resumable
        )
    )
    if events and events[0][0] == "metadata":
        s.name_id(events[0][1]["run_id"], "run")
    _name_events(s, events)
    return by_mode(events)


@pytest.mark.parametrize("graph", sorted(CASES))
async def test_every_mode(pair: Pair, graph: str) -> None:
    async def scenario(s: Side) -> dict[str, Any]:
        modes = [m for m in MODES if m != "events"]
        return {f"stream.{graph}": await _stream(s, graph, modes)}

    await pair.run(scenario)


@pytest.mark.parametrize("mode", MODES)
async def test_each_mode_alone(pair: Pair, mode: str) -> None:
    async def scenario(s: Side) -> dict[str, Any]:
        return {f"stream.{mode}": await _stream(s, "agent", [mode])}

    await pair.run(scenario)


async def test_subgraphs(pair: Pair) -> None:
    async def scenario(s: Side) -> dict[str, Any]:
        modes = ["values", "updates", "custom", "tasks", "checkpoints", "debug"]
        return {"stream.subgraphs": await _stream(s, "subgraph_parent", modes, subgraphs=True)}

    await pair.run(scenario)


async def test_stateless_streams(pair: Pair) -> None:
    async def scenario(s: Side) -> dict[str, Any]:
        return {
            "stream.stateless.values": await _stream(s, "custom_schema", ["values"], thread=False),
            "stream.stateless.messages_tuple": await _stream(s, "agent", ["messages-tuple", "updates"], thread=False),
        }

    await pair.run(scenario)


async def test_default_mode_and_resumable(pair: Pair) -> None:
    async def scenario(s: Side) -> dict[str, Any]:
        tid = s.name_id((await s.sdk.threads.create())["thread_id"], "thread")
        response = await s.http.post(
            f"/threads/{tid}/runs/stream", json={"assistant_id": "custom_schema", "input": {"name": "Ann"}}
        )
        run_path = response.headers.get("content-location", "")
        s.name_id(run_path.rsplit("/", 1)[-1], "run")
        resumable = await s.http.post(
            f"/threads/{tid}/runs/stream",
            json={"assistant_id": "custom_schema", "input": {"name": "Bo"}, "stream_resumable": True},
        )
        s.name_id(resumable.headers.get("content-location", "").rsplit("/", 1)[-1], "run:2")
        return {
            "stream.http.default": {
                "status": response.status_code,
                "content_type": response.headers.get("content-type"),
                "location": response.headers.get("location"),
                "content_location": run_path,
                "frames": _frames(response.text),
            },
            "stream.http.resumable": {"ids": [bool(f.get("id")) for f in _frames(resumable.text)]},
        }

    await pair.run(scenario)


def _frames(body: str) -> list[dict[str, str]]:
    """The fields of each SSE frame (any line ending), data left out (compared elsewhere)."""
    frames = []
    for block in body.replace("\r\n", "\n").split("\n\n"):
        fields = dict(line.split(": ", 1) for line in block.split("\n") if ": " in line and not line.startswith(":"))
        if fields:
            frames.append({k: v for k, v in fields.items() if k != "data"})
    return frames
