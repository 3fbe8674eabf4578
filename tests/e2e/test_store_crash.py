"""A kill -9 in the middle of a fill of the store loses no acknowledged item: after a restart every
put the server answered 204 to is there, with its vector (a semantic search finds it), on SQLite
(items, vectors and code records in one transaction; the index reloaded from the file) and on
PostgreSQL (pgvector)."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

import httpx
import pytest
from langgraph_sdk import get_client

from tests.support.postgres import create_database, pgvector_server
from tests.support.projects import write_project
from tests.support.server import granian_server

REPO = Path(__file__).resolve().parents[2]
EMBED_FILE = """
from tests.support.tiny_model import embed as _embed


def embed(texts):
    return _embed(texts)
"""
WRITERS = 8


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def test_a_crash_during_a_fill_loses_no_acknowledged_item(
    tmp_path: Path, backend: str, request: pytest.FixtureRequest
) -> None:
    if backend == "sqlite":
        url = f"sqlite:///{tmp_path / 'fill.db'}"
    else:
        url = create_database(pgvector_server(request.config))
    store = {"index": {"embed": "./embed.py:embed", "dims": 32, "fields": ["text"]}}
    write_project(tmp_path, {"graphs": {"agent": "./graph.py:graph"}, "store": store})
    (tmp_path / "embed.py").write_text(EMBED_FILE)
    env = {"PYTHONPATH": str(REPO), "DATABASE_URL": url}
    acknowledged: list[int] = []
    enough = asyncio.Event()
    with granian_server(tmp_path, env) as server:

        async def writer(worker: int, http: httpx.AsyncClient) -> None:
            for n in range(worker, 100_000, WRITERS):
                body = {"namespace": ["fill", str(n)], "key": "item", "value": {"text": f"note {n} word{n}"}}
                try:
                    response = await http.put("/store/items", json=body)
                except httpx.HTTPError:
                    return  # the server is gone: this put was not acknowledged
                if response.status_code != 204:
                    return
                acknowledged.append(n)
                if len(acknowledged) >= 300:
                    enough.set()

        async with httpx.AsyncClient(base_url=server.url, timeout=10) as http:
            tasks = [asyncio.create_task(writer(w, http)) for w in range(WRITERS)]
            await asyncio.wait_for(enough.wait(), timeout=120)
            server.kill()  # with puts in flight
            for task in tasks:
                with contextlib.suppress(Exception):
                    await task
    assert len(acknowledged) >= 300

    with granian_server(tmp_path, env) as server:
        client = get_client(url=server.url)
        for n in acknowledged:
            item = await client.store.get_item(["fill", str(n)], "item")
            assert item is not None and item["value"]["text"] == f"note {n} word{n}", n
        for n in acknowledged[::7]:  # the vector too: its namespace holds one item, found by meaning
            found = await client.store.search_items(["fill", str(n)], query=f"note {n} word{n}", limit=1)
            assert [i["key"] for i in found["items"]] == ["item"]
            assert found["items"][0]["score"] == pytest.approx(1.0, abs=1e-5), n
