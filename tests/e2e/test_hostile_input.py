"""Hostile input gets a clear 4xx `{"detail": "..."}` and changes nothing (SQLite and PostgreSQL).

Each case here answered 500 once (found by fuzzing): JSON nested hundreds of levels deep,
integers beyond 64 bits, floats like 1e308 where a duration goes, a NUL in a filter key; and a
metadata key with a backslash was stored but never found again.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from tests.support.server import RunningServer


@pytest.fixture
async def http(server: RunningServer) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=server.url, timeout=60) as client:
        yield client


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


def refused(response: httpx.Response) -> str:
    """The `detail` of a 4xx answer (the test fails on anything else)."""
    assert 400 <= response.status_code < 500, (response.status_code, response.text[:300])
    body = response.json()
    assert set(body) == {"detail"} and isinstance(body["detail"], str), body
    return body["detail"]


async def count(http: httpx.AsyncClient, mark: str) -> int:
    return int((await http.post("/threads/count", json={"metadata": {"mark": mark}})).json())


@pytest.mark.parametrize("depth", [65, 480, 5000])
async def test_deeply_nested_json_is_refused(http: httpx.AsyncClient, depth: int) -> None:
    mark = str(uuid.uuid4())
    body = '{"metadata": {"mark": "%s", "deep": %s}}' % (mark, nested(depth))  # noqa: UP031
    assert "nested" in refused(await http.post("/threads", content=body))
    assert await count(http, mark) == 0
    search = '{"metadata": {"deep": %s}}' % nested(depth)  # noqa: UP031
    refused(await http.post("/threads/search", content=search))
    run = '{"assistant_id": "agent", "input": {"messages": %s}}' % nested(depth)  # noqa: UP031
    refused(await http.post("/runs/wait", content=run))


async def test_json_as_deep_as_allowed_is_kept(http: httpx.AsyncClient) -> None:
    deep: Any = "bottom"
    for _ in range(60):
        deep = {"d": deep}
    thread = (await http.post("/threads", json={"metadata": {"deep": deep}})).json()
    assert (await http.get(f"/threads/{thread['thread_id']}")).json()["metadata"]["deep"] == deep
    # Filters nest less deep (on SQLite each level multiplies the work of building the query).
    assert "filters" in refused(await http.post("/threads/search", json={"metadata": {"deep": deep}}))


@pytest.mark.parametrize("number", [2**63, -(2**63) - 1, 10**30])
async def test_integers_beyond_64_bits_are_refused(http: httpx.AsyncClient, number: int) -> None:
    mark = str(uuid.uuid4())
    assert "64 bits" in refused(await http.post("/threads", json={"metadata": {"mark": mark, "n": number}}))
    assert await count(http, mark) == 0
    refused(await http.post("/threads/search", json={"metadata": {"n": number}}))
    refused(await http.post("/threads/search", json={"offset": number}))
    refused(await http.post("/assistants/search", json={"offset": number}))
    refused(await http.post("/store/items/search", json={"offset": number}))
    thread = (await http.post("/threads", json={})).json()["thread_id"]
    refused(await http.get(f"/threads/{thread}/runs", params={"offset": str(number)}))


async def test_the_largest_64_bit_integers_work(http: httpx.AsyncClient) -> None:
    mark = str(uuid.uuid4())
    for number in (2**63 - 1, -(2**63)):
        created = await http.post("/threads", json={"metadata": {"mark": mark, "n": number}})
        assert created.status_code == 200, created.text
        found = (await http.post("/threads/search", json={"metadata": {"mark": mark, "n": number}})).json()
        assert [t["metadata"]["n"] for t in found] == [number]


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/runs", {"assistant_id": "agent", "input": {}, "after_seconds": 1e308}),
        ("POST", "/threads", {"ttl": 1e308}),
        ("POST", "/threads", {"ttl": {"ttl": 1e300, "strategy": "delete"}}),
        ("PUT", "/store/items", {"namespace": ["hostile"], "key": "k", "value": {}, "ttl": 1e308}),
    ],
)
async def test_huge_durations_are_refused(http: httpx.AsyncClient, method: str, path: str, body: Any) -> None:
    refused(await http.request(method, path, json=body))
    if path == "/store/items":
        assert (await http.get("/store/items", params={"namespace": "hostile", "key": "k"})).json() is None


async def test_nul_characters_are_refused(http: httpx.AsyncClient) -> None:
    mark = str(uuid.uuid4())
    assert "NUL" in refused(await http.post("/threads/search", json={"metadata": {"a\u0000b": 1}}))
    refused(await http.post("/threads", json={"metadata": {"mark": mark, "a\u0000b": 1}}))
    refused(await http.post("/threads", json={"metadata": {"mark": mark, "v": "a\u0000b"}}))
    refused(await http.post("/assistants/search", json={"metadata": {"k": "\u0000"}}))
    assert await count(http, mark) == 0


@pytest.mark.parametrize("key", ["back\\slash", "é", "tab\tkey", "dot.key", "nul-free \\u0000 text"])
async def test_unusual_metadata_keys_are_found_by_filters(http: httpx.AsyncClient, key: str) -> None:
    mark = str(uuid.uuid4())
    thread = (await http.post("/threads", json={"metadata": {"mark": mark, key: "v"}})).json()
    found = (await http.post("/threads/search", json={"metadata": {"mark": mark, key: "v"}})).json()
    assert [t["thread_id"] for t in found] == [thread["thread_id"]]
    assert (await http.post("/threads/count", json={"metadata": {key: "v", "mark": mark}})).json() == 1


async def test_the_state_at_an_unknown_checkpoint_is_not_found(http: httpx.AsyncClient) -> None:
    thread = (await http.post("/threads", json={})).json()["thread_id"]
    await http.post(f"/threads/{thread}/runs/wait", json={"assistant_id": "agent", "input": {"messages": []}})
    unknown = str(uuid.uuid4())
    assert "not found" in refused(await http.get(f"/threads/{thread}/state/{unknown}"))
    assert (await http.get(f"/threads/{thread}/state/{unknown}")).status_code == 404
    at = await http.post(f"/threads/{thread}/state/checkpoint", json={"checkpoint": {"checkpoint_id": unknown}})
    assert at.status_code == 404
    assert (await http.get(f"/threads/{thread}/state")).status_code == 200
